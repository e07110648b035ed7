/**
 * A suite's own bootstrapped Redis state: registers the suite's beforeAll (connect, StateStore, bootstrap marker)
 * and afterAll (delete the suite's keys, quit), and hands the client and store to the suite.
 */
import { afterAll, beforeAll } from 'vitest';
import type { Config } from '../../src/config/config.js';
import { bootstrapState } from '../../src/stores/bootstrap.js';
import { deleteKeysWithPrefix } from '../../src/stores/maintenance.js';
import { createRedis, type RedisClient } from '../../src/stores/redis-client.js';
import { StateStore } from '../../src/stores/state-store.js';

export function useBootstrappedState(cfg: Config, ready: (redis: RedisClient, store: StateStore) => void): void {
  let redis: RedisClient | undefined;
  beforeAll(async () => {
    redis = createRedis(cfg);
    ready(redis, new StateStore(redis, cfg.keyPrefix));
    await bootstrapState(redis, cfg.keyPrefix);
  });
  afterAll(async () => {
    if (!redis) return;
    await deleteKeysWithPrefix(redis, cfg.keyPrefix);
    await redis.quit();
  });
}
