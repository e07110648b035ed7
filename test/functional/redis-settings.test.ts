/**
 * The worker refuses a Redis whose maxmemory-policy may evict keys (evicted state is state silently lost):
 * `attune worker` exits non-zero with a message naming the setting and the fix, before consuming anything.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createRedis } from '../../src/stores/redis-client.js';
import { startWorker } from '../../src/topology/worker.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { ConfigError } from '../../src/errors.js';
import { Codec } from '../../src/stages/decode/codec.js';
import { topicNames } from '../../src/config/config.js';
import { testConfig } from '../support/env.js';
import { spawnWorker } from '../support/worker-process.js';
import { startRedisServer, type TestRedis } from '../support/redis-server.js';

const PORT = 6391;
let server: TestRedis;

beforeAll(async () => {
  server = await startRedisServer(PORT, ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
});
afterAll(async () => {
  await server?.stop();
});

describe('Redis settings', () => {
  it('startWorker rejects an evicting Redis with a ConfigError naming maxmemory-policy and the fix', async () => {
    const cfg = testConfig({ redisUrl: server.url, redisClusterNodes: '' });
    const err = await startWorker(cfg, new KafkajsClient(cfg.kafkaBrokers, 'attune-test')).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('REDIS_EVICTION_POLICY');
    expect((err as Error).message).toMatch(/maxmemory-policy must be noeviction/);
    expect((err as Error).message).toMatch(/allkeys-lru/);
    expect((err as Error).message).toMatch(/CONFIG SET maxmemory-policy noeviction/);
    // Nothing was written to the refused Redis.
    const r = createRedis(cfg);
    expect(await r.dbsize()).toBe(0);
    await r.quit();
  });

  it('`attune worker` exits 1 and says why', async () => {
    const cfg = testConfig({ redisUrl: server.url, redisClusterNodes: '' });
    const w = spawnWorker(cfg);
    const exit = await w.exited;
    expect(exit.code, w.output()).toBe(1);
    expect(w.output()).toMatch(/attune: Redis maxmemory-policy must be noeviction, but 127\.0\.0\.1:6391 has allkeys-lru/);
  });

  it('starts once the policy is noeviction', async () => {
    server.cli('config', 'set', 'maxmemory-policy', 'noeviction');
    const cfg = testConfig({ redisUrl: server.url, redisClusterNodes: '' });
    await new Codec(cfg.registryUrl, topicNames(cfg)).registerAll(); // as `attune topics` does: the worker only looks schemas up
    const worker = await startWorker(cfg, new KafkajsClient(cfg.kafkaBrokers, 'attune-test'));
    await worker.stop();
    expect(await worker.done).toBe(0);
  });
});
