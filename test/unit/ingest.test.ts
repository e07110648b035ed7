import { describe, it, expect } from 'vitest';
import { planIngest } from '../../src/stages/ingest/plan.js';
import type { UserEvent } from '../../src/domain/events.js';

const ev = (userId: string, type: UserEvent['type'], itemId: string | null, t: number): UserEvent => ({
  eventId: `${userId}-${t}`, userId, type, eventTime: t, itemId, quantity: null, price: null, rating: null, sessionId: null, context: null, properties: {},
});

describe('planIngest', () => {
  it('groups records per user in offset order and counts purchases for popularity; consent and erase requests are not activity', () => {
    const plan = planIngest([
      { offset: 10, event: ev('a', 'view', 'x', 1) },
      { offset: 11, event: ev('b', 'purchase', 'y', 2) },
      { offset: 12, event: ev('a', 'purchase', 'x', 3) },
      { offset: 13, event: ev('a', 'consent', null, 4) },
    ]);
    expect([...plan.users.keys()]).toEqual(['a', 'b']);
    expect(plan.users.get('a')).toEqual([[10, 'view', 'x', 1], [12, 'purchase', 'x', 3]]);
    expect(plan.popularity).toEqual([[11, 'y', 1], [12, 'x', 1]]);
  });
});
