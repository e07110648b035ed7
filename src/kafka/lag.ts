/** Consumer-group lag of a topic: end offset minus committed offset, summed over partitions. */
import type { StreamAdmin } from './port.js';

export async function groupLag(admin: StreamAdmin, groupId: string, topic: string): Promise<{ lag: number; end: number }> {
  const [ends, committed] = await Promise.all([admin.endOffsets(topic), admin.groupOffsets(groupId, topic)]);
  let lag = 0;
  let end = 0;
  for (const [p, high] of ends) {
    const h = Number(high);
    const c = Number(committed.get(p) ?? -1);
    end += h;
    lag += c < 0 ? h : Math.max(0, h - c);
  }
  return { lag, end };
}

/**
 * Seconds a partition is behind: the age of its oldest unprocessed record (`oldestMs`, its Kafka timestamp) at
 * `now`, 0 when nothing is left to process. Never negative (a producer or broker clock ahead of this one).
 */
export function lagSeconds(records: number, oldestMs: number | null, now: number): number {
  if (records <= 0 || oldestMs === null || !Number.isFinite(oldestMs)) return 0;
  return Math.max(0, (now - oldestMs) / 1000);
}

interface PartitionLag {
  topic: string;
  partition: number;
  records: number;
  oldestMs: number | null;
}

/**
 * The consumer lag of this worker's partitions (attune_consumer_lag_records / _seconds). The batch handler
 * reports where a partition stands after each micro-batch; the age is computed when scraped, so a partition that
 * stopped making progress keeps ageing between batches instead of showing the value of its last one.
 */
export class ConsumerLag {
  private readonly parts = new Map<string, PartitionLag>();

  /**
   * `records` not processed yet, the oldest of them stamped `oldestMs` (null when it is not known: no record
   * fetched yet).
   */
  update(topic: string, partition: number, records: number, oldestMs: number | null): void {
    this.parts.set(`${topic}:${partition}`, { topic, partition, records: Math.max(0, records), oldestMs: records > 0 ? oldestMs : null });
  }

  /** Forgets the partitions of `topic` not in `assigned` (revoked: another worker reports them now). */
  retain(topic: string, assigned: readonly number[]): void {
    const keep = new Set(assigned);
    for (const [k, p] of this.parts) if (p.topic === topic && !keep.has(p.partition)) this.parts.delete(k);
  }

  snapshot(now: number): Array<{ topic: string; partition: number; records: number; seconds: number }> {
    return [...this.parts.values()].map((p) => ({ topic: p.topic, partition: p.partition, records: p.records, seconds: lagSeconds(p.records, p.oldestMs, now) }));
  }
}

/**
 * Where a partition stands once the records before `next` (an index into the fetched `records`) are processed:
 * the records left up to the high watermark, and the timestamp of the oldest of them. When all fetched records
 * are processed but the watermark moved on, the next record's timestamp is not known yet: the last processed
 * record's stands in for it (it is at most that much older, so the age is an upper bound, never a hidden lag).
 */
export function partitionLagAt(records: ReadonlyArray<{ offset: string; timestamp: string }>, next: number, highWatermark: string): { records: number; oldestMs: number | null } {
  if (records.length === 0) return { records: 0, oldestMs: null };
  const nextOffset = next < records.length ? Number(records[next].offset) : Number(records[records.length - 1].offset) + 1;
  const left = Math.max(0, Number(highWatermark) - nextOffset);
  if (left === 0) return { records: 0, oldestMs: null };
  const at = records[Math.min(next, records.length - 1)];
  return { records: left, oldestMs: Number(at.timestamp) };
}
