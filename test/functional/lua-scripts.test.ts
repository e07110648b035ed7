/** The state scripts against the real Redis: replayed offsets are no-ops; state and offset move together. */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createRedis, type RedisClient } from '../../src/stores/redis-client.js';
import { deleteKeysWithPrefix } from '../../src/stores/maintenance.js';
import { StateStore } from '../../src/stores/state-store.js';
import { Keys } from '../../src/stores/keys.js';
import { ScriptRejectedError } from '../../src/errors.js';
import { testConfig } from '../support/env.js';

let redis: RedisClient;
let store: StateStore;
const cfg = testConfig();

beforeAll(() => {
  redis = createRedis(cfg);
  store = new StateStore(redis, cfg.keyPrefix);
});
afterAll(async () => {
  if (!redis) return;
  await deleteKeysWithPrefix(redis, cfg.keyPrefix);
  await redis.quit();
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

