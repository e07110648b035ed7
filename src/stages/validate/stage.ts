/**
 * The validate stage: decoded events that break a rule (ids, record key ≠ user id, type, implausible time, sizes,
 * context) are dead-lettered.
 */
import type { Config } from '../../config/config.js';
import type { EventBatch, StageFactory } from '../../topology/processor.js';
import { deadLetterOrThrow } from '../dead-letter/record.js';
import { DEFAULT_LIMITS, validateEvent, type ValidationLimits } from './validate.js';

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

/**
 * The clock a record's time rules are judged by: its Kafka timestamp (the broker's append time on the events topic,
 * topics.ts), cut to the worker's clock. Not the worker's clock alone: a micro-batch can be re-run (a retry, a
 * bisection, a replay after a crash) seconds or hours later, and an event near the future limit would then be
 * dead-lettered in one attempt and applied in the next. Only a record stamped ahead of the worker's clock (a
 * producer-set time on a topic not created by `attune topics`) is judged by the clock of its attempt.
 */
export function recordClock(timestamp: string, now: number): number {
  const t = Number(timestamp);
  return Number.isFinite(t) && t > 0 ? Math.min(t, now) : now;
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
