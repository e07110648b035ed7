import { describe, it, expect } from 'vitest';
import { planIngest } from '../../src/processors/ingest.js';
import { recommendPopular } from '../../src/processors/recommend-popular.js';
import type { UserEvent } from '../../src/domain/events.js';

const ev = (userId: string, type: UserEvent['type'], itemId: string | null, t: number): UserEvent => ({
  eventId: `${userId}-${t}`, userId, type, eventTime: t, itemId, quantity: null, price: null, rating: null, sessionId: null, context: null, properties: {},
});

describe('planIngest', () => {
  it('groups records per user in offset order and counts purchases for popularity', () => {
    const plan = planIngest([
      { offset: 10, event: ev('a', 'view', 'x', 1) },
      { offset: 11, event: ev('b', 'purchase', 'y', 2) },
      { offset: 12, event: ev('a', 'purchase', 'x', 3) },
      { offset: 13, event: ev('a', 'consent', null, 4) },
    ]);
    expect([...plan.users.keys()]).toEqual(['a', 'b']);
    expect(plan.users.get('a')).toEqual([[10, 'view', 'x', 1], [12, 'purchase', 'x', 3], [13, 'consent', false, 4]]);
    expect(plan.popularity).toEqual([[11, 'y', 1], [12, 'x', 1]]);
    expect(plan.lastEvent.get('a')?.eventTime).toBe(4);
  });
});

describe('recommendPopular', () => {
  const popular = [{ itemId: 'a', count: 10 }, { itemId: 'b', count: 5 }, { itemId: 'c', count: 2 }];
  it('skips purchased items, keeps popularity order and explains each item', () => {
    const recs = recommendPopular(popular, new Set(['a']), 5, new Map([['b', 'Mug']]));
    expect(recs.map((r) => r.itemId)).toEqual(['b', 'c']);
    expect(recs[0].score).toBeCloseTo(0.5);
    expect(recs[0].reasons[0].kind).toBe('popular');
    expect(recs[0].reasons[0].text).toContain('Mug');
  });
  it('breaks ties by item id', () => {
    expect(recommendPopular([{ itemId: 'd', count: 1 }, { itemId: 'c', count: 1 }], new Set(), 2).map((r) => r.itemId)).toEqual(['c', 'd']);
  });
  it('stops at n', () => {
    expect(recommendPopular(popular, new Set(), 2)).toHaveLength(2);
  });
});
