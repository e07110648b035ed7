/** Identity stitching's snapshot: which of a user's keys move to the known user is decided for every key of the registry. */
import { describe, it, expect } from 'vitest';
import { USER_OWNED } from '../../src/stores/user-owned.js';
import { MOVED_KEYS, NOT_MOVED_KEYS, activityOf, recommenderOf } from '../../src/stores/profile-store.js';
import { parseProfile } from '../../src/domain/profile.js';

describe('the profile snapshot', () => {
  it('decides, for every per-user key of the registry, whether it moves on an identify (and says why not)', () => {
    const userKeys = USER_OWNED.filter((e) => e.kind === 'user-key').map((e) => e.name).sort();
    expect([...MOVED_KEYS, ...Object.keys(NOT_MOVED_KEYS)].sort()).toEqual(userKeys);
    for (const why of Object.values(NOT_MOVED_KEYS)) expect(why.length).toBeGreaterThan(20);
  });

  it('reads ingest\'s keys as an activity snapshot that parses back, and none when nothing is stored', () => {
    const a = activityOf({ view: '3', purchase: '1', firstSeen: '10', lastSeen: '30', junk: 'x' }, ['i2', 'i1'], ['i1', '25']);
    expect(a).toEqual({ counts: { view: 3, purchase: 1 }, firstSeen: 10, lastSeen: 30, recent: ['i2', 'i1'], purchased: [['i1', 25]] });
    expect(activityOf({}, [], [])).toBeNull();
    const rec = recommenderOf({ h: { i: ['i1'], w: [2], t: [30] }, p: [['i1', 1, 25]], c: 'DE', lt: 30, lh: 'x', li: ['i9'] });
    expect(rec).toEqual({ h: { i: ['i1'], w: [2], t: [30] }, p: [['i1', 1, 25]], c: 'DE', lt: 30 });
    expect(recommenderOf({ h: 'nope' })).toBeNull();
    const profile = { v: 1 as const, activity: a, features: null, recommender: rec };
    expect(parseProfile(JSON.stringify(profile))).toEqual(profile);
  });
});
