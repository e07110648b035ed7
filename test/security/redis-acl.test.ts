/**
 * Redis over TLS with a least-privilege ACL user, on the single TLS Redis and on the 3-master TLS Cluster that
 * `scripts/services.sh up secure` starts: the user gets only the rules of scripts/lib/redis-acl-rules.txt on the
 * keys `<prefix>:*`, made per run on every node. The worker runs its whole pipeline as that user (bootstrap, the Lua
 * scripts, scans, the eviction check without CONFIG rights) and Redis logs no denial; a user without rights on the
 * prefix, a wrong password and a missing CA each stop start-up with a ConfigError naming the setting.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Redis } from 'ioredis';
import { startWorker } from '../../src/topology/worker.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { topicNames, type Config } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';
import { createRedis, assertNoEviction, assertRedisAccess } from '../../src/stores/redis-client.js';
import { StateStore } from '../../src/stores/state-store.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import type { UserEvent } from '../../src/domain/events.js';
import { testConfig, waitFor, openPipeline, pseudonymOf } from '../support/env.js';
import { spawnWorker } from '../support/worker-process.js';
import { adminNodes, attuneAclRules, deleteByPattern, makeAclUser, secureEnv } from './support.js';

const env = secureEnv();
const T0 = Date.UTC(2012, 2, 1);
const purchase = (userId: string, itemId: string, i: number): UserEvent => ({
  eventId: `${userId}-${i}`, userId, type: 'purchase', eventTime: T0 + i * 1000, itemId, quantity: 1, price: 2,
  rating: null, sessionId: null, context: null, properties: {},
});

/** Worker pipeline as `cfg`'s Redis user: events in, counts in Redis and recommendations out. */
async function runPipeline(cfg: Config) {
  const pipeline = await openPipeline(cfg);
  const worker = await startWorker(cfg, new KafkajsClient(cfg.kafkaBrokers, 'attune-test'));
  try {
    const send = async (events: UserEvent[]) =>
      pipeline.producer.send(pipeline.topics.events, await Promise.all(events.map(async (e) => ({ key: e.userId, value: await pipeline.codec.encodeEvent(e) }))));
    const store = new StateStore(pipeline.redis, cfg.keyPrefix);
    // Users sit on different partitions: the co-buyers first, then alice, so her list sees their pairs.
    await send([purchase('bob', 'a', 1), purchase('bob', 'b', 2), purchase('carol', 'a', 3), purchase('carol', 'c', 4)]);
    await waitFor(async () => (await store.userCounts(pseudonymOf('bob'))).purchase === '2' && (await store.userCounts(pseudonymOf('carol'))).purchase === '2', 'bob and carol applied');
    await send([purchase('alice', 'a', 5)]);
    await waitFor(async () => (await store.userCounts(pseudonymOf('alice'))).purchase === '1', 'alice applied');
    const recs = await waitFor(async () => {
      const out = await readTopicToEnd(pipeline.kafka, topicNames(cfg).recommendations);
      return out.find((r) => r.key === 'alice') ?? null;
    }, "alice's recommendations");
    const forAlice = (await pipeline.codec.decode(recs.value, 1e6)) as unknown as { items: { itemId: string }[] };
    expect(forAlice.items.map((i) => i.itemId).sort()).toEqual(['b', 'c']);
    expect((await fetch(`http://127.0.0.1:${worker.httpPort}/readyz`)).status).toBe(200);
  } finally {
    await worker.stop();
    await pipeline.close();
  }
}

async function startupError(cfg: Config): Promise<unknown> {
  return startWorker(cfg, new KafkajsClient(cfg.kafkaBrokers, 'attune-test')).then(async (w) => { await w.stop(); return null; }, (e: unknown) => e);
}

