/**
 * Identity stitching in ingest against the real Redis: a merge record (MERGE_RECORD) adds an anonymous profile's
 * activity to the known user's, offset-gated and in order with the user's other records (applyUserEvents-4.lua).
 */
import { describe, it, expect } from 'vitest';
import type { RedisClient } from '../../src/stores/redis-client.js';
import type { StateStore } from '../../src/stores/state-store.js';
import { Keys } from '../../src/stores/keys.js';
import { ScriptRejectedError } from '../../src/errors.js';
import { MERGE_RECORD, RESET_RECORD, type UserRecordDelta } from '../../src/stages/ingest/plan.js';
import type { ActivitySnapshot } from '../../src/domain/profile.js';
import { testConfig } from '../support/env.js';
import { useBootstrappedState } from '../support/redis-state.js';

let redis: RedisClient;
let store: StateStore;
const cfg = testConfig();
const field = Keys.partitionField('events', 0);

useBootstrappedState(cfg, (r, s) => {
  redis = r;
  store = s;
});

const merge = (offset: number, a: ActivitySnapshot, t = 0): UserRecordDelta => [offset, MERGE_RECORD, JSON.stringify(a), t];
const state = async (u: string) => ({
  counts: await redis.hgetall(store.keys.userCounts(u)),
  recent: await redis.lrange(store.keys.userRecent(u), 0, -1),
  bought: await redis.zrange(store.keys.userPurchased(u), 0, -1, 'WITHSCORES'),
  applied: await redis.hgetall(store.keys.userApplied(u)),
});
const anon: ActivitySnapshot = {
  counts: { view: 3, purchase: 2, click: 1 },
  firstSeen: 500,
  lastSeen: 900,
  recent: ['c', 'b', 'x'],
  purchased: [['b', 800], ['c', 100], ['x', 700]],
};

