/** The ingest plan with the rights stage's marks: resets are per-user records in offset order, anonymous events popularity only. */
import { describe, it, expect } from 'vitest';
import { planIngest, RESET_RECORD, type OffsetEvent } from '../../src/stages/ingest/plan.js';
import type { UserEvent } from '../../src/domain/events.js';
import { EVENT_TYPES } from '../../src/domain/events.js';

const ev = (userId: string, type: UserEvent['type'], itemId: string | null, t: number): UserEvent => ({
  eventId: `${userId}-${t}`, userId, type, eventTime: t, itemId, quantity: null, price: null, rating: null, sessionId: null, context: null, properties: {},
});

describe('planIngest with resets and anonymous events', () => {
  it('puts a reset in the user\'s records at its offset, not counted in popularity', () => {
    const records: OffsetEvent[] = [
      { offset: 1, event: ev('P1', 'purchase', 'x', 10) },
      { offset: 2, event: ev('P1', 'erase', null, 20), reset: 'erasure' },
      { offset: 3, event: ev('P2', 'consent', null, 30), reset: 'consent' },
      { offset: 4, event: ev('P1', 'view', 'y', 40) },
    ];
    const plan = planIngest(records);
    expect(plan.users.get('P1')).toEqual([[1, 'purchase', 'x', 10], [2, RESET_RECORD, false, 20], [4, 'view', 'y', 40]]);
    expect(plan.users.get('P2')).toEqual([[3, RESET_RECORD, false, 30]]);
    expect(plan.popularity).toEqual([[1, 'x', 1]]);
  });

  it('counts an anonymous event in popularity only, with no per-user record', () => {
    const plan = planIngest([
      { offset: 5, event: ev('P3', 'purchase', 'z', 50), anonymous: true },
      { offset: 6, event: ev('P3', 'view', 'z', 60), anonymous: true },
    ]);
    expect(plan.users.size).toBe(0);
    expect(plan.popularity).toEqual([[5, 'z', 1]]);
  });

  it('a reset marker can never be an event type', () => {
    expect((EVENT_TYPES as readonly string[]).includes(RESET_RECORD)).toBe(false);
  });
});
