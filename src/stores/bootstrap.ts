/**
 * The state's epoch: written once when a deployment's state starts empty, into `{g}:bootstrap` and into the guard
 * hash of every one of the 16,384 hash slots (guard.ts), which every Lua command checks first. A slot whose guard
 * is gone lost its state; a guard holding another epoch belongs to a rebuilt state.
 *
 * Rebuild after loss: one worker (a lock outside the key prefix) deletes the guards first — from then on every
 * command of every worker is refused before it writes — then every other key of the prefix, then bootstraps a new
 * epoch. The workers restart on it and, finding no progress, replay the input from the earliest retained offset.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from './redis-client.js';
import { Keys } from './keys.js';
import { SLOTS, guardKeyOfSlot } from './guard.js';
import { deleteKeysWithPrefix } from './maintenance.js';
import { ConfigError } from '../errors.js';
import { log } from '../log.js';

/** The layout of the state under a prefix; a worker refuses a state of another layout. */
// v3: co-occurrence row fields namespaced (i:<item>), dedupe state. v4 (#11): users named by pseudonym in every key,
// member and JSON, subject hashes, consent histories with their partition.
export const STATE_LAYOUT = 'attune-state-v4';

/** Layouts before pseudonymised user ids: their keys name users by raw id, which v4 workers would never find. */
const BEFORE_PSEUDONYMS = new Set(['attune-state-v1', 'attune-state-v2', 'attune-state-v3']);

/** The way out of an older layout: an empty state, the retained input replayed into it (the ledger topic is kept). */
const REPLAY_INTO_NEW_LAYOUT =
  'run `attune reset --yes --keep-topics` (the topics, the erasure ledger included, stay) and start the workers with ' +
  'ATTUNE_ON_STATE_LOSS=rebuild (or a new ATTUNE_GROUP_ID) to replay the retained input into the new layout';

export interface Bootstrap {
  epoch: string;
  /** Every slot's guard hash was written. */
  complete: boolean;
}

export async function readBootstrap(redis: RedisClient, prefix: string): Promise<Bootstrap | null> {
  const key = new Keys(prefix).bootstrap();
  const type = await redis.type(key);
  if (type === 'none') return null;
  if (type !== 'hash') {
    throw new ConfigError(
      `${key} holds an older state layout than ${STATE_LAYOUT}, which predates pseudonymised user ids (it names users by their raw id): ${REPLAY_INTO_NEW_LAYOUT}`,
      'STATE_LAYOUT',
    );
  }
  const [epoch, complete, layout] = await redis.hmget(key, 'epoch', 'complete', 'layout');
  if (layout !== null && BEFORE_PSEUDONYMS.has(layout)) {
    throw new ConfigError(
      `${key} has state layout ${layout}, which predates pseudonymised user ids (it names users by their raw id; this worker needs ${STATE_LAYOUT}): ${REPLAY_INTO_NEW_LAYOUT}`,
      'STATE_LAYOUT',
    );
  }
  if (layout !== STATE_LAYOUT) {
    throw new ConfigError(`${key} has state layout ${layout ?? '?'}, this worker needs ${STATE_LAYOUT}: run \`attune reset --yes --keep-topics\``, 'STATE_LAYOUT');
  }
  return epoch === null ? null : { epoch, complete: complete === '1' };
}

/**
 * Bootstraps an empty state, or finishes a bootstrap cut short; returns the epoch. Safe to run from several
 * workers at once: the first epoch written wins and everyone writes that one.
 */
export async function bootstrapState(redis: RedisClient, prefix: string): Promise<string> {
  const key = new Keys(prefix).bootstrap();
  await redis.hsetnx(key, 'epoch', randomUUID());
  await redis.hsetnx(key, 'layout', STATE_LAYOUT);
  const epoch = (await redis.hget(key, 'epoch'))!;
  if ((await redis.hget(key, 'complete')) === '1') return epoch;
  await forEverySlotGuard(prefix, (guard) => redis.hset(guard, 'epoch', epoch));
  await redis.hset(key, 'complete', '1');
  log.info({ epoch }, 'state bootstrapped: a new epoch in every slot');
  return epoch;
}

/** Whether every slot still has its guard (a partial loss leaves some gone). One EXISTS per slot. */
export async function missingGuards(redis: RedisClient, prefix: string): Promise<number> {
  const exists = await forEverySlotGuard(prefix, (guard) => redis.exists(guard));
  return exists.filter((n) => n === 0).length;
}

/**
 * One command per slot guard, 2,048 at a time (auto-pipelining sends each group in a few round trips per node,
 * without queueing 16,384 promises at once); the results in slot order.
 */
async function forEverySlotGuard<T>(prefix: string, command: (guardKey: string) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let from = 0; from < SLOTS; from += 2048) {
    const group: Promise<T>[] = [];
    for (let slot = from; slot < Math.min(SLOTS, from + 2048); slot++) group.push(command(guardKeyOfSlot(prefix, slot)));
    out.push(...(await Promise.all(group)));
  }
  return out;
}

/**
 * Replaces a lost (or partly lost) state with an empty one under a new epoch; returns the new epoch. `stale` is
 * the epoch the caller found broken (null when it found none): if another worker already rebuilt, this one only
 * returns the new epoch.
 */
export async function rebuildState(redis: RedisClient, prefix: string, stale: string | null, lockWaitMs = 600_000): Promise<string> {
  const lock = new Keys(prefix).rebuildLock();
  const me = randomUUID();
  const deadline = Date.now() + lockWaitMs;
  for (;;) {
    const done = await readBootstrap(redis, prefix);
    if (done?.complete && done.epoch !== stale) return done.epoch;
    if ((await redis.set(lock, me, 'PX', 300_000, 'NX')) === 'OK') break;
    if (Date.now() > deadline) throw new Error(`another worker holds ${lock} for over ${lockWaitMs} ms without finishing the rebuild; if it died, delete the key`);
    await new Promise((r) => setTimeout(r, 500));
  }
  try {
    const done = await readBootstrap(redis, prefix);
    if (done?.complete && done.epoch !== stale) return done.epoch;
    const started = Date.now();
    // Guards first: from here on, every command of every worker is refused before it writes anything.
    await forEverySlotGuard(prefix, (guard) => redis.unlink(guard));
    const deleted = await deleteKeysWithPrefix(redis, prefix);
    const epoch = await bootstrapState(redis, prefix);
    log.warn({ deleted, ms: Date.now() - started, epoch }, 'state rebuilt empty under a new epoch; the input is replayed from the earliest retained offset');
    return epoch;
  } finally {
    if ((await redis.get(lock)) === me) await redis.del(lock);
  }
}
