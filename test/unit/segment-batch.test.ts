/**
 * The segment processor's pure core against the reference PartitionEngine: any micro-batch split, and crashes
 * between any two slot writes followed by a replay (with another split), give the same segment history, the same
 * final memberships and the same member counts. The fake store below mirrors the Lua scripts' CAS semantics.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { EventType, SegmentChange, UserEvent } from '../../src/domain/events.js';
import { resolveFeatureConfig, DAY, HOUR } from '../../src/stages/segments/features/index.js';
import { compileRules, loadSegmentRulesFile, PartitionEngine } from '../../src/stages/segments/core/index.js';
import { runSegmentBatch, compareChanges } from '../../src/stages/segments/batch.js';
import type { PendingChange } from '../../src/stages/segments/stored.js';
import type { OffsetEvent } from '../../src/stages/ingest/plan.js';
import { FakeSegmentStore } from '../support/segment-store-fake.js';

const cfg = resolveFeatureConfig({ allowedLatenessMs: 2 * HOUR });
const rules = compileRules(loadSegmentRulesFile('config/segments.yaml', cfg), cfg);
const T0 = Date.UTC(2024, 0, 1);
const opts = { features: cfg, segments: rules, clock: () => 0 };

function ev(i: number, userId: string, t: number, type: EventType, extra: Partial<UserEvent> = {}): UserEvent {
  return { eventId: `e${i}`, userId, type, eventTime: t, itemId: 'i', quantity: 1, price: type === 'purchase' ? 120 : null, rating: null, sessionId: null, context: null, properties: { category: 'tech' }, ...extra };
}


const key = (c: SegmentChange & { o?: number }) => JSON.stringify([c.userId, c.segmentId, c.change, c.eventTime, c.cause]);

function reference(records: OffsetEvent[]) {
  const eng = new PartitionEngine({ features: cfg, segments: rules, clock: () => 0 });
  const changes: PendingChange[] = [];
  const late: number[] = [];
  for (const r of records) {
    const res = eng.process(r.event);
    if (res.rejected) late.push(r.offset);
    changes.push(...res.changes.map((c) => ({ ...c, o: r.offset })));
  }
  return { eng, changes, late };
}

const streamArb = fc.array(
  fc.record({
    user: fc.constantFrom('a', 'b', 'c', 'd'),
    dt: fc.oneof(fc.integer({ min: 0, max: 3 * HOUR }), fc.integer({ min: DAY, max: 40 * DAY }), fc.integer({ min: -4 * HOUR, max: 0 })),
    type: fc.constantFrom<EventType>('view', 'view', 'purchase'),
  }),
  { minLength: 1, maxLength: 40 },
);

function build(spec: { user: string; dt: number; type: EventType }[]): OffsetEvent[] {
  let t = T0;
  return spec.map((s, i) => {
    t += s.dt > 0 ? s.dt : 0;
    return { offset: i + 10, event: ev(i, s.user, t + Math.min(0, s.dt), s.type) };
  });
}

function splitAt(records: OffsetEvent[], cuts: number[]): OffsetEvent[][] {
  const out: OffsetEvent[][] = [];
  let i = 0;
  for (const c of cuts) {
    const n = Math.max(1, c);
    if (i >= records.length) break;
    out.push(records.slice(i, i + n));
    i += n;
  }
  if (i < records.length) out.push(records.slice(i));
  return out;
}

describe('runSegmentBatch', () => {
  it('matches the reference engine for any batch split', () => {
    fc.assert(
      fc.property(streamArb, fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 40 }), (spec, cuts) => {
        const records = build(spec);
        const ref = reference(records);
        const store = new FakeSegmentStore(opts);
        for (const b of splitAt(records, cuts)) expect(store.process(b)).toBe(true);
        expect(store.emitted.map(key)).toEqual(ref.changes.map(key));
        expect(store.emitted.map((c) => c.o)).toEqual(ref.changes.map((c) => c.o));
        expect(store.dlq).toEqual(ref.late);
        expect(store.part.watermark).toBe(ref.eng.currentWatermark);
        for (const id of ['a', 'b', 'c', 'd']) {
          expect(store.users.get(id)?.segments ?? []).toEqual(ref.eng.user(id)?.segments ?? []);
          expect(store.users.get(id)?.due ?? null).toBe(ref.eng.user(id)?.due ?? null);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('is exactly-once across crashes between slot writes and replays with another split', () => {
    fc.assert(
      fc.property(
        streamArb,
        fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 10 }),
        (spec, cuts, replayCuts, crashes) => {
          const records = build(spec);
          const ref = reference(records);
          const store = new FakeSegmentStore(opts);
          let batches = splitAt(records, cuts);
          let c = 0;
          let guard = 0;
          while (batches.length && guard++ < 200) {
            const b = batches.shift()!;
            const ok = store.process(b, c < crashes.length ? crashes[c++]! : Infinity);
            if (!ok) {
              // restart: seek to progress + 1 and re-split what is left
              batches = splitAt(records.filter((r) => r.offset > store.progress), replayCuts);
            }
          }
          const uniq = new Map<string, PendingChange>();
          for (const x of store.emitted) uniq.set(JSON.stringify([x.o, key(x)]), x);
          const emitted = [...uniq.values()].sort(compareChanges);
          expect(emitted.map(key)).toEqual(ref.changes.map(key));
          expect(new Set(store.dlq)).toEqual(new Set(ref.late));
          const members = new Map<string, number>();
          for (const id of ['a', 'b', 'c', 'd']) {
            const segs = store.users.get(id)?.segments ?? [];
            expect(segs).toEqual(ref.eng.user(id)?.segments ?? []);
            for (const s of segs) members.set(s, (members.get(s) ?? 0) + 1);
          }
          for (const s of rules.segments) expect(store.counts.get(s.id) ?? 0).toBe(members.get(s.id) ?? 0);
        },
      ),
      { numRuns: Number(process.env.SEG_RUNS ?? 300) },
    );
  });

  it('punctuation fires due timers of an idle partition at their due time', () => {
    const store = new FakeSegmentStore(opts);
    store.process([{ offset: 0, event: ev(0, 'a', T0, 'purchase') }]);
    const users = new Map([['a', store.loadUser('a')]]);
    const res = runSegmentBatch([], store.part, users, 0, opts, T0 + 2 * DAY);
    expect(res.changes.map((c) => [c.segmentId, c.change, c.eventTime - T0, c.cause, c.o])).toEqual([['new_visitor', 'exit', DAY + 1000, 'time', 0]]);
    expect(res.partition.watermark).toBe(T0 + 2 * DAY);
    expect(res.writes.get('a')!.next.segments).toEqual([]);
  });
});

describe('segment set-up and keys', () => {
  it('rejects a bad rule file at start-up with the rule id and line:col', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { loadSegmentSetup } = await import('../../src/stages/segments/setup.js');
    const { loadConfig } = await import('../../src/config/config.js');
    const { ConfigError } = await import('../../src/errors.js');
    const dir = mkdtempSync(join(tmpdir(), 'attune-rules-'));
    const path = join(dir, 'r.yaml');
    writeFileSync(path, 'segments:\n  fans:\n    when:\n      count: { type: view, window: 5d }\n      gt: 1\n');
    const cfg = loadConfig({ ATTUNE_SEGMENT_RULES: path });
    expect(() => loadSegmentSetup(cfg)).toThrow(ConfigError);
    expect(() => loadSegmentSetup(cfg)).toThrow(/r\.yaml:4:\d+: segment "fans": unknown window "5d"/);
    expect(loadSegmentSetup(loadConfig({})).rules.segments.map((s) => s.id)).toContain('tech_enthusiast');
  });

  it('keeps the new keys in their slots', async () => {
    const { Keys } = await import('../../src/stores/keys.js');
    const k = new Keys('a');
    expect(k.userFeatures('7')).toBe('a:{u:7}:features');
    expect(k.userSegments('7')).toBe('a:{u:7}:segments');
    expect(k.partitionSegmentState('t', 1)).toBe('a:{p:t:1}:segstate');
    expect(k.partitionTimers('t', 1)).toBe('a:{p:t:1}:timers');
    expect(k.segmentCounts()).toBe('a:{g}:segcounts');
    expect(k.segmentCountsApplied()).toBe('a:{g}:segapplied');
  });
});
