/**
 * A fresh Cluster client knows no node until its slots are loaded: anything that works "on every master" (SCAN,
 * the eviction-policy check, deleting a prefix) must wait for them, or it silently covers none.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { createRedis, readyMasters, assertNoEviction } from '../../src/stores/redis-client.js';
import { deleteKeysWithPrefix, scanKeys } from '../../src/stores/maintenance.js';
import { testConfig } from '../support/env.js';

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
});
