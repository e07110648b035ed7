/** Start-up steps of the worker that talk to the outside: waiting for Redis, and opening (or refusing) the state. */
import type { Server } from 'node:http';
import type { Config } from '../config/config.js';
import type { StreamAdmin, StreamConsumer } from '../kafka/port.js';
import type { RedisClient } from '../stores/redis-client.js';
import { bootstrapState, readBootstrap, rebuildState } from '../stores/bootstrap.js';
import { isTransientRedisError, toStoreError } from '../stores/redis-errors.js';
import { errorMessage, StateLostError } from '../errors.js';
import { log } from '../log.js';

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

/** Runs `first` until Redis answers it: transient failures are retried with backoff for up to `waitMs`. */
export async function untilRedisAnswers(first: () => Promise<void>, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await first();
    } catch (err) {
      if (!isTransientRedisError(err) || Date.now() >= deadline) throw toStoreError(err);
      const delayMs = Math.min(200 * 2 ** attempt, 5_000);
      log.warn({ attempt, delayMs, err: errorMessage(err) }, 'Redis not reachable at start-up; waiting (ATTUNE_REDIS_STARTUP_WAIT_MS)');
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
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
