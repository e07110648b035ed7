/** The ingest plan with the rights stage's merge mark: an anonymous profile's activity as one per-user record. */
import { describe, it, expect } from 'vitest';
import { MERGE_RECORD, RESET_RECORD, planIngest, type OffsetEvent } from '../../src/stages/ingest/plan.js';
import { EVENT_TYPES, type UserEvent } from '../../src/domain/events.js';
import type { ActivitySnapshot, ProfileSnapshot } from '../../src/domain/profile.js';

const ev = (userId: string, type: UserEvent['type'], itemId: string | null, t: number): UserEvent => ({
  eventId: `${userId}-${t}`, userId, type, eventTime: t, itemId, quantity: null, price: null, rating: null, sessionId: null, context: null, properties: {},
});
const activity: ActivitySnapshot = { counts: { view: 2, purchase: 1 }, firstSeen: 5, lastSeen: 9, recent: ['b', 'a'], purchased: [['b', 9]] };
const profile = (a: ActivitySnapshot | null): ProfileSnapshot => ({ v: 1, activity: a, features: null, recommender: null });

describe('planIngest with merge records', () => {
  it('turns a merge into the user\'s MERGE_RECORD delta at its offset, in order, never in popularity', () => {
    const records: OffsetEvent[] = [
      { offset: 1, event: ev('K', 'purchase', 'x', 10) },
      { offset: 2, event: { ...ev('K', 'identify', 'p', 20), profile: JSON.stringify(profile(activity)) }, merge: profile(activity) },
      { offset: 3, event: ev('K', 'view', 'y', 30) },
    ];
    const plan = planIngest(records);
    expect(plan.users.get('K')).toEqual([[1, 'purchase', 'x', 10], [2, MERGE_RECORD, JSON.stringify(activity), 20], [3, 'view', 'y', 30]]);
    expect(JSON.parse(plan.users.get('K')![1]![2] as string)).toEqual(activity);
    expect(plan.popularity).toEqual([[1, 'x', 1]]);
  });

  it('a merge whose snapshot has no activity yields no delta', () => {
    const plan = planIngest([{ offset: 4, event: ev('K', 'identify', null, 40), merge: { ...profile(null), features: { v: 1 } } }]);
    expect(plan.users.size).toBe(0);
    expect(plan.popularity).toEqual([]);
  });

  it('never counts a merge in popularity, even with purchases in the snapshot or an item on the event', () => {
    const plan = planIngest([{ offset: 5, event: ev('K', 'purchase', 'z', 50), merge: profile(activity) }]);
    expect(plan.users.get('K')).toEqual([[5, MERGE_RECORD, JSON.stringify(activity), 50]]);
    expect(plan.popularity).toEqual([]);
  });

  it('a merge marker is neither an event type nor the reset marker', () => {
    expect((EVENT_TYPES as readonly string[]).includes(MERGE_RECORD)).toBe(false);
    expect(MERGE_RECORD).not.toBe(RESET_RECORD);
  });
});
