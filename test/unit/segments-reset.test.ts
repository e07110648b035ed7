/**
 * The rights marks in the segments stage (#11): a `reset` record exits every segment with its cause and forgets
 * the user, an `anonymous` record is absent, a `merge` record folds an anonymous profile's features into the user's. The batch core must agree with the reference engine and give the same
 * final state and change list whatever the micro-batch cuts and crashes; the fake store mirrors the Lua scripts'
 * CAS semantics and loads what the processor loads (batchInputs).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { EventType, SegmentChange, UserEvent } from '../../src/domain/events.js';
import { resolveFeatureConfig, DAY, HOUR, emptyFeatureState, applyEvent } from '../../src/stages/segments/features/index.js';
import { serializeFeatureState } from '../../src/stages/segments/features/state.js';
import type { ProfileSnapshot } from '../../src/domain/profile.js';
import { compileRules, loadSegmentRulesFile, parseSegmentRules, PartitionEngine } from '../../src/stages/segments/core/index.js';
import { batchInputs, compareChanges, runSegmentBatch } from '../../src/stages/segments/batch.js';
import { reevaluateUsers } from '../../src/stages/segments/reevaluate-users.js';
import type { PendingChange } from '../../src/stages/segments/stored.js';
import type { OffsetEvent, ResetCause } from '../../src/stages/ingest/plan.js';
import { FakeSegmentStore, freshStoredUser as fresh } from '../support/segment-store-fake.js';

const cfg = resolveFeatureConfig({ allowedLatenessMs: 2 * HOUR });
const rules = compileRules(loadSegmentRulesFile('config/segments.yaml', cfg), cfg);
const T0 = Date.UTC(2024, 0, 1);
const opts = { features: cfg, segments: rules, clock: () => 0 };
const USERS = ['a', 'b', 'c'];

function ev(i: number, userId: string, t: number, type: EventType): UserEvent {
  return { eventId: `e${i}`, userId, type, eventTime: t, itemId: 'i', quantity: 1, price: type === 'purchase' ? 150 : null, rating: null, sessionId: null, context: null, properties: { category: 'tech' } };
}
const rec = (offset: number, userId: string, t: number, type: EventType, marks: Pick<OffsetEvent, 'reset' | 'anonymous' | 'merge'> = {}): OffsetEvent =>
  ({ offset, event: ev(offset, userId, t, type), ...marks });
const reset = (offset: number, userId: string, t: number, cause: ResetCause = 'erasure'): OffsetEvent =>
  rec(offset, userId, t, cause === 'erasure' ? 'erase' : 'consent', { reset: cause });

const key = (c: SegmentChange & { o?: number }) => JSON.stringify([c.o, c.userId, c.segmentId, c.change, c.eventTime, c.cause]);
const plain = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

function reference(records: OffsetEvent[]) {
  const eng = new PartitionEngine({ features: cfg, segments: rules, clock: () => 0 });
  const changes: PendingChange[] = [];
  const late: number[] = [];
  for (const r of records) {
    const res = eng.process(r.event, Infinity, r);
    if (res.rejected) late.push(r.offset);
    changes.push(...res.changes.map((c) => ({ ...c, o: r.offset })));
  }
  return { eng, changes, late };
}

function run(batches: OffsetEvent[][]): FakeSegmentStore {
  const store = new FakeSegmentStore(opts);
  for (const b of batches) expect(store.process(b)).toBe(true);
  return store;
}

/** Final state + change list + counts + dead letters of a run, comparable across runs. */
function outcome(store: FakeSegmentStore) {
  return {
    changes: store.emitted.map(key),
    dlq: store.dlq,
    watermark: store.part.watermark,
    counts: Object.fromEntries([...store.counts].filter(([, n]) => n !== 0).sort()),
    users: USERS.map((id) => {
      const u = store.users.get(id) ?? fresh();
      return plain({ features: u.features, segments: u.segments, due: u.due });
    }),
    timers: [...store.timers].sort(),
  };
}

type Kind = 'view' | 'purchase' | 'erasure' | 'consent' | 'anonymous' | 'merge' | 'merge-empty';
const streamArb = fc.array(
  fc.record({
    user: fc.constantFrom(...USERS),
    dt: fc.oneof(fc.integer({ min: 0, max: 3 * HOUR }), fc.integer({ min: DAY, max: 40 * DAY }), fc.integer({ min: -6 * HOUR, max: 0 })),
    kind: fc.constantFrom<Kind>('view', 'purchase', 'purchase', 'erasure', 'consent', 'anonymous', 'merge', 'merge-empty'),
  }),
  { minLength: 1, maxLength: 12 },
);

