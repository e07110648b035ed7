import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DAY_MS, TimelineBuckets } from '../../src/eval/timeline.js';
import type { UserEvent } from '../../src/domain/events.js';
import { runPrequential, type PrequentialModel } from '../../src/eval/prequential.js';

describe('eval timeline windows', () => {
  it('bins tested events by UTC day with per-window and cumulative rates', () => {
    const t = new TimelineBuckets();
    const d0 = Date.UTC(2011, 0, 3);
    t.add(d0 + 1000, true, 1);
    t.add(d0 + DAY_MS - 1, false, 0); // last ms of the same day
    t.add(d0 + DAY_MS, true, 0.5); // next day
    t.add(d0 + 5 * DAY_MS + 7, false, 0); // a gap: days without tested events have no window
    const p = t.points();
    expect(p.map((w) => [w.start, w.end, w.tested])).toEqual([
      [d0, d0 + DAY_MS, 2], [d0 + DAY_MS, d0 + 2 * DAY_MS, 1], [d0 + 5 * DAY_MS, d0 + 6 * DAY_MS, 1],
    ]);
    expect(p.map((w) => w.hr10)).toEqual([0.5, 1, 0]);
    expect(p.map((w) => w.ndcg10)).toEqual([0.5, 0.5, 0]);
    expect(p.map((w) => w.cumulativeHr10)).toEqual([0.5, 2 / 3, 0.5]);
    expect(p.map((w) => w.cumulativeNdcg10)).toEqual([0.5, 0.5, 1.5 / 4]);
  });

  it('past the bound, doubles the width and merges neighbours, keeping exact sums', () => {
    const t = new TimelineBuckets({ windowMs: 10, maxWindows: 4 });
    for (let i = 0; i < 10; i++) t.add(i * 10 + 3, i % 2 === 0, i % 2 === 0 ? 1 : 0); // windows 0..9 of width 10
    expect(t.windowMs).toBe(40); // 10 windows → 5 (width 20) → 3 (width 40)
    expect(t.raw()).toEqual([
      { start: 0, end: 40, tested: 4, hits10: 2, ndcgSum: 2 },
      { start: 40, end: 80, tested: 4, hits10: 2, ndcgSum: 2 },
      { start: 80, end: 120, tested: 2, hits10: 1, ndcgSum: 1 },
    ]);
  });

  it('whatever the order and spread of times, stays within the bound and loses no event', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 1e12 }), fc.boolean()), { maxLength: 300 }),
      fc.integer({ min: 2, max: 16 }),
      (events, max) => {
        const t = new TimelineBuckets({ windowMs: 1000, maxWindows: max });
        for (const [time, hit] of events) t.add(time, hit, hit ? 1 : 0);
        const raw = t.raw();
        expect(raw.length).toBeLessThanOrEqual(max);
        expect(raw.reduce((n, w) => n + w.tested, 0)).toBe(events.length);
        expect(raw.reduce((n, w) => n + w.hits10, 0)).toBe(events.filter(([, h]) => h).length);
        for (const [time] of events) expect(raw.some((w) => w.start <= time && time < w.end)).toBe(true);
        for (const w of raw) expect(w.end - w.start).toBe(t.windowMs);
      },
    ));
  });

  it('refuses a window that is not a positive number of ms', () => {
    expect(() => new TimelineBuckets({ windowMs: 0 })).toThrow(/positive number of ms/);
  });

  it('runPrequential records the series without changing the totals', () => {
    const ids = new Map([['a', 0], ['b', 1], ['c', 2]]);
    const model: PrequentialModel = { name: 'fixed', idOf: (i) => ids.get(i) ?? -1, top: () => [2, 1, 0], learn: () => {} };
    const ev = (userId: string, itemId: string, t: number): UserEvent => ({
      eventId: `${userId}${t}`, userId, type: 'purchase', eventTime: t, itemId, quantity: 1, price: null, rating: null, sessionId: null, context: null, properties: {},
    });
    const d = Date.UTC(2011, 0, 1);
    const m = runPrequential([ev('u', 'a', d), ev('u', 'b', d + 1), ev('u', 'x', d + DAY_MS), ev('u', 'c', d + 2 * DAY_MS)], model);
    expect(m.tested).toBe(3);
    expect(m.hr10).toBeCloseTo(2 / 3, 12);
    expect(m.timeline.windowMs).toBe(DAY_MS);
    expect(m.timeline.points.map((p) => [p.tested, p.hr10, p.ndcg10])).toEqual([[1, 1, 1 / Math.log2(3)], [1, 0, 0], [1, 1, 1]]);
    expect(m.timeline.points.at(-1)!.cumulativeNdcg10).toBeCloseTo(m.ndcg10, 12);
  });
});
