/** Start-up steps of the worker that talk to the outside: waiting for Redis, and opening (or refusing) the state. */
import type { Server } from 'node:http';
import type { Config, TopicNames } from '../config/config.js';
import type { StreamAdmin, StreamClient, StreamConsumer } from '../kafka/port.js';
import { createRedis, assertNoEviction, assertRedisAccess, type RedisClient } from '../stores/redis-client.js';
import { RedisHealth } from '../stores/redis-health.js';
import type { CommandObserver } from '../stores/command-timing.js';
import { ensureTopics } from '../kafka/topics.js';
import { Codec, codecOptions } from '../stages/decode/codec.js';
import type { Readiness } from './readiness.js';
import { bootstrapState, readBootstrap, rebuildState } from '../stores/bootstrap.js';
import { untilSuccess } from '../retry.js';
import { errorMessage, StateLostError } from '../errors.js';
import { log } from '../log.js';

/**
 * Redis (waited for like an outage mid-run; one that may evict keys would lose state silently: refused), its
 * health probe, the schemas, the topics, and the state's epoch. On failure everything opened so far is closed.
 */
export async function openStores(
  cfg: Config, kafka: StreamClient, topics: TopicNames, readiness: Readiness, http: Server, observeCommand?: CommandObserver,
): Promise<{ redis: RedisClient; codec: Codec; epoch: string }> {
  const redis = createRedis(cfg, { observeCommand });
  const admin = kafka.admin();
  const codec = new Codec(cfg.registryUrl, topics, codecOptions(cfg));
  try {
    await untilSuccess(() => assertNoEviction(redis).then(() => assertRedisAccess(redis, cfg.keyPrefix)), {
      deadlineMs: cfg.redisStartupWaitMs,
      onRetry: (err, attempt, delayMs) => log.warn({ attempt, delayMs, err: errorMessage(err) }, 'Redis not reachable at start-up; waiting (ATTUNE_REDIS_STARTUP_WAIT_MS)'),
    });
    readiness.health = new RedisHealth(redis, {
      everyMs: 1_000,
      timeoutMs: Math.min(cfg.redisCommandTimeoutMs, 3_000),
      onChange: (ok, why) => (ok ? log.info('Redis reachable again') : log.warn({ err: why }, 'Redis unreachable: not ready; micro-batches wait and retry')),
    });
    readiness.health.start();
    // Looked up, not registered: the worker needs no registry write rights (`attune topics` registers them). A
    // registry that does not answer yet is waited for as patiently as Redis; a missing schema fails at once.
    await untilSuccess(() => codec.lookupAll(), {
      deadlineMs: cfg.redisStartupWaitMs,
      onRetry: (err, attempt, delayMs) => log.warn({ attempt, delayMs, err: errorMessage(err) }, 'schema registry not answering at start-up; waiting'),
    });
    await admin.connect();
    const created = await ensureTopics(admin, cfg);
    if (created.length) log.info({ created }, 'created topics');
    const epoch = await openState(admin, redis, cfg, topics.events);
    await admin.disconnect();
    return { redis, codec, epoch };
  } catch (err) {
    readiness.health?.stop();
    await admin.disconnect().catch(() => {});
    redis.disconnect();
    await closeServer(http);
    throw err;
  }
}

/**
 * The state's epoch, bootstrapping an empty state. A deployment whose consumer group has committed offsets but
 * whose Redis holds no bootstrap marker has lost its state (Redis restarted without persistence, or was flushed):
 * rebuild it (ATTUNE_ON_STATE_LOSS=rebuild) or refuse to start — never go on from empty state.
 */
export async function openState(admin: StreamAdmin, redis: RedisClient, cfg: Config, topic: string): Promise<string> {
  const found = await readBootstrap(redis, cfg.keyPrefix);
  if (found?.complete) return found.epoch;
  if (found) return bootstrapState(redis, cfg.keyPrefix); // a bootstrap cut short: finish it
  const committed = await admin.groupOffsets(cfg.groupId, topic);
  if (![...committed.values()].some((o) => Number(o) >= 0)) return bootstrapState(redis, cfg.keyPrefix);
  if (cfg.onStateLoss === 'rebuild') {
    log.warn({ groupId: cfg.groupId, keyPrefix: cfg.keyPrefix }, 'state lost (bootstrap marker missing while the group has committed offsets); rebuilding');
    return rebuildState(redis, cfg.keyPrefix, null);
  }
  throw new StateLostError(
    `consumer group ${cfg.groupId} has committed offsets on ${topic}, but Redis holds no state for key prefix ${cfg.keyPrefix} ` +
      '(its bootstrap marker is missing): Redis restarted empty or was flushed. To rebuild the state from the retained ' +
      'input, start the workers with ATTUNE_ON_STATE_LOSS=rebuild (or clear what is left with `attune reset --yes --keep-topics` ' +
      'and start them with a new ATTUNE_GROUP_ID); to restore instead, bring back the Redis data.',
  );
}

export async function stopConsumer(consumer: StreamConsumer): Promise<void> {
  try {
    await consumer.stop();
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}
