/** The state scripts against the real Redis: replayed offsets are no-ops; state and offset move together. */
import { describe, it, expect } from 'vitest';
import { createRedis, type RedisClient } from '../../src/stores/redis-client.js';
import { deleteKeysWithPrefix } from '../../src/stores/maintenance.js';
import { StateStore } from '../../src/stores/state-store.js';
import { Keys } from '../../src/stores/keys.js';
import { FencedError, ScriptRejectedError, StateLostError, StateRebuiltError } from '../../src/errors.js';
import { bootstrapState, missingGuards, readBootstrap, rebuildState } from '../../src/stores/bootstrap.js';
import { guardKeyFor, runFenced, fenceField } from '../../src/stores/guard.js';
import { testConfig } from '../support/env.js';
import { useBootstrappedState } from '../support/redis-state.js';
import { DedupeStore } from '../../src/stages/dedupe/store.js';
import { RESET_RECORD } from '../../src/stages/ingest/plan.js';

let redis: RedisClient;
let store: StateStore;
const cfg = testConfig();

useBootstrappedState(cfg, (r, s) => {
  redis = r;
  store = s;
});

describe('applyUserEvents', () => {
  const field = Keys.partitionField('events', 0);
  it('applies new records once and skips replays', async () => {
    const recs: [number, string, string | false, number][] = [[5, 'view', 'a', 100], [6, 'purchase', 'b', 200], [7, 'consent', false, 300]];
    expect(await store.applyUser('u1', field, 20, recs)).toBe(3);
    expect(await store.applyUser('u1', field, 20, recs)).toBe(0);
    // A replay that overlaps: only offset 8 is new.
    expect(await store.applyUser('u1', field, 20, [[7, 'consent', false, 300], [8, 'view', 'a', 400]])).toBe(1);
    const counts = await store.userCounts('u1');
    expect(counts).toMatchObject({ view: '2', purchase: '1', consent: '1', firstSeen: '100', lastSeen: '400' });
    expect(await store.recentItems('u1')).toEqual(['a', 'b']);
    expect(await store.purchasedFlags('u1', ['a', 'b'])).toEqual([false, true]);
  });
  it('a reset record clears counts, recent items and purchases at its offset, uncounted; a replay is a no-op', async () => {
    const recs: [number, string, string | false, number][] = [
      [1, 'purchase', 'a', 100], [2, 'view', 'b', 200], [3, RESET_RECORD, false, 300], [4, 'view', 'c', 400],
    ];
    expect(await store.applyUser('ur', field, 20, recs)).toBe(4);
    const after = { counts: await store.userCounts('ur'), recent: await store.recentItems('ur'), bought: await store.purchasedFlags('ur', ['a', 'c']) };
    // Only what came after the reset: the reset itself is no count, and nothing before it survives.
    expect(after).toEqual({ counts: { view: '1', firstSeen: '400', lastSeen: '400' }, recent: ['c'], bought: [false, false] });
    // The same records again (a replay), and a replay that overlaps the reset: nothing changes.
    expect(await store.applyUser('ur', field, 20, recs)).toBe(0);
    expect(await store.applyUser('ur', field, 20, recs.slice(2))).toBe(0);
    expect({ counts: await store.userCounts('ur'), recent: await store.recentItems('ur'), bought: await store.purchasedFlags('ur', ['a', 'c']) }).toEqual(after);
    // A reset as the user's last record leaves no activity at all, and keeps the offset gate.
    expect(await store.applyUser('ur', field, 20, [[5, RESET_RECORD, false, 500]])).toBe(1);
    expect(await redis.exists(store.keys.userCounts('ur'), store.keys.userRecent('ur'), store.keys.userPurchased('ur'))).toBe(0);
    expect(await store.applyUser('ur', field, 20, [[4, 'view', 'c', 400], [5, RESET_RECORD, false, 500]])).toBe(0);
    expect(await redis.exists(store.keys.userCounts('ur'))).toBe(0);
  });
  it('a micro-batch applied in one call leaves what applying its records one by one leaves', async () => {
    // Random runs with repeated items, purchases, item-less events, times out of order and resets; the
    // one-by-one application is the reference (for a single record the combined script does only that record).
    let seed = 7;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) % n; // high bits: the low ones cycle
    const types = ['view', 'purchase', 'click', 'consent', RESET_RECORD];
    const state = async (u: string) => ({
      counts: await redis.hgetall(store.keys.userCounts(u)),
      recent: await redis.lrange(store.keys.userRecent(u), 0, -1),
      bought: await redis.zrange(store.keys.userPurchased(u), 0, -1, 'WITHSCORES'),
      applied: await redis.hgetall(store.keys.userApplied(u)),
    });
    for (let run = 0; run < 60; run++) {
      const recs: [number, string, string | false, number][] = [];
      let offset = rand(3);
      for (let i = 0, n = 1 + rand(30); i < n; i++) {
        const type = types[rand(20) === 0 ? 4 : rand(4)]!;
        recs.push([offset, type, type === RESET_RECORD || type === 'consent' || rand(6) === 0 ? false : `i${rand(5)}`, 1000 + rand(50) * 10]);
        offset += 1 + rand(2);
      }
      const cap = 2 + rand(6);
      const [whole, single] = [`combined-${run}`, `single-${run}`];
      // a first call, so that the second one meets stored state (and overlaps it: a replay's prefix is skipped)
      const cut = rand(recs.length);
      expect(await store.applyUser(whole, field, cap, recs.slice(0, cut))).toBe(cut);
      expect(await store.applyUser(whole, field, cap, recs)).toBe(recs.length - cut);
      for (const r of recs) expect(await store.applyUser(single, field, cap, [r])).toBe(1);
      expect(await state(whole)).toEqual(await state(single));
    }
  });
  it('caps the distinct recent items', async () => {
    const recs = Array.from({ length: 10 }, (_, i) => [i, 'view', `i${i}`, i] as [number, string, string, number]);
    await store.applyUser('u2', field, 3, recs);
    expect(await store.recentItems('u2')).toEqual(['i9', 'i8', 'i7']);
  });
  it('keeps offsets of different partitions apart', async () => {
    expect(await store.applyUser('u3', Keys.partitionField('events', 1), 20, [[1, 'view', 'a', 1]])).toBe(1);
    expect(await store.applyUser('u3', Keys.partitionField('events', 2), 20, [[1, 'view', 'a', 1]])).toBe(1);
  });
  it('maps a malformed argument to a typed error', async () => {
    const k = store.keys;
    const res = await redis.applyUserEvents(k.userCounts('x'), k.userRecent('x'), k.userPurchased('x'), k.userApplied('x'), field, 20, 'not json');
    expect(res).toBe(-1);
    // Through the store, the code becomes a typed, non-retriable error.
    const err = await store.applyUser('x', field, 20, 'oops' as never).catch((e) => e);
    expect(err).toBeInstanceOf(ScriptRejectedError);
    expect(err).toMatchObject({ code: 'SCRIPT_BAD_ARGS', retriable: false });
  });
});

