import { describe, expect, it } from 'vitest';
import type { UserEvent } from '../../src/domain/events.js';
import { attuneModel, popularityModel, runPrequential, type PrequentialModel } from '../../src/eval/prequential.js';

function ev(userId: string, itemId: string, t: number): UserEvent {
  return { eventId: `${userId}${t}`, userId, type: 'purchase', eventTime: t, itemId, quantity: 1, price: null, rating: null, sessionId: null, context: null, properties: {} };
}

describe('prequential evaluation', () => {
  it('tests only events of users seen before, asks before learning, computes rank metrics', () => {
    const learned: string[] = [];
    const ids = new Map([['a', 0], ['b', 1], ['c', 2]]);
    // always recommends [c, b, a]; asserts it is asked before the event is learned
    const stub: PrequentialModel = {
      name: 'stub',
      idOf: (i) => ids.get(i) ?? -1,
      top: (e) => {
        expect(learned).not.toContain(e.eventId);
        return [2, 1, 0];
      },
      learn: (e) => learned.push(e.eventId),
    };
    const events = [ev('u', 'a', 1), ev('u', 'b', 2), ev('v', 'c', 3), ev('u', 'c', 4), ev('v', 'x', 5)];
    const m = runPrequential(events, stub);
    expect(m.tested).toBe(3); // u@2, u@4, v@5
    expect(m.hr10).toBeCloseTo(2 / 3, 12);
    expect(m.ndcg10).toBeCloseTo((1 / Math.log2(3) + 1) / 3, 12);
    expect(m.map10).toBeCloseTo((1 / 2 + 1) / 3, 12);
    expect(m.recall20).toBeCloseTo(2 / 3, 12);
    expect(m.precision10).toBeCloseTo(m.hr10 / 10, 12);
    expect(learned.length).toBe(5);
  });

  it('discovery: tests only a first meeting with the item, and passes the items the user met as the exclusion', () => {
    const ids = new Map<string, number>();
    const asked: Array<{ event: string; excluded: number[] }> = [];
    const stub: PrequentialModel = {
      name: 'stub',
      idOf: (i) => ids.get(i) ?? -1,
      top: (e, _n, exclude) => {
        asked.push({ event: e.eventId, excluded: [...ids.values()].filter((id) => exclude?.(id)) });
        return [...ids.values()].filter((id) => !exclude?.(id));
      },
      learn: (e) => {
        if (!ids.has(e.itemId!)) ids.set(e.itemId!, ids.size);
      },
    };
    // u: a, b, a (a met again: not tested), c; v: b, a
    const events = [ev('u', 'a', 1), ev('u', 'b', 2), ev('u', 'a', 3), ev('v', 'b', 4), ev('u', 'c', 5), ev('v', 'a', 6)];
    const m = runPrequential(events, stub, { protocol: 'discovery' });
    expect(asked.map((a) => a.event)).toEqual(['u2', 'u5', 'v6']);
    expect(asked.map((a) => a.excluded)).toEqual([[0], [0, 1], [1]]); // u met a, then a and b; v met b
    expect(m.tested).toBe(3);
    // the same events under repeat: every event of a user with an earlier one, no exclusion
    asked.length = 0;
    ids.clear();
    const r = runPrequential(events, stub, { protocol: 'repeat' });
    expect(asked.map((a) => a.event)).toEqual(['u2', 'u3', 'u5', 'v6']);
    expect(asked.every((a) => a.excluded.length === 0)).toBe(true);
    expect(r.tested).toBe(4);
  });

  it('the cold slice holds the tested events that are a user\'s 2nd to 5th event', () => {
    const ids = new Map([['hit', 0]]);
    // recommends only "hit": the 2nd–5th events are misses, later ones hits
    const stub: PrequentialModel = { name: 'stub', idOf: (i) => ids.get(i) ?? -1, top: () => [0], learn: () => {} };
    const events = Array.from({ length: 8 }, (_, k) => ev('u', k < 5 ? `x${k}` : 'hit', k + 1));
    const m = runPrequential(events, stub);
    expect(m.tested).toBe(7);
    expect(m.cold.tested).toBe(4);
    expect(m.cold.hr10).toBe(0);
    expect(m.hr10).toBeCloseTo(3 / 7, 12);
  });

  it('refuses an unknown protocol by name', () => {
    expect(() => runPrequential([], popularityModel(), { protocol: 'sometimes' as never })).toThrow(/unknown protocol 'sometimes': use repeat or discovery/);
  });

  it('attune under discovery never lists an item the user met, with the retail preset as with media', () => {
    const events: UserEvent[] = [];
    // views: the purchase window does not exclude them, only the protocol does
    for (let i = 0; i < 600; i++) events.push({ ...ev(`u${i % 13}`, `i${(i * 11) % 37}`, i * 60_000), type: 'view' });
    const met = new Map<string, Set<number>>();
    const model = attuneModel();
    const wrapped: PrequentialModel = {
      ...model,
      top: (e, n, exclude) => {
        const top = Array.from(model.top(e, n, exclude));
        for (const id of top) expect(met.get(e.userId)?.has(id) ?? false).toBe(false);
        return top;
      },
      learn: (e) => {
        model.learn(e);
        if (!met.has(e.userId)) met.set(e.userId, new Set());
        met.get(e.userId)!.add(model.idOf(e.itemId!));
      },
    };
    const m = runPrequential(events, wrapped, { protocol: 'discovery' });
    expect(m.tested).toBeGreaterThan(0);
  });

  it('popularity baseline and attune are deterministic', () => {
    const events: UserEvent[] = [];
    for (let i = 0; i < 400; i++) events.push(ev(`u${i % 17}`, `i${(i * 7) % 23}`, i * 60_000));
    const a = runPrequential(events, attuneModel());
    const b = runPrequential(events, attuneModel());
    expect({ ...a, seconds: 0, eventsPerSecond: 0 }).toEqual({ ...b, seconds: 0, eventsPerSecond: 0 });
    const p = runPrequential(events, popularityModel());
    expect(p.tested).toBe(a.tested);
  });
});