for (const which of ['single', 'cluster'] as const) {
  describe(`Redis TLS + ACL (${which})`, () => {
    let admins: Redis[];
    const tls = (over: Partial<Record<keyof Config, unknown>>) => {
      const base = testConfig();
      return testConfig({
        ...(which === 'single' ? { redisUrl: env.REDIS_TLS_URL } : { redisClusterNodes: env.REDIS_TLS_CLUSTER_NODES, redisTls: true }),
        redisTlsCaFile: env.CA_FILE,
        keyPrefix: base.keyPrefix,
        ...over,
      });
    };

    beforeAll(() => { admins = adminNodes(env, which); });
    afterAll(async () => { for (const a of admins ?? []) await a.quit(); });

    it('runs the worker pipeline as a user restricted to its key prefix and the commands Attune needs', async () => {
      const probe = tls({});
      const user = await makeAclUser(admins, `~${probe.keyPrefix}:*`);
      try {
        const cfg = tls({ keyPrefix: probe.keyPrefix, redisUsername: user.username, redisPassword: user.password });
        await runPipeline(cfg);
        // Everything Attune did was allowed: no command, key or channel was denied to the user.
        expect(await user.denials()).toEqual([]);
        // The restriction is real: the same user cannot touch another prefix nor run an admin command.
        const r = createRedis(cfg);
        try {
          await expect(r.set(`other${probe.keyPrefix}:x`, '1')).rejects.toThrow(/NOPERM/);
          await expect(r.config('GET', 'maxmemory-policy')).rejects.toThrow(/NOPERM/);
        } finally {
          r.disconnect();
        }
      } finally {
        await user.drop();
        await deleteByPattern(admins, `${probe.keyPrefix}:*`);
      }
    });

    it('a user without rights on the key prefix gets a start-up ConfigError naming the fix', async () => {
      const cfg0 = tls({});
      const user = await makeAclUser(admins, `~elsewhere-${cfg0.keyPrefix}:*`);
      try {
        const cfg = tls({ keyPrefix: cfg0.keyPrefix, redisUsername: user.username, redisPassword: user.password });
        const err = await startupError(cfg);
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).code).toBe('REDIS_ACL');
        expect((err as Error).message).toMatch(/lacks a permission Attune needs \(NOPERM/);
        expect((err as Error).message).toContain(`~${cfg0.keyPrefix}:*`);
        expect((err as Error).message).toMatch(/ATTUNE_REDIS_USERNAME/);
      } finally {
        await user.drop();
      }
    });

    it('a wrong password is refused at start-up with a ConfigError naming the settings', async () => {
      const user = await makeAclUser(admins, '~nothing:*');
      try {
        const cfg = tls({ redisUsername: user.username, redisPassword: `${user.password}-wrong`, redisStartupWaitMs: 5_000 });
        const err = await startupError(cfg);
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).code).toBe('REDIS_AUTH');
        expect((err as Error).message).toMatch(/ATTUNE_REDIS_USERNAME and ATTUNE_REDIS_PASSWORD/);
        expect((err as Error).message).not.toContain(user.password);
      } finally {
        await user.drop();
      }
    });

    it('the eviction check needs no admin rights: INFO, not CONFIG; a warning when INFO is denied too', async () => {
      const cfg0 = tls({});
      const user = await makeAclUser(admins, `~${cfg0.keyPrefix}:*`);
      const noInfo = await makeAclUser(admins, `~${cfg0.keyPrefix}:*`, [...attuneAclRules(), '-info']);
      const cfg = tls({ keyPrefix: cfg0.keyPrefix, redisUsername: user.username, redisPassword: user.password });
      const r = createRedis(cfg);
      const blind = createRedis({ ...cfg, redisUsername: noInfo.username, redisPassword: noInfo.password });
      try {
        await expect(assertNoEviction(r)).resolves.toBeUndefined();
        await expect(assertRedisAccess(r, cfg.keyPrefix)).resolves.toBeUndefined();
        // An evicting server is still refused when only INFO tells the policy.
        for (const a of admins) await a.config('SET', 'maxmemory-policy', 'allkeys-lru');
        const err = await assertNoEviction(r).then(() => null, (e: unknown) => e);
        expect((err as ConfigError).code).toBe('REDIS_EVICTION_POLICY');
        expect((err as Error).message).toMatch(/allkeys-lru/);
        // Neither INFO nor CONFIG allowed: skipped (with a warning), not a start-up failure.
        await expect(assertNoEviction(blind)).resolves.toBeUndefined();
      } finally {
        for (const a of admins) await a.config('SET', 'maxmemory-policy', 'noeviction');
        r.disconnect();
        blind.disconnect();
        await user.drop();
        await noInfo.drop();
      }
    });
  });
}

describe('Redis TLS trust', () => {
  it('a TLS Redis whose CA is not given is refused with a ConfigError naming ATTUNE_REDIS_TLS_CA_FILE', async () => {
    const cfg = testConfig({ redisUrl: env.REDIS_TLS_URL, redisUsername: env.REDIS_USERNAME, redisPassword: env.REDIS_PASSWORD, redisStartupWaitMs: 3_000 });
    const err = await startupError(cfg);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('REDIS_TLS');
    expect((err as Error).message).toMatch(/ATTUNE_REDIS_TLS_CA_FILE/);
  });

  it('`attune worker` with a wrong Redis password exits 1, names the settings and does not print the password', async () => {
    const cfg = testConfig({ redisUrl: env.REDIS_TLS_URL, redisTlsCaFile: env.CA_FILE, redisUsername: env.REDIS_USERNAME, redisPassword: 'not-the-password-x9' });
    const w = spawnWorker(cfg);
    const exit = await w.exited;
    expect(exit.code, w.output()).toBe(1);
    expect(w.output()).toMatch(/attune: Redis refused the login .*ATTUNE_REDIS_USERNAME and ATTUNE_REDIS_PASSWORD/);
    expect(w.output()).not.toContain('not-the-password-x9');
  });
});