describe('applyPopularity', () => {
  const field = Keys.partitionField('events', 0);
  it('adds deltas once per offset and advances with empty batches', async () => {
    expect(await store.applyPopularity(field, 12, [[10, 'a', 1], [11, 'b', 1], [12, 'a', 1]])).toBe(3);
    expect(await store.applyPopularity(field, 12, [[10, 'a', 1], [11, 'b', 1], [12, 'a', 1]])).toBe(0);
    expect(await store.applyPopularity(field, 14, [[12, 'a', 1], [14, 'c', 1]])).toBe(1);
    expect(await store.applyPopularity(field, 20, [])).toBe(0);
    expect(await store.applyPopularity(field, 15, [[15, 'c', 1]])).toBe(0);
    expect(await store.topPopular(10)).toEqual([{ itemId: 'a', count: 2 }, { itemId: 'c', count: 1 }, { itemId: 'b', count: 1 }]);
  });
});

describe('partition progress', () => {
  it('only moves forward', async () => {
    await store.writeProgress('events', 0, 10);
    await store.writeProgress('events', 0, 5);
    expect(await store.readProgress('events', 0)).toBe(10);
  });
});


describe('the guard every command runs first', () => {
  const field = Keys.partitionField('events', 0);
  it('refuses to write into a slot whose guard is gone (state lost), writing nothing', async () => {
    await store.applyUser('g1', field, 20, [[1, 'view', 'a', 1]]);
    await redis.del(guardKeyFor(store.keys.userCounts('g1')));
    await expect(store.applyUser('g1', field, 20, [[2, 'view', 'b', 2]])).rejects.toBeInstanceOf(StateLostError);
    expect(await store.userCounts('g1')).toMatchObject({ view: '1' });
    expect(await missingGuards(redis, cfg.keyPrefix)).toBe(1);
  });
  it('refuses a worker of an older epoch', async () => {
    await redis.hset(guardKeyFor(store.keys.userCounts('g2')), 'epoch', 'another-epoch');
    await expect(store.applyUser('g2', field, 20, [[1, 'view', 'a', 1]])).rejects.toBeInstanceOf(StateRebuiltError);
    expect(await store.userCounts('g2')).toEqual({});
  });
  it('fences a revoked owner out of every slot the new owner wrote to, and out of the partition at once', async () => {
    const old = await store.acquireFence('events', 3);
    const now = await store.acquireFence('events', 3);
    expect(now).toBeGreaterThan(old);
    const f = (token: number) => ({ field: fenceField('events', 3), token });
    const f3 = Keys.partitionField('events', 3);
    // The old owner still writes where the new one has not been yet (offsets keep that exactly-once)...
    expect(await runFenced(f(old), () => store.applyUser('g3', f3, 20, [[1, 'view', 'a', 1]]))).toBe(1);
    // ...but not the partition's progress: the new token was recorded there when it was acquired.
    await expect(runFenced(f(old), () => store.writeProgress('events', 3, 1))).rejects.toBeInstanceOf(FencedError);
    expect(await runFenced(f(now), () => store.applyUser('g3', f3, 20, [[2, 'view', 'b', 2]]))).toBe(1);
    await expect(runFenced(f(old), () => store.applyUser('g3', f3, 20, [[3, 'view', 'c', 3]]))).rejects.toBeInstanceOf(FencedError);
    expect(await store.userCounts('g3')).toMatchObject({ view: '2' });
    await runFenced(f(now), () => store.writeProgress('events', 3, 2));
    expect(await store.readProgress('events', 3)).toBe(2);
    // Other partitions are not affected by partition 3's tokens.
    expect(await runFenced({ field: fenceField('events', 4), token: 1 }, () => store.applyUser('g3', Keys.partitionField('events', 4), 20, [[1, 'view', 'd', 4]]))).toBe(1);
  });
  it('rebuilds a lost state: everything wiped, a new epoch, old workers refused', async () => {
    const prefix = `${cfg.keyPrefix}-rb`;
    const s = new StateStore(redis, prefix);
    const first = await bootstrapState(redis, prefix);
    await s.applyUser('r1', field, 20, [[1, 'purchase', 'a', 1]]);
    await redis.del(guardKeyFor(s.keys.userCounts('r1'))); // a lost slot
    await expect(s.applyUser('r1', field, 20, [[2, 'view', 'a', 2]])).rejects.toBeInstanceOf(StateLostError);
    const other = createRedis(cfg); // a second worker's client, still on the first epoch
    try {
      await new StateStore(other, prefix).applyUser('r2', field, 20, [[1, 'view', 'a', 1]]);
      const [a, b] = await Promise.all([rebuildState(redis, prefix, first), rebuildState(other, prefix, first)]);
      expect(a).toBe(b); // one rebuild, both see its epoch
      expect(a).not.toBe(first);
      expect(await readBootstrap(redis, prefix)).toEqual({ epoch: a, complete: true });
      expect(await missingGuards(redis, prefix)).toBe(0);
      expect(await s.userCounts('r1')).toEqual({});
      expect(await s.userCounts('r2')).toEqual({});
      await expect(new StateStore(other, prefix).applyUser('r2', field, 20, [[2, 'view', 'a', 2]])).rejects.toBeInstanceOf(StateRebuiltError);
    } finally {
      await deleteKeysWithPrefix(redis, prefix);
      await other.quit();
    }
  });
});

