/**
 * The validate stage: decoded events that break a rule (ids, record key ≠ user id, type, implausible time, sizes,
 * context) are dead-lettered.
 */
import type { Config } from '../../config/config.js';
import type { EventBatch, StageFactory } from '../../topology/processor.js';
import { deadLetterOrThrow } from '../dead-letter/record.js';
import { DEFAULT_LIMITS, recordClock, validateEvent, type ValidationLimits } from './validate.js';

export function validationLimits(cfg: Config): ValidationLimits {
  return {
    ...DEFAULT_LIMITS,
    maxIdLength: cfg.maxIdLength,
    maxFutureMs: cfg.maxFutureMs,
    minEventTime: cfg.minEventTime,
    maxContextLength: cfg.maxContextLength,
    maxTitleLength: cfg.maxTitleLength,
    maxCategories: cfg.maxItemCategories,
    maxTags: cfg.maxItemTags,
  };
}

export const validateStage: StageFactory<{ cfg: Config }, EventBatch> = {
  node: { name: 'validate', does: 'ids, type, time and size rules (pure)', stores: [], sinks: [] },
  create({ cfg }) {
    const limits = validationLimits(cfg);
    return {
      node: this.node,
      async process(b) {
        for (const d of b.decoded) {
          try {
            b.valid.push({ offset: d.offset, event: validateEvent(d.event, limits, recordClock(d.record.timestamp, b.now), d.record.key === null ? null : d.record.key.toString('utf8')) });
          } catch (err) {
            b.dead.push({ offset: d.offset, record: deadLetterOrThrow(d.record, err, { topic: b.topic, partition: b.partition, groupId: cfg.groupId }) });
          }
        }
      },
    };
  },
};
