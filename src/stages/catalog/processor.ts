/**
 * The catalog processor: item records (compacted topic, keyed by item id) upsert the item's hash in Redis.
 * An upsert is idempotent, so replays need no per-key offsets; the partition's progress is still written, so that
 * a rebuilt (empty) state replays the catalog from its earliest offset. A tombstone marks the item deleted.
 * Records that do not decode or break the item rules (stages/validate/item.ts) are dead-lettered through the
 * exactly-once DeadLetterSink, so a replay of the batch does not write their DLQ copies twice.
 */
import type { InboundRecord, OutboundRecord } from '../../kafka/port.js';
import type { Codec } from '../decode/codec.js';
import type { StateStore } from '../../stores/state-store.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { Config, TopicNames } from '../../config/config.js';
import { ValidationError } from '../../errors.js';
import { deadLetterOrThrow, processFailed } from '../dead-letter/record.js';
import type { DeadLetterSink } from '../dead-letter/sink.js';
import { validateItem } from '../validate/item.js';
import { checkId } from '../validate/validate.js';
import { validationLimits } from '../validate/stage.js';
import type { NodeSpec } from '../../topology/processor.js';

export const catalogUpsertNode: NodeSpec = {
  name: 'upsert item',
  does: 'catalog records → the item hash (idempotent); tombstones mark the item deleted; invalid items dead-lettered once each',
  stores: ['{i}:item', '{p}:dlq'],
  sinks: ['dlq'],
};

export class ItemProcessor {
  private readonly limits;
  constructor(private readonly d: { cfg: Config; topics: TopicNames; codec: Codec; store: StateStore; deadLetters: DeadLetterSink; metrics: Metrics }) {
    this.limits = validationLimits(d.cfg);
  }

  /** `quarantine`: records isolated by the batch handler (offset → error), dead-lettered PROCESS_FAILED, not upserted. */
  async process(topic: string, partition: number, records: InboundRecord[], quarantine?: ReadonlyMap<string, unknown>): Promise<number> {
    const { d } = this;
    const now = Date.now();
    const dead: OutboundRecord[] = [];
    const isolated: OutboundRecord[] = [];
    // Collected first and written after the loop: a retriable failure mid-loop then leaves no write in flight.
    const upserts: [string, Record<string, string>][] = [];
    for (const r of records) {
      if (quarantine?.has(r.offset)) {
        isolated.push(processFailed(r, quarantine.get(r.offset), { topic, partition, groupId: d.cfg.groupId }));
        continue;
      }
      try {
        if (r.value === null) {
          const id = r.key?.toString('utf8');
          if (!id) throw new ValidationError('MISSING_ID', 'a tombstone needs the item id as its key');
          checkId('itemId (the tombstone\'s key)', id, this.limits.maxIdLength, true);
          upserts.push([id, { deleted: '1', available: '0' }]);
          continue;
        }
        const item = validateItem(await d.codec.decodeItem(r.value, d.cfg.maxMessageBytes), this.limits, now);
        upserts.push([item.itemId, {
          title: item.title ?? '',
          categories: JSON.stringify(item.categories),
          tags: JSON.stringify(item.tags),
          price: item.price === null ? '' : String(item.price),
          available: item.available ? '1' : '0',
          deleted: item.deleted ? '1' : '0',
          updatedAt: String(item.updatedAt),
        }]);
      } catch (err) {
        // A RecordError becomes a dead letter; anything else (the registry away: retriable) fails the batch.
        dead.push(deadLetterOrThrow(r, err, { topic, partition, groupId: d.cfg.groupId }));
      }
    }
    // Quarantined records have their own marks ('process'): the failed attempt may already have recorded decode
    // dead letters at higher offsets, which would hide a lower quarantined one from the 'decode' marks.
    const written = [
      ...(await d.deadLetters.send(topic, partition, 'decode', dead)),
      ...(await d.deadLetters.send(topic, partition, 'process', isolated)),
    ];
    for (const x of written) d.metrics.dlq.inc({ stage: x.headers!['attune.error.stage'], code: x.headers!['attune.error.code'] });
    await Promise.all(upserts.map(([id, fields]) => d.store.upsertItem(id, fields)));
    await d.store.writeProgress(topic, partition, Number(records[records.length - 1].offset));
    return records.length - dead.length - isolated.length;
  }
}