describe('applyUserEvents with merge records', () => {
  it('a merge into an empty user leaves the snapshot, not counted as an event', async () => {
    expect(await store.applyUser('empty', field, 20, [merge(3, anon, 1000)])).toBe(1);
    expect(await state('empty')).toEqual({
      counts: { view: '3', purchase: '2', click: '1', firstSeen: '500', lastSeen: '900' },
      recent: ['c', 'b', 'x'],
      bought: ['c', '100', 'x', '700', 'b', '800'],
      applied: { [field]: '3' },
    });
  });

  it('a merge into a user with activity sums counts, takes min/max seen, puts the snapshot\'s recent items first, raises purchases only', async () => {
    const own: UserRecordDelta[] = [[1, 'view', 'a', 600], [2, 'purchase', 'b', 950], [3, 'view', 'c', 1000], [4, 'purchase', 'x', 650]];
    expect(await store.applyUser('known', field, 20, own)).toBe(4);
    expect(await store.recentItems('known')).toEqual(['x', 'c', 'b', 'a']);
    expect(await store.applyUser('known', field, 20, [merge(5, anon)])).toBe(1);
    expect(await state('known')).toEqual({
      counts: { view: '5', purchase: '4', click: '1', firstSeen: '500', lastSeen: '1000' },
      // the snapshot's items, in its order, ahead of the user's own (moved, not repeated)
      recent: ['c', 'b', 'x', 'a'],
      // b keeps its later own purchase (950 > 800), x is raised (700 > 650), c is added
      bought: ['c', '100', 'x', '700', 'b', '950'],
      applied: { [field]: '5' },
    });
  });

  it('keeps the recent cap, and leaves seen times alone when the snapshot has none', async () => {
    expect(await store.applyUser('capped', field, 3, [[1, 'view', 'a', 10], [2, 'view', 'd', 20]])).toBe(2);
    const a: ActivitySnapshot = { counts: { view: 1 }, firstSeen: null, lastSeen: null, recent: ['p', 'q', 'a'], purchased: [] };
    expect(await store.applyUser('capped', field, 3, [merge(3, a)])).toBe(1);
    expect(await state('capped')).toEqual({ counts: { view: '3', firstSeen: '10', lastSeen: '20' }, recent: ['p', 'q', 'a'], bought: [], applied: { [field]: '3' } });
  });

  it('a replay of the same records, merges included, is a no-op', async () => {
    const recs: UserRecordDelta[] = [[1, 'view', 'a', 600], merge(2, anon), [3, 'purchase', 'b', 700]];
    expect(await store.applyUser('replay', field, 20, recs)).toBe(3);
    const after = await state('replay');
    expect(await store.applyUser('replay', field, 20, recs)).toBe(0);
    expect(await store.applyUser('replay', field, 20, [merge(2, anon)])).toBe(0);
    expect(await store.applyUser('replay', field, 20, [merge(3, anon)])).toBe(0);
    expect(await state('replay')).toEqual(after);
    // an overlapping replay applies only what is new
    expect(await store.applyUser('replay', field, 20, [merge(2, anon), [4, 'view', 'z', 1]])).toBe(1);
    expect((await state('replay')).counts).toMatchObject({ view: '5', purchase: '3' });
  });

  it('[event, merge, event] in one call leaves what the three in three calls leave', async () => {
    const recs: UserRecordDelta[] = [[1, 'view', 'x', 950], merge(2, anon), [3, 'view', 'b', 1100]];
    expect(await store.applyUser('one', field, 20, recs)).toBe(3);
    for (const r of recs) expect(await store.applyUser('three', field, 20, [r])).toBe(1);
    const one = await state('one');
    expect(one).toEqual(await state('three'));
    // the first event's x is behind the snapshot's items, the last event's b ahead of them
    expect(one.recent).toEqual(['b', 'c', 'x']);
    expect(one.counts).toEqual({ view: '5', purchase: '2', click: '1', firstSeen: '500', lastSeen: '1100' });
  });

  it('reset, then merge, then event: only the merge and the event remain', async () => {
    const recs: UserRecordDelta[] = [[1, 'purchase', 'a', 2000], [2, RESET_RECORD, false, 2100], merge(3, anon), [4, 'view', 'd', 300]];
    expect(await store.applyUser('reset', field, 20, recs)).toBe(4);
    expect(await state('reset')).toEqual({
      counts: { view: '4', purchase: '2', click: '1', firstSeen: '300', lastSeen: '900' },
      recent: ['d', 'c', 'b', 'x'],
      bought: ['c', '100', 'x', '700', 'b', '800'],
      applied: { [field]: '4' },
    });
    for (const r of recs) expect(await store.applyUser('reset-single', field, 20, [r])).toBe(1);
    expect(await state('reset-single')).toEqual(await state('reset'));
  });

  it('a micro-batch with merges applied in one call leaves what applying its records one by one leaves', async () => {
    let seed = 11;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) % n;
    const snapshot = (): ActivitySnapshot => {
      const items = [...new Set(Array.from({ length: rand(5) }, () => `i${rand(6)}`))];
      const t = 1000 + rand(50) * 10;
      return {
        counts: Object.fromEntries(['view', 'purchase', 'click'].filter(() => rand(2) === 0).map((k) => [k, 1 + rand(4)])),
        firstSeen: rand(4) === 0 ? null : t,
        lastSeen: rand(4) === 0 ? null : t + rand(100),
        recent: items,
        purchased: items.filter(() => rand(2) === 0).map((i) => [i, 1000 + rand(50) * 10] as [string, number]),
      };
    };
    for (let run = 0; run < 40; run++) {
      const recs: UserRecordDelta[] = [];
      let offset = rand(3);
      for (let i = 0, n = 1 + rand(25); i < n; i++) {
        const k = rand(20);
        if (k < 3) recs.push(merge(offset, snapshot(), 1000));
        else if (k === 3) recs.push([offset, RESET_RECORD, false, 1000]);
        else {
          const type = ['view', 'purchase', 'click', 'consent'][rand(4)]!;
          recs.push([offset, type, type === 'consent' || rand(6) === 0 ? false : `i${rand(6)}`, 1000 + rand(50) * 10]);
        }
        offset += 1 + rand(2);
      }
      const cap = 2 + rand(6);
      const [whole, single] = [`m-combined-${run}`, `m-single-${run}`];
      const cut = rand(recs.length);
      expect(await store.applyUser(whole, field, cap, recs.slice(0, cut))).toBe(cut);
      expect(await store.applyUser(whole, field, cap, recs)).toBe(recs.length - cut);
      for (const r of recs) expect(await store.applyUser(single, field, cap, [r])).toBe(1);
      expect(await state(whole), `run ${run}`).toEqual(await state(single));
    }
  });

  it('refuses a batch with a malformed merge before writing anything, as a typed non-retriable error', async () => {
    expect(await store.applyUser('bad', field, 20, [[1, 'view', 'a', 10]])).toBe(1);
    const before = await state('bad');
    const good = merge(3, anon);
    const bad: UserRecordDelta[][] = [
      [[2, 'view', 'b', 20], good, [4, MERGE_RECORD, '{not json', 0]],
      [[2, 'view', 'b', 20], [3, MERGE_RECORD, false, 0]],
      [[2, 'view', 'b', 20], [3, MERGE_RECORD, '"a string"', 0]],
      [[2, 'view', 'b', 20], merge(3, { ...anon, counts: { view: 1.5 } })],
      [[2, 'view', 'b', 20], merge(3, { ...anon, counts: { view: -1 } })],
      [[2, 'view', 'b', 20], merge(3, { ...anon, recent: ['a', 5 as never] })],
      [[2, 'view', 'b', 20], merge(3, { ...anon, purchased: [['a', 'later' as never]] })],
      [[2, 'view', 'b', 20], merge(3, { ...anon, firstSeen: 'soon' as never })],
      [[2, 'view', 'b', 20], [3, MERGE_RECORD, JSON.stringify({ counts: {}, recent: [] }), 0]],
      // a malformed merge at a replayed offset fails the call too
      [[0, MERGE_RECORD, '[', 0], [2, 'view', 'b', 20]],
    ];
    for (const recs of bad) {
      const err = await store.applyUser('bad', field, 20, recs).catch((e) => e);
      expect(err, JSON.stringify(recs)).toBeInstanceOf(ScriptRejectedError);
      expect(err).toMatchObject({ code: 'SCRIPT_BAD_ARGS', retriable: false });
      expect(await state('bad')).toEqual(before);
    }
  });
});
