/**
 * Reads a topic from the beginning (or from a time) to its current end with a throw-away consumer group. Used by
 * `attune show` and the integration tests to look at what Attune really emitted, and by the dead-letter sink after
 * a crash, from the time its pending produce began, so that the read is bounded by what could have landed since.
 */
import { randomUUID } from 'node:crypto';
import type { StreamClient, InboundRecord } from '../kafka/port.js';
import { TopicReadTimeoutError } from '../errors.js';

export interface ReadOptions {
  /** Read only the records timestamped at or after this time (ms), per partition from the first such offset. */
  sinceMs?: number;
}

export interface ReadRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export async function readTopicToEnd(kafka: StreamClient, topic: string, timeoutMs = 60_000, opts: ReadOptions = {}): Promise<ReadRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, string>;
  let starts = new Map<number, string>();
  try {
    ends = await admin.endOffsets(topic);
    if (opts.sinceMs !== undefined) starts = await admin.offsetsAt(topic, opts.sinceMs);
  } finally {
    await admin.disconnect().catch(() => {});
  }
  const from = (p: number) => Number(starts.get(p) ?? 0);
  const remaining = new Map([...ends].filter(([p, high]) => Number(high) > from(p)));
  const out: ReadRecord[] = [];
  if (remaining.size === 0) return out;
  const consumer = kafka.consumer({ groupId: `attune-reader-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe([topic]);
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  await consumer.run(async (batch) => {
    for (const m of batch.records) {
      const high = remaining.get(batch.partition);
      if (high === undefined || Number(m.offset) >= Number(high)) break;
      if (Number(m.offset) < from(batch.partition)) continue; // fetched before the seek landed
      out.push(toRead(batch.partition, m));
      batch.resolveOffset(m.offset);
      if (Number(m.offset) + 1 >= Number(high)) remaining.delete(batch.partition);
    }
    if (remaining.size === 0) finish();
  }, { partitionsConsumedConcurrently: 1, commitOffsets: false });
  for (const [p, o] of starts) if (remaining.has(p) && Number(o) > 0) consumer.seek(topic, p, o);
  const timer = setTimeout(finish, timeoutMs);
  await finished;
  clearTimeout(timer);
  await consumer.stop().catch(() => {});
  await consumer.disconnect().catch(() => {});
  if (remaining.size > 0) {
    throw new TopicReadTimeoutError(`timed out after ${timeoutMs} ms reading ${topic}: ${remaining.size} partitions not read to the end (is the broker slow or away?)`);
  }
  return out;
}

function toRead(partition: number, m: InboundRecord): ReadRecord {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers)) if (v !== undefined) headers[k] = v.toString();
  return { partition, offset: m.offset, key: m.key ? m.key.toString('utf8') : null, value: m.value, headers };
}