function build(spec: { user: string; dt: number; kind: Kind }[]): OffsetEvent[] {
  let t = T0;
  return spec.map((s, i) => {
    t += s.dt > 0 ? s.dt : 0;
    const at = t + Math.min(0, s.dt);
    const o = i + 10;
    if (s.kind === 'erasure' || s.kind === 'consent') return reset(o, s.user, at, s.kind);
    if (s.kind === 'anonymous') return rec(o, s.user, at + 30 * DAY, 'purchase', { anonymous: true }); // would move the watermark if it counted
    // Identity stitching: a profile of two purchases (or none) merged into the user; its time never moves the watermark.
    if (s.kind === 'merge' || s.kind === 'merge-empty') return rec(o, s.user, at + 30 * DAY, 'identify', { merge: mergedProfile(s.kind === 'merge', at) });
    return rec(o, s.user, at, s.kind);
  });
}

/** An anonymous profile's snapshot as a merge record carries it (the features in their stored form). */
function mergedProfile(withFeatures: boolean, at: number): ProfileSnapshot {
  const features = emptyFeatureState();
  applyEvent(features, ev(0, 'anon', at - HOUR, 'purchase'), cfg);
  applyEvent(features, ev(1, 'anon', at - HOUR / 2, 'purchase'), cfg);
  return { v: 1, activity: null, features: withFeatures ? JSON.parse(serializeFeatureState(features)) as Record<string, unknown> : null, recommender: null };
}

/** Every split of `records` into two or three non-empty micro-batches. */
function* splits(records: OffsetEvent[]): Generator<OffsetEvent[][]> {
  const n = records.length;
  for (let i = 1; i < n; i++) {
    yield [records.slice(0, i), records.slice(i)];
    for (let j = i + 1; j < n; j++) yield [records.slice(0, i), records.slice(i, j), records.slice(j)];
  }
}

function splitAt(records: OffsetEvent[], cuts: number[]): OffsetEvent[][] {
  const out: OffsetEvent[][] = [];
  let i = 0;
  for (const c of cuts) {
    if (i >= records.length) break;
    out.push(records.slice(i, i + Math.max(1, c)));
    i += Math.max(1, c);
  }
  if (i < records.length) out.push(records.slice(i));
  return out;
}