describe('the offset gate shared by the delta scripts (includes/offset-gate.lua)', () => {
  const field = Keys.partitionField('events', 7);
  const k = () => store.keys;
  it('segment counts gate each delta, not the batch, and store the last value as given', async () => {
    const deltas = (d: Array<[number, string, number]>) => JSON.stringify(d);
    expect(await redis.applyCounts(k().segmentCounts(), k().segmentCountsApplied(), field, 5, deltas([[4, 's1', 1], [5, 's2', 1]]))).toBe(2);
    // A last at or below the stored one is not recorded, but deltas above the stored value still apply.
    expect(await redis.applyCounts(k().segmentCounts(), k().segmentCountsApplied(), field, 3, deltas([[5, 's1', 1], [6, 's1', 1]]))).toBe(1);
    expect(await redis.hget(k().segmentCountsApplied(), field)).toBe('5');
    expect(await redis.applyCounts(k().segmentCounts(), k().segmentCountsApplied(), field, 9, '[]')).toBe(0);
    expect(await redis.hget(k().segmentCountsApplied(), field)).toBe('9');
    expect(await redis.hgetall(k().segmentCounts())).toEqual({ s1: '2', s2: '1' });
    expect(await redis.applyCounts(k().segmentCounts(), k().segmentCountsApplied(), field, 10, 'nope')).toBe(-1);
  });
  it('co-occurrence rows take a whole batch once per row, counting its increments', async () => {
    const [a, b] = [k().itemCooc('ga'), k().itemCooc('gb')];
    const [x, y, n] = [Keys.coocItemField('x'), Keys.coocItemField('y'), Keys.COOC_NORM_FIELD];
    expect(await redis.applyCoocRow(a, field, 3, JSON.stringify([[x, 1], [n, 0.5]]))).toBe(2);
    expect(await redis.applyCoocRow(a, field, 3, JSON.stringify([[x, 1]]))).toBe(0);
    // Row a already has batch 3; row b gets it. Then batch 4 goes to both.
    expect(await redis.applyCoocRows(2, a, b, field, 3, JSON.stringify([[[x, 1]], [[y, 2], [x, 1]]]))).toBe(2);
    expect(await redis.applyCoocRows(2, a, b, field, 4, JSON.stringify([[[x, 1]], []]))).toBe(1);
    expect(await redis.applyCoocRows(2, a, b, field, 5, JSON.stringify([[]]))).toBe(-1);
    expect(await redis.hgetall(a)).toEqual({ [x]: '2', [n]: '0.5', [field]: '4' });
    expect(await redis.hgetall(b)).toEqual({ [y]: '2', [x]: '1', [field]: '4' });
  });
  it('co-occurrence rows refuse a delta field outside the item namespace: no raw id can hit the norm or an offset', async () => {
    const a = k().itemCooc('gc');
    for (const bad of [field, 'x', 'o:attune.events:3', 'n', ['i:x', 'NaN']]) {
      const delta = Array.isArray(bad) ? bad : [bad, 1];
      expect(await redis.applyCoocRow(a, field, 7, JSON.stringify([delta]))).toBe(-1);
      expect(await redis.applyCoocRows(1, a, field, 7, JSON.stringify([[delta]]))).toBe(-1);
    }
    expect(await redis.exists(a)).toBe(0);
  });
});

