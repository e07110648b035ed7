/**
 * The dedupe stage of the events chain: an event whose id was already applied on the same partition, at a lower
 * offset within the last ATTUNE_DEDUPE_WINDOW_RECORDS offsets, is dead-lettered DUPLICATE_EVENT (once: it goes to
 * the dead-letter stage that follows, like decode and validation failures) and reaches no state. A replay of the
 * same record is not a duplicate: the script compares offsets and answers a replay as the first attempt did.
 *
 * It runs after validation (only valid events take a place in the window) and before segments, ingest and
 * recommend. An id is remembered when its event passed validation, even if a later stage then finds it too late:
 * a client that resends it gets DUPLICATE_EVENT, as it would for an applied one.
 */
import type { Config } from '../../config/config.js';
import type { EventBatch, StageFactory } from '../../topology/processor.js';
import type { StateStore } from '../../stores/state-store.js';
import { ValidationError } from '../../errors.js';
import { deadLetterOrThrow } from '../dead-letter/record.js';
import { DedupeStore } from './store.js';

export const DUPLICATE_EVENT = 'DUPLICATE_EVENT' as const;

export const dedupeStage: StageFactory<{ cfg: Config; store: StateStore }, EventBatch> = {
  node: { name: 'dedupe', does: 'events whose id was applied before on the partition (within the window) dead-lettered', stores: ['{p}:dedupe', '{p}:dedupe-state'], sinks: [] },
  create({ cfg, store }) {
    const dedupe = new DedupeStore(store.redis, cfg.keyPrefix);
    const window = cfg.dedupeWindowRecords;
    return {
      node: this.node,
      async process(b) {
        if (window <= 0 || b.valid.length === 0) return;
        const dups = await dedupe.duplicates(b.topic, b.partition, window, b.lastOffset, b.valid.map((r) => [r.offset, r.event.eventId]));
        if (dups.size === 0) return;
        const src = { topic: b.topic, partition: b.partition, groupId: cfg.groupId };
        const err = new ValidationError(DUPLICATE_EVENT, `event id already applied on this partition within the last ${window} offsets (ATTUNE_DEDUPE_WINDOW_RECORDS)`);
        for (const d of b.decoded) {
          if (dups.has(d.offset)) b.dead.push({ offset: d.offset, record: deadLetterOrThrow(d.record, err, src) });
        }
        b.valid = b.valid.filter((r) => !dups.has(r.offset));
      },
    };
  },
};