describe('resets and anonymous records in the segments stage', () => {
  it('property: one micro-batch, every split into two or three, and the reference engine agree', () => {
    fc.assert(
      fc.property(streamArb, (spec) => {
        const records = build(spec);
        const ref = reference(records);
        const whole = outcome(run([records]));
        expect(whole.changes).toEqual(ref.changes.map(key));
        expect(whole.dlq).toEqual(ref.late);
        expect(whole.watermark).toBe(ref.eng.currentWatermark);
        expect(whole.users).toEqual(USERS.map((id) => {
          const u = ref.eng.user(id);
          return plain({ features: u?.features ?? emptyFeatureState(), segments: u?.segments ?? [], due: u?.due ?? null });
        }));
        const members = new Map<string, number>();
        for (const u of whole.users) for (const s of u.segments) members.set(s, (members.get(s) ?? 0) + 1);
        expect(whole.counts).toEqual(Object.fromEntries([...members].sort()));
        for (const batches of splits(records)) expect(outcome(run(batches))).toEqual(whole);
      }),
      { numRuns: Number(process.env.SEG_RUNS ?? 50) },
    );
  });

  it('property: exactly once across crashes between slot writes and replays with another split', () => {
    fc.assert(
      fc.property(
        streamArb,
        fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 14 }),
        fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 14 }),
        fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 8 }),
        (spec, cuts, replayCuts, crashes) => {
          const records = build(spec);
          const whole = outcome(run([records]));
          const store = new FakeSegmentStore(opts);
          let batches = splitAt(records, cuts);
          let c = 0;
          let guard = 0;
          while (batches.length && guard++ < 200) {
            const ok = store.process(batches.shift()!, c < crashes.length ? crashes[c++]! : Infinity);
            if (!ok) batches = splitAt(records.filter((r) => r.offset > store.progress), replayCuts);
          }
          const uniq = new Map<string, PendingChange>();
          for (const x of store.emitted) uniq.set(key(x), x);
          const got = outcome(store);
          expect([...uniq.values()].sort(compareChanges).map(key)).toEqual(whole.changes);
          expect(new Set(got.dlq)).toEqual(new Set(whole.dlq));
          expect(got.users).toEqual(whole.users);
          expect(got.counts).toEqual(whole.counts);
          expect(got.timers).toEqual(whole.timers);
        },
      ),
      { numRuns: Number(process.env.SEG_RUNS ?? 200) },
    );
  });

  it('a reset in the first, a middle or the last position of a micro-batch exits every segment with its cause', () => {
    const before = [rec(0, 'a', T0, 'purchase'), rec(1, 'a', T0 + HOUR, 'purchase')];
    const entered = run([before]).users.get('a')!.segments;
    expect(entered).toEqual(['high_value', 'new_visitor']);
    for (const at of [0, 1, 2]) {
      const tail = [rec(2, 'b', T0 + 2 * HOUR, 'view'), rec(3, 'b', T0 + 3 * HOUR, 'view')];
      tail.splice(at, 0, reset(9, 'a', T0 + 2 * HOUR + 1, 'consent'));
      tail.forEach((r, i) => (r.offset = 2 + i));
      const store = run([before, tail]);
      const exits = store.emitted.filter((c) => c.userId === 'a' && c.change === 'exit');
      // Event time: max(watermark, the reset's time) — at position 0 the watermark (T0 + 1h) is behind the reset.
      const wmThen = at === 0 ? T0 + HOUR : T0 + 2 * HOUR + (at >= 2 ? HOUR : 0);
      expect(exits.map((c) => [c.segmentId, c.cause, c.o, c.eventTime])).toEqual(entered.map((s) => [s, 'consent', 2 + at, Math.max(wmThen, T0 + 2 * HOUR + 1)]));
      expect(store.users.get('a')).toMatchObject({ segments: [], due: null, offset: 4, features: emptyFeatureState() });
      expect(store.timers.has('a')).toBe(false);
      expect(store.counts.get('high_value')).toBe(0);
    }
  });

  it('a reset of a user in no segment changes nothing but the offset', () => {
    const store = run([[reset(0, 'ghost', T0)]]);
    expect(store.emitted).toEqual([]);
    expect(store.users.get('ghost')).toMatchObject({ segments: [], due: null, offset: 0 });
    expect(store.part.watermark).toBeNull(); // a reset is no activity: the watermark does not start at it
    const eng = new PartitionEngine({ features: cfg, segments: rules });
    expect(eng.process(ev(0, 'ghost', T0, 'erase'), Infinity, { reset: 'erasure' })).toEqual({ lateness: 'on_time', rejected: null, changes: [] });
    expect(eng.user('ghost')).toBeUndefined();
  });

  it('events after a reset build a fresh profile (same micro-batch or a later one)', () => {
    const records = [rec(0, 'a', T0, 'purchase'), rec(1, 'a', T0 + HOUR, 'purchase'), reset(2, 'a', T0 + 2 * HOUR), rec(3, 'a', T0 + 3 * HOUR, 'view')];
    const expected = emptyFeatureState();
    applyEvent(expected, records[3]!.event, cfg);
    for (const batches of [[records], [records.slice(0, 3), records.slice(3)]]) {
      const store = run(batches);
      const a = store.users.get('a')!;
      expect(plain(a.features)).toEqual(plain(expected));
      expect(a.features.n).toBe(1);
      expect(a.segments).toEqual(['new_visitor']); // first seen again at T0 + 3h; the purchases are gone
      expect(store.emitted.filter((c) => c.o === 3).map((c) => [c.segmentId, c.change, c.cause])).toEqual([['new_visitor', 'enter', 'e3']]);
      expect(store.counts.get('new_visitor')).toBe(1);
      expect(store.counts.get('high_value')).toBe(0);
    }
  });

  it('a reset is never too late: it applies at the watermark and stays out of the dead letters', () => {
    const store = run([[rec(0, 'a', T0, 'purchase'), rec(1, 'b', T0 + 10 * HOUR, 'view')], [reset(2, 'a', T0 - DAY)]]);
    expect(store.dlq).toEqual([]);
    const exits = store.emitted.filter((c) => c.o === 2);
    expect(exits.map((c) => [c.userId, c.segmentId, c.change, c.cause, c.eventTime])).toEqual([['a', 'new_visitor', 'exit', 'erasure', T0 + 10 * HOUR]]);
    // An ordinary event that late is dead-lettered (the check is not simply off).
    const late = run([[rec(0, 'a', T0 + 10 * HOUR, 'view'), rec(1, 'a', T0, 'view')]]);
    expect(late.dlq).toEqual([1]);
  });

  it('a replayed reset the user already reflects is skipped (offset-gated)', () => {
    const store = run([[rec(0, 'a', T0, 'purchase')]]);
    const a = store.loadUser('a');
    a.segments = ['high_value'];
    a.offset = 5; // the user's state already reflects steps up to 5 (a crashed attempt wrote it)
    const res = runSegmentBatch([reset(5, 'a', T0 + 1)], { ...store.part }, new Map([['a', a]]), store.progress, opts);
    expect(res.fresh).toEqual([]);
    expect(res.writes.size).toBe(0);
  });

  it('anonymous records are absent: no watermark, no features, no lateness, their user need not be loaded', () => {
    const records = [
      rec(0, 'a', T0, 'view'),
      rec(1, 'anon', T0 + 30 * DAY, 'purchase', { anonymous: true }),
      rec(2, 'a', T0 - HOUR, 'view'),
      rec(3, 'anon', T0 - 30 * DAY, 'purchase', { anonymous: true }),
    ];
    expect([...batchInputs(records, { offset: -1, watermark: null }).users]).toEqual(['a']);
    const res = runSegmentBatch(records, { watermark: null, offset: -1, late: [], pending: [] }, new Map([['a', fresh()]]), -1, opts);
    expect(res.partition.watermark).toBe(T0);
    expect(res.tooLate).toEqual([]);
    expect(res.partition.offset).toBe(3);
    expect([...res.writes.keys()]).toEqual(['a']);
    expect(res.writes.get('a')!.next.features.n).toBe(2);
    expect(res.changes.every((c) => c.userId === 'a')).toBe(true);
    const eng = new PartitionEngine({ features: cfg, segments: rules });
    for (const r of records) expect(eng.process(r.event, Infinity, r).rejected).toBeNull();
    expect(eng.currentWatermark).toBe(T0);
    expect(eng.user('anon')).toBeUndefined();
  });

  it('resets do not move the watermark nor fire timers; the batch inputs leave them out of the watermark bound', () => {
    const records = [rec(0, 'a', T0, 'purchase'), reset(1, 'b', T0 + 40 * DAY)];
    expect(batchInputs(records, { offset: -1, watermark: null }).maxWatermark).toBe(T0);
    const store = run([records]);
    expect(store.part.watermark).toBe(T0);
    expect(store.users.get('a')!.segments).toEqual(['new_visitor']); // its timer (T0 + 24h) did not fire
  });

  it('a rules re-evaluation skips a user a reset left empty, as the engine forgets them', () => {
    // A segment an empty profile is in: were the reset user evaluated, it would enter it.
    const always = compileRules(parseSegmentRules('segments:\n  quiet:\n    when: { count: { type: view, window: 1h }, lt: 1 }\n', cfg), cfg);
    expect(reevaluateUsers(['x'], [{ ...fresh(), features: { ...emptyFeatureState(), n: 1 }, offset: 0 }], T0, always, cfg, 0).changes).toHaveLength(1);
    const store = run([[rec(0, 'a', T0, 'purchase'), reset(1, 'a', T0 + 1)]]);
    const a = store.loadUser('a');
    expect(a.offset).toBe(1);
    const res = reevaluateUsers(['a'], [a], T0 + HOUR, always, cfg, 0);
    expect(res.changes).toEqual([]);
    expect(res.writes).toEqual([]);
    expect(res.finals).toEqual([['a', a]]);
    const eng = new PartitionEngine({ features: cfg, segments: always });
    eng.process(ev(0, 'a', T0, 'purchase'));
    eng.process(ev(1, 'a', T0 + 1, 'erase'), Infinity, { reset: 'erasure' });
    expect(eng.reevaluateAll()).toEqual([]);
  });
});
