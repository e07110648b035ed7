/**
 * A fresh Cluster client knows no node until its slots are loaded: anything that works "on every master" (SCAN,
 * the eviction-policy check, deleting a prefix) must wait for them, or it silently covers none.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { createRedis, readyMasters, assertNoEviction } from '../../src/stores/redis-client.js';
import { deleteKeysWithPrefix, scanKeys } from '../../src/stores/maintenance.js';
import { testConfig } from '../support/env.js';
import { bootstrapState } from '../../src/stores/bootstrap.js';
import { Keys } from '../../src/stores/keys.js';

const CLUSTER_NODES = process.env.ATTUNE_REDIS_CLUSTER_NODES || '127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002';
const cfg = testConfig({ redisClusterNodes: CLUSTER_NODES });
const writer = createRedis(cfg);
afterAll(async () => {
  await deleteKeysWithPrefix(writer, cfg.keyPrefix);
  await writer.quit();
});

describe('a fresh Cluster client', () => {
  it('scans, checks and deletes on every master, not on none', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `${cfg.keyPrefix}:{k${i}}:x`);
    await Promise.all(keys.map((k) => writer.set(k, '1')));

    // Each step on a client created just before it, as `attune reset` and start-up do.
    const fresh = Array.from({ length: 4 }, () => createRedis(cfg));
    try {
      expect((await readyMasters(fresh[0])).length).toBe(3);
      await expect(assertNoEviction(fresh[1])).resolves.toBeUndefined();
      let seen = 0;
      for await (const batch of scanKeys(fresh[2], `${cfg.keyPrefix}:*`)) seen += batch.length;
      expect(seen).toBe(keys.length);
      expect(await deleteKeysWithPrefix(fresh[3], cfg.keyPrefix)).toBe(keys.length);
      expect((await Promise.all(keys.map((k) => writer.exists(k)))).every((n) => n === 0)).toBe(true);
    } finally {
      for (const c of fresh) c.disconnect();
    }
  });

  it('runs scripts with a variable number of keys side by side on different masters (not one auto-pipeline)', async () => {
    // Users whose keys hash to all three masters, each erased with the same key count in the same tick: grouped by
    // their first argument (the count), ioredis queued them as one pipeline and the Cluster refused it every time.
    await bootstrapState(writer, cfg.keyPrefix);
    const keys = new Keys(cfg.keyPrefix);
    const users = Array.from({ length: 12 }, (_, i) => `erase-side-by-side-${i}`);
    for (const u of users) await writer.set(keys.userRecommendations(u), 'x');
    const erased = await Promise.all(users.map((u) => writer.eraseUser(2, keys.userSubject(u), keys.userRecommendations(u), 'delete')));
    expect(erased.every((n) => Number(n) >= 1)).toBe(true);
    expect((await Promise.all(users.map((u) => writer.exists(keys.userRecommendations(u))))).every((n) => n === 0)).toBe(true);
  });
});
