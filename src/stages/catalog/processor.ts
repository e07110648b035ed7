/**
 * The catalog processor: item records (compacted topic, keyed by item id) upsert the item's hash in Redis.
 * An upsert is idempotent, so replays need no per-key offsets; the partition's progress is still written, so that
 * a rebuilt (empty) state replays the catalog from its earliest offset. A tombstone marks the item deleted.
 */
import type { InboundRecord, OutboundRecord, StreamProducer } from '../../kafka/port.js';
import type { Codec } from '../decode/codec.js';
import type { StateStore } from '../../stores/state-store.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { Config, TopicNames } from '../../config/config.js';
import { RecordError, ValidationError } from '../../errors.js';
import { deadLetterOrThrow, fitDeadLetter, processFailed } from '../dead-letter/record.js';
import { maxRecordBytes } from '../../kafka/chunk.js';
import type { NodeSpec } from '../../topology/processor.js';

export const catalogUpsertNode: NodeSpec = {
  name: 'upsert item',
  does: 'catalog records → the item hash (idempotent); tombstones mark the item deleted',
  stores: ['{i}:item'],
  sinks: ['dlq'],
};

export class ItemProcessor {
  constructor(private readonly d: { cfg: Config; topics: TopicNames; codec: Codec; store: StateStore; producer: StreamProducer; metrics: Metrics }) {}

  /** `quarantine`: records isolated by the batch handler (offset → error), dead-lettered PROCESS_FAILED, not upserted. */
  async process(topic: string, partition: number, records: InboundRecord[], quarantine?: ReadonlyMap<string, unknown>): Promise<number> {
    const { d } = this;
    const dead: OutboundRecord[] = [];
    const writes: Promise<void>[] = [];
    for (const r of records) {
      if (quarantine?.has(r.offset)) {
        dead.push(processFailed(r, quarantine.get(r.offset), { topic, partition, groupId: d.cfg.groupId }));
        d.metrics.dlq.inc({ stage: 'process', code: 'PROCESS_FAILED' });
        continue;
      }
      try {
        if (r.value === null) {
          const id = r.key?.toString('utf8');
          if (!id) throw new ValidationError('MISSING_ID', 'a tombstone needs the item id as its key');
          writes.push(d.store.upsertItem(id, { deleted: '1', available: '0' }));
          continue;
        }
        const item = await d.codec.decodeItem(r.value, d.cfg.maxMessageBytes);
        if (!item.itemId || item.itemId.length > d.cfg.maxIdLength) throw new ValidationError('BAD_ID', 'itemId is missing or too long');
        writes.push(d.store.upsertItem(item.itemId, {
          title: item.title ?? '',
          categories: JSON.stringify(item.categories),
          tags: JSON.stringify(item.tags),
          price: item.price === null ? '' : String(item.price),
          available: item.available ? '1' : '0',
          deleted: item.deleted ? '1' : '0',
          updatedAt: String(item.updatedAt),
        }));
      } catch (err) {
        dead.push(deadLetterOrThrow(r, err, { topic, partition, groupId: d.cfg.groupId }));
        const { stage, code } = err as RecordError;
        d.metrics.dlq.inc({ stage, code });
      }
    }
    if (dead.length) await d.producer.send(d.topics.dlq, dead.map((x) => fitDeadLetter(x, maxRecordBytes(d.cfg.kafkaMaxRequestBytes))));
    await Promise.all(writes);
    await d.store.writeProgress(topic, partition, Number(records[records.length - 1].offset));
    return records.length - dead.length;
  }
}
