/**
 * Every worker's full copy of the item catalog, like a Kafka Streams GlobalKTable: a consumer with a group of
 * its own reads all partitions of the items topic from the beginning and keeps tailing it, feeding the
 * in-memory recommender (content vectors, availability filters, categories). `start` resolves once the
 * topic has been read up to where it ended when the worker started, so the first recommendations already
 * know the catalog.
 *
 * Records that can never be used (they do not decode, or break the item rules) are skipped here: the group's item
 * processor dead-letters them. A registry that cannot answer is not such a record: the reader waits and retries
 * the same record (logging a warning each time), so an outage delays the catalog instead of silently losing items.
 */
import { randomUUID } from 'node:crypto';
import type { StreamClient, StreamConsumer } from '../../kafka/port.js';
import type { Codec } from '../decode/codec.js';
import type { Recommender } from '../recommend/model/recommender.js';
import { errorMessage, isRetriable, RecordError } from '../../errors.js';
import { log } from '../../log.js';
import { backoffMs } from '../../retry.js';
import { checkId, DEFAULT_LIMITS, type ValidationLimits } from '../validate/validate.js';
import { validateItem } from '../validate/item.js';

export class CatalogReader {
  private consumer: StreamConsumer | null = null;
  private stopping = false;
  items = 0;
  /** Called after an item became unavailable or was deleted (source = topic:partition:offset). */
  onGone: (itemId: string, source: string) => void = () => {};
  constructor(
    private readonly kafka: StreamClient,
    private readonly topic: string,
    private readonly groupPrefix: string,
    private readonly codec: Codec,
    private readonly rec: Recommender,
    private readonly maxBytes: number,
    private readonly limits: ValidationLimits = DEFAULT_LIMITS,
  ) {}

  async start(timeoutMs = 120_000): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    const ends = await admin.endOffsets(this.topic);
    await admin.disconnect();
    const remaining = new Map([...ends].filter(([, high]) => Number(high) > 0).map(([p, h]) => [p, Number(h)]));
    let caughtUp: () => void = () => {};
    const ready = new Promise<void>((r) => (caughtUp = r));
    if (remaining.size === 0) caughtUp();

    const consumer = this.kafka.consumer({ groupId: `${this.groupPrefix}-catalog-${randomUUID()}` });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe([this.topic]);
    await consumer.run(async (batch) => {
      for (const m of batch.records) {
        try {
          const source = `${batch.topic}:${batch.partition}:${m.offset}`;
          if (m.value === null) {
            const id = m.key?.toString('utf8');
            if (id) {
              checkId('itemId (the tombstone\'s key)', id, this.limits.maxIdLength, true); // as the item processor
              this.rec.upsertItem({ itemId: id, title: null, categories: [], tags: [], price: null, available: false, deleted: true, updatedAt: 0 });
              this.onGone(id, source);
            }
          } else {
            const item = await this.decodeRetrying(m.value, source);
            this.rec.upsertItem(item);
            this.items++;
            if (!item.available || item.deleted) this.onGone(item.itemId, source);
          }
        } catch (err) {
          // The group's item processor dead-letters bad catalog records; here they are only skipped.
          if (err instanceof RecordError) log.debug({ offset: m.offset, code: err.code }, 'catalog reader skipped a record');
          else log.warn({ offset: m.offset, err: errorMessage(err) }, 'catalog reader skipped a record it could not apply');
        }
        batch.resolveOffset(m.offset);
        const high = remaining.get(batch.partition);
        if (high !== undefined && Number(m.offset) + 1 >= high) {
          remaining.delete(batch.partition);
          if (remaining.size === 0) caughtUp();
        }
      }
    }, { partitionsConsumedConcurrently: 1, commitOffsets: false });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ready, new Promise<void>((r) => { timer = setTimeout(() => { log.warn({ remaining: remaining.size }, 'catalog not fully read at start-up; continuing'); r(); }, timeoutMs); })]);
    clearTimeout(timer);
  }

  /** The record's valid item; waits out retriable failures (the registry away) until the reader stops. */
  private async decodeRetrying(value: Buffer, source: string) {
    for (let attempt = 1; ; attempt++) {
      try {
        return validateItem(await this.codec.decodeItem(value, this.maxBytes), this.limits, Date.now());
      } catch (err) {
        if (!isRetriable(err) || this.stopping) throw err;
        const delayMs = backoffMs(attempt);
        log.warn({ source, attempt, delayMs, err: errorMessage(err) }, 'catalog reader cannot decode an item (schema registry unavailable); waiting and retrying');
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (!this.consumer) return;
    await this.consumer.stop().catch(() => {});
    await this.consumer.disconnect().catch(() => {});
  }
}