describe('dedupeEvents: duplicates by event id within a window of offsets, exactly once', () => {
  const T = 'events';
  const P = 9;
  const dd = () => new DedupeStore(redis, cfg.keyPrefix);
  const recs = (...r: Array<[number, string]>) => r;
  it('dead-letters a repeat at a higher offset, not a replay of the same record, and answers replays as before', async () => {
    const d = dd();
    // Batch 0..3: "a" repeats inside the batch (offset 2), "__proto__" and "_n" are ordinary ids.
    expect([...await d.duplicates(T, P, 100, 3, recs([0, 'a'], [1, '__proto__'], [2, 'a'], [3, '_n']))]).toEqual([2]);
    // The same batch again (a crash before progress): the same answer, although "a" is now stored at offset 0.
    expect([...await d.duplicates(T, P, 100, 3, recs([0, 'a'], [1, '__proto__'], [2, 'a'], [3, '_n']))]).toEqual([2]);
    // A replay split finer answers the same for each part.
    expect([...await d.duplicates(T, P, 100, 1, recs([0, 'a'], [1, '__proto__']))]).toEqual([]);
    expect([...await d.duplicates(T, P, 100, 3, recs([2, 'a'], [3, '_n']))]).toEqual([2]);
    // The next batch: repeats of ids applied before are duplicates; new ids are not.
    await redis.set(store.keys.partitionProgress(T, P), '3');
    expect([...await d.duplicates(T, P, 100, 6, recs([4, '__proto__'], [5, 'b'], [6, 'a']))]).toEqual([4, 6]);
    // Progress passed 3: the stored decision for offset 2 is dropped; only 4 and 6 are kept for replays.
    expect(JSON.parse((await redis.hget(store.keys.partitionDedupeState(T, P), 'dups'))!)).toEqual([4, 6]);
    expect([...await d.duplicates(T, P, 100, 6, recs([4, '__proto__'], [5, 'b'], [6, 'a']))]).toEqual([4, 6]);
  });
  it('forgets ids that fell out of the window, and holds at most window + 1 of them', async () => {
    const d = dd();
    const p = P + 1;
    const window = 10;
    for (let b = 0; b < 5; b++) {
      const batch = Array.from({ length: 10 }, (_, i) => [b * 10 + i, `id${b * 10 + i}`] as [number, string]);
      expect((await d.duplicates(T, p, window, b * 10 + 9, batch)).size).toBe(0);
      await redis.set(store.keys.partitionProgress(T, p), String(b * 10 + 9));
    }
    expect(await d.windowSize(T, p)).toBeLessThanOrEqual(window + 1);
    // id45 was applied at 45: at 55 it is still inside the window (55 - 45 = 10), id30 at 60 is not.
    expect([...await d.duplicates(T, p, window, 60, recs([55, 'id45'], [60, 'id30']))]).toEqual([55]);
  });
  it('refuses arguments that are not a JSON array, writing nothing', async () => {
    const k = store.keys;
    expect(await redis.dedupeEvents(k.partitionDedupe(T, 99), k.partitionDedupeState(T, 99), k.partitionProgress(T, 99), 10, 1, 'nope')).toBe(-1);
    expect(await redis.exists(k.partitionDedupe(T, 99), k.partitionDedupeState(T, 99))).toBe(0);
  });
});
