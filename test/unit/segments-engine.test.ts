import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { EventType, SegmentChange, UserEvent } from '../../src/domain/events.js';
import { resolveFeatureConfig, DAY, HOUR, MINUTE } from '../../src/stages/segments/features/index.js';
import { compileRules, loadSegmentRulesFile, PartitionEngine, type PartitionSnapshot } from '../../src/stages/segments/core/index.js';
import { userEvent } from '../support/user-event.js';

const cfg = resolveFeatureConfig({ allowedLatenessMs: 2 * HOUR });
const compiled = compileRules(loadSegmentRulesFile('config/segments.yaml', cfg), cfg);
const T0 = Date.UTC(2024, 0, 1);
let seq = 0;
function ev(userId: string, t: number, type: EventType = 'view', extra: Partial<UserEvent> = {}): UserEvent {
  return userEvent({ eventId: `e${seq++}`, userId, type, eventTime: t, itemId: 'i', ...extra });
}
const tech = (u: string, t: number) => ev(u, t, 'view', { properties: { category: 'tech' } });

describe('partition engine', () => {
  it('exits at the right time driven by other users’ events, without any event of the user', () => {
    const eng = new PartitionEngine({ features: cfg, segments: compiled });
    const out: SegmentChange[] = [];
    for (let i = 0; i < 6; i++) out.push(...eng.process(tech('alice', T0 + i * MINUTE)).changes);
    expect(out.filter((c) => c.segmentId === 'tech_enthusiast')).toMatchObject([
      { userId: 'alice', change: 'enter', eventTime: T0 + 5 * MINUTE, cause: 'e5' },
    ]);
    expect(eng.user('alice')!.due).toBe(T0 + DAY + 1000); // new_visitor exit (T0 + 24h + 1 ms) rounded up to 1 s
    // bob's events move event time forward
    const bob = (t: number) => eng.process(ev('bob', t)).changes.filter((c) => c.userId === 'alice');
    expect(bob(T0 + DAY)).toEqual([]);
    expect(bob(T0 + DAY + 1000)).toMatchObject([{ segmentId: 'new_visitor', change: 'exit', eventTime: T0 + DAY + 1000, cause: 'time' }]);
    expect(bob(T0 + 7 * DAY - 1)).toEqual([]);
    expect(bob(T0 + 7 * DAY)).toMatchObject([{ segmentId: 'tech_enthusiast', change: 'exit', eventTime: T0 + 7 * DAY, cause: 'time' }]);
    expect(eng.user('alice')!.segments).toEqual([]);
    expect(eng.user('alice')!.due).toBeNull();
  });

  it('fires several due timers in time order when event time jumps, and punctuation works on an idle partition', () => {
    const eng = new PartitionEngine({ features: cfg, segments: compiled });
    eng.process(ev('a', T0, 'purchase', { price: 150, quantity: 2 })); // high_value until T0 + 30d, new_visitor until T0 + 24h
    eng.process(ev('b', T0 + HOUR, 'purchase', { price: 100, quantity: 2 }));
    const changes = eng.advanceTo(T0 + 40 * DAY);
    expect(changes.map((c) => [c.userId, c.segmentId, c.change, c.eventTime - T0])).toEqual([
      ['a', 'new_visitor', 'exit', DAY + 1000],
      ['b', 'new_visitor', 'exit', HOUR + DAY + 1000],
      ['a', 'high_value', 'exit', 30 * DAY],
      ['b', 'high_value', 'exit', 30 * DAY],
    ]);
    expect(eng.currentWatermark).toBe(T0 + 40 * DAY);
  });

  it('rejects too-late events with TOO_LATE and applies late accepted ones', () => {
    const eng = new PartitionEngine({ features: cfg, segments: compiled });
    eng.process(ev('a', T0 + 3 * HOUR));
    const late = eng.process(ev('b', T0 + HOUR, 'purchase', { price: 300, quantity: 1 }));
    expect(late.lateness).toBe('late_accepted');
    expect(late.changes.map((c) => [c.segmentId, c.change, c.eventTime])).toEqual([
      ['high_value', 'enter', T0 + 3 * HOUR],
      ['new_visitor', 'enter', T0 + 3 * HOUR],
    ]);
    const tooLate = eng.process(ev('b', T0 + HOUR - 1));
    expect(tooLate).toEqual({ lateness: 'too_late', rejected: 'TOO_LATE', changes: [] });
    expect(eng.user('b')!.features.n).toBe(1);
  });

  it('property: any batch split (with state persisted between batches) gives the same features and history', () => {
    const users = ['u1', 'u2', 'u3'];
    const arb = fc.array(
      fc.record({
        user: fc.constantFrom(...users),
        step: fc.integer({ min: 0, max: 3 * DAY }),
        back: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 * HOUR })),
        type: fc.constantFrom<EventType>('view', 'purchase', 'click'),
        cat: fc.constantFrom('tech', 'books', ''),
        price: fc.constantFrom(5, 19.99, 120),
        country: fc.constantFrom('United Kingdom', 'France', null),
      }),
      { minLength: 1, maxLength: 60 },
    );
    fc.assert(
      fc.property(arb, fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 20 }), (items, cuts) => {
        let clock = T0;
        const events = items.map((x) => {
          clock += x.step;
          return ev(x.user, clock - x.back, x.type, {
            quantity: 1,
            price: x.price,
            properties: x.cat ? { category: x.cat } : {},
            context: { country: x.country, device: null, referrer: null, userAgent: null },
          });
        });
        // one pass
        const single = new PartitionEngine({ features: cfg, segments: compiled });
        const h1: SegmentChange[] = [];
        const r1: string[] = [];
        for (const e of events) {
          const r = single.process(e);
          h1.push(...r.changes);
          if (r.rejected) r1.push(e.eventId);
        }
        // batches, state persisted as JSON between batches, idle punctuation at the watermark in between
        let snap: PartitionSnapshot | undefined;
        const h2: SegmentChange[] = [];
        const r2: string[] = [];
        let i = 0;
        let c = 0;
        while (i < events.length) {
          const n = cuts[c++ % cuts.length]!;
          const eng = new PartitionEngine({ features: cfg, segments: compiled, snapshot: snap && JSON.parse(JSON.stringify(snap)) });
          if (eng.currentWatermark !== null) h2.push(...eng.advanceTo(eng.currentWatermark));
          for (const e of events.slice(i, i + n)) {
            const r = eng.process(e);
            h2.push(...r.changes);
            if (r.rejected) r2.push(e.eventId);
          }
          i += n;
          snap = eng.snapshot();
        }
        expect(h2).toEqual(h1);
        expect(r2).toEqual(r1);
        expect(snap).toEqual(single.snapshot());
        // every time-caused change falls on the timer grid
        for (const ch of h1) if (ch.cause === 'time') expect(ch.eventTime % cfg.timerResolutionMs).toBe(0);
        // and then letting time run out empties every time-bound segment identically
        const end = (single.currentWatermark ?? T0) + 400 * DAY;
        const tail1 = single.advanceTo(end);
        const tail2 = new PartitionEngine({ features: cfg, segments: compiled, snapshot: snap }).advanceTo(end);
        expect(tail2).toEqual(tail1);
      }),
      { numRuns: 150 },
    );
  });
});
