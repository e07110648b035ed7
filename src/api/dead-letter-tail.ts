/**
 * The latest dead letters: a consumer of the DLQ topic, started once, that begins at the last MAX_LIMIT records of
 * each partition and keeps the newest MAX_LIMIT of each in memory, so a request reads memory, not Kafka (a consumer
 * per request would pay a group join each time). Only the headers are kept — the record's key and value may hold
 * personal data and never leave the DLQ through the API.
 *
 * Its consumer group is this process's own (`<group>-api-<random>`), so it neither takes partitions from the
 * workers nor shares offsets with another API process.
 */
import { randomBytes } from 'node:crypto';
import type { InboundRecord, StreamClient, StreamConsumer } from '../kafka/port.js';
import { MAX_LIMIT } from './schemas.js';
import { ServiceUnavailable, type DeadLetter } from './readers.js';

const header = (r: InboundRecord, name: string): string | null => {
  const v = r.headers[name];
  return v === undefined ? null : v.toString();
};

/** A dead letter as the API shows it: its headers, never its key or value. */
export function toDeadLetter(topic: string, partition: number, r: InboundRecord): DeadLetter {
  const failedAt = Number(header(r, 'attune.failed.at'));
  const srcPartition = header(r, 'attune.source.partition');
  return {
    topic,
    partition,
    offset: r.offset,
    time: Number.isFinite(failedAt) && failedAt > 0 ? failedAt : Number(r.timestamp),
    stage: header(r, 'attune.error.stage'),
    code: header(r, 'attune.error.code'),
    reason: header(r, 'attune.error.message'),
    source: {
      topic: header(r, 'attune.source.topic'),
      partition: srcPartition === null ? null : Number(srcPartition),
      offset: header(r, 'attune.source.offset'),
    },
  };
}

/** Newest first: by time, then by offset within a partition. */
export function newestFirst(a: DeadLetter, b: DeadLetter): number {
  return b.time - a.time || Number(BigInt(b.offset) - BigInt(a.offset)) || a.partition - b.partition;
}

export class DeadLetterTail {
  private readonly byPartition = new Map<number, DeadLetter[]>();
  private consumer: StreamConsumer | null = null;
  private failure: string | null = 'the dead-letter reader is still starting: retry in a few seconds';
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly kafka: StreamClient, private readonly topic: string, private readonly groupId: string) {}

  /**
   * Starts following the topic; on failure (Kafka away, the topic not created yet) it says so on every request and
   * tries again every `retryMs`, so an API started before `attune topics` recovers by itself.
   */
  startWithRetry(retryMs = 30_000, onError: (err: Error) => void = () => {}): void {
    // Slow starts (kafkajs retries a missing topic for a while) are said as such rather than "still starting".
    const slow = setTimeout(() => {
      if (this.failure?.includes('still starting')) this.failure = `the dead-letter topic ${this.topic} could not be read within 10 s: is Kafka up, and were the topics created (attune topics)?`;
    }, 10_000);
    slow.unref();
    this.start().then(() => clearTimeout(slow), async (err: Error) => {
      clearTimeout(slow);
      onError(err);
      await this.closeConsumer();
      if (this.stopped) return;
      this.retry = setTimeout(() => this.startWithRetry(retryMs, onError), retryMs);
      this.retry.unref();
    });
  }

  async start(): Promise<void> {
    try {
      const admin = this.kafka.admin();
      await admin.connect();
      let starts: Map<number, string>;
      let ends: Map<number, string>;
      try {
        [starts, ends] = await Promise.all([admin.startOffsets(this.topic), admin.endOffsets(this.topic)]);
      } finally {
        await admin.disconnect().catch(() => {});
      }
      const c = this.kafka.consumer({ groupId: `${this.groupId}-api-${randomBytes(4).toString('hex')}` });
      this.consumer = c;
      await c.connect();
      await c.subscribe([this.topic]);
      await c.run(async (batch) => {
        const kept = this.byPartition.get(batch.partition) ?? [];
        for (const r of batch.records) {
          kept.push(toDeadLetter(this.topic, batch.partition, r));
          batch.resolveOffset(r.offset);
        }
        this.byPartition.set(batch.partition, kept.slice(-MAX_LIMIT));
      }, { partitionsConsumedConcurrently: 1, commitOffsets: false });
      for (const [p, end] of ends) {
        const from = BigInt(end) - BigInt(MAX_LIMIT);
        const start = BigInt(starts.get(p) ?? '0');
        c.seek(this.topic, p, String(from > start ? from : start));
      }
      this.failure = null;
    } catch (err) {
      this.failure = `the dead-letter topic ${this.topic} cannot be read (${(err as Error).message}): is Kafka up, and were the topics created (attune topics)?`;
      throw err;
    }
  }

  private async closeConsumer(): Promise<void> {
    const c = this.consumer;
    this.consumer = null;
    await c?.stop().catch(() => {});
    await c?.disconnect().catch(() => {});
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    await this.closeConsumer();
  }

  async deadLetters(limit: number): Promise<DeadLetter[]> {
    if (this.failure) throw new ServiceUnavailable(this.failure);
    return [...this.byPartition.values()].flat().sort(newestFirst).slice(0, limit);
  }
}
