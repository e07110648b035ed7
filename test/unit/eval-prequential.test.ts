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
    expect(learned.length).toBe(5);
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
