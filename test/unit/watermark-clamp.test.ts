/**
 * One client whose clock runs 23 hours ahead (inside ATTUNE_MAX_FUTURE_MS) must not make the other users' valid
 * events on its partition too late: the watermark an event may set is capped at its record's Kafka timestamp plus
 * ATTUNE_WATERMARK_MAX_SKEW_MS, in the worker's batch core and in the reference engine alike.
 */
import { describe, expect, it } from 'vitest';
import type { UserEvent } from '../../src/domain/events.js';
import { resolveFeatureConfig, emptyFeatureState, clampedWatermark, HOUR, MINUTE } from '../../src/stages/segments/features/index.js';
import { compileRules, loadSegmentRulesFile, PartitionEngine } from '../../src/stages/segments/core/index.js';
import { runSegmentBatch } from '../../src/stages/segments/batch.js';
import type { StoredUser } from '../../src/stages/segments/stored.js';
import type { OffsetEvent } from '../../src/stages/ingest/plan.js';

const cfg = resolveFeatureConfig({ allowedLatenessMs: 10 * MINUTE });
const rules = compileRules(loadSegmentRulesFile('config/segments.yaml', cfg), cfg);
const NOW = Date.UTC(2026, 11, 1, 12);
const SKEW = 5 * MINUTE;

const ev = (i: number, userId: string, t: number): UserEvent => ({
  eventId: `e${i}`, userId, type: 'view', eventTime: t, itemId: 'i', quantity: null, price: null, rating: null,
  sessionId: null, context: null, properties: { category: 'tech' },
});
// Every record reached Kafka at about NOW; user "skewed" stamps its events 23 h ahead.
const records: OffsetEvent[] = [
  { offset: 0, event: ev(0, 'a', NOW) },
  { offset: 1, event: ev(1, 'skewed', NOW + 23 * HOUR) },
  ...Array.from({ length: 20 }, (_, k) => ({ offset: 2 + k, event: ev(2 + k, `u${k}`, NOW + k * 1000) })),
];
const kafkaTime = (r: OffsetEvent) => NOW + r.offset;
const fresh = (): StoredUser => ({ features: emptyFeatureState(), segments: [], due: null, offset: -1, pending: [], since: {} });

describe('the watermark clamp', () => {
  it('moves the watermark at most to the cap, never back', () => {
    expect(clampedWatermark(null, NOW + HOUR, NOW + SKEW)).toBe(NOW + SKEW);
    expect(clampedWatermark(NOW, NOW + 1000, NOW + SKEW)).toBe(NOW + 1000);
    expect(clampedWatermark(NOW + SKEW, NOW - HOUR, NOW)).toBe(NOW + SKEW);
    expect(clampedWatermark(NOW, NOW + HOUR)).toBe(NOW + HOUR);
  });

  it('keeps the neighbours of one skewed event on time in the micro-batch core, and still applies the skewed one', () => {
    const users = new Map(['a', 'skewed', ...records.slice(2).map((r) => r.event.userId)].map((u) => [u, fresh()] as const));
    const part = { watermark: null, offset: -1, late: [], pending: [] };
    const opts = { features: cfg, segments: rules, clock: () => 0 };
    const unclamped = runSegmentBatch(records, part, users, -1, opts);
    expect(unclamped.tooLate).toHaveLength(20); // the failure the clamp prevents
    const res = runSegmentBatch(records, part, users, -1, { ...opts, watermarkCap: (r) => kafkaTime(r) + SKEW });
    expect(res.tooLate).toEqual([]);
    expect(res.writes.get('skewed')?.next.features.n).toBe(1);
    expect(res.partition.watermark).toBe(NOW + 1 + SKEW);
    // Split differently, the same result: the cap is a function of the record, not of the batch.
    const first = runSegmentBatch(records.slice(0, 5), part, users, -1, { ...opts, watermarkCap: (r) => kafkaTime(r) + SKEW });
    expect(first.partition.watermark).toBe(res.partition.watermark);
  });

  it('gives the reference engine the same classification', () => {
    const engine = new PartitionEngine({ features: cfg, segments: rules });
    const rejected = records.filter((r) => engine.process(r.event, kafkaTime(r) + SKEW).rejected !== null);
    expect(rejected).toEqual([]);
    expect(engine.currentWatermark).toBe(NOW + 1 + SKEW);
    const unclamped = new PartitionEngine({ features: cfg, segments: rules });
    expect(records.filter((r) => unclamped.process(r.event).rejected !== null)).toHaveLength(20);
  });
});
