/** Shared helpers of the functional, cluster and fault suites: unique names per run, polling, services. */
import { randomBytes } from 'node:crypto';
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import { loadConfig, topicNames, type Config } from '../../src/config/config.js';
import type { UserEvent } from '../../src/domain/events.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { kafkaTransport } from '../../src/security/transport.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { Codec } from '../../src/stages/decode/codec.js';
import { createRedis } from '../../src/stores/redis-client.js';
import { deleteKeysWithPrefix } from '../../src/stores/maintenance.js';
import type { StateStore } from '../../src/stores/state-store.js';
import { pseudonymizerFor, type Pseudonymizer, type PseudonymKeySettings } from '../../src/stages/rights/pseudonym.js';
import { TEST_PSEUDONYM_KEY } from './test-key.js';

// Harnesses run outside vitest too (bench/chaos.ts, bench/fuzz, bench/rebuild.ts): they and the workers they spawn
// (which inherit process.env) need the same key as under vitest (vitest.config.ts sets it), or no worker starts.
process.env.ATTUNE_PSEUDONYM_KEY ??= TEST_PSEUDONYM_KEY;

export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

/** A config against the local services with topics, keys and group unique to this test run. */
export function testConfig(overrides: Partial<Record<keyof Config, unknown>> = {}): Config {
  const id = uniqueName('t');
  return loadConfig(process.env, {
    topicPrefix: `${id}`,
    keyPrefix: `${id}`,
    groupId: `${id}-workers`,
    partitions: 3,
    httpPort: 0,
    microBatchSize: 200,
    // Suites use the single Redis unless they ask for the cluster (test/cluster), whatever the shell exports.
    redisClusterNodes: '',
    // The test secret (vitest.config.ts): pseudonymOf must compute the pseudonyms the worker writes.
    pseudonymKey: process.env.ATTUNE_PSEUDONYM_KEY,
    ...overrides,
  });
}

/**
 * Polls until `check` returns a truthy value or the deadline passes; returns the last value.
 * Timeouts of the test layers (each set where it applies): unit 20 s and functional/cluster/fault/chaos 180 s per
 * test and hook (vitest.config.ts; a file may pass its own to `it`, e.g. 60 s, chaos 10 min); a waitFor 60 s by
 * default, polled every 200 ms. A wait for the worker to act must outlast what Kafka may make it wait: a group
 * handover (≤ 5 s fetch long-poll + join, see waitForSoleOwner) and, after a SIGKILL, the session timeout
 * (ATTUNE_KAFKA_SESSION_TIMEOUT_MS, 30 s) before the group gives the dead worker's partitions away.
 */
export async function waitFor<T>(check: () => Promise<T> | T, what: string, timeoutMs = 60_000, everyMs = 200): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''} (last value ${JSON.stringify(last)})`);
}

/**
 * Waits until the consumer group is Stable with exactly one member holding every partition of `topic`. A worker
 * is ready (readyz) as soon as it joined, even if the stopped worker before it is still a member (kafkajs leaves
 * the group only after its fetch long-poll, up to 5 s) and was handed `topic` in that generation: an event
 * produced then sits until the next rebalance. Tests that restart a worker and then expect it to act (or to do
 * nothing) wait for this first.
 */
export async function waitForSoleOwner(cfg: Config, topic: string, timeoutMs = 60_000): Promise<void> {
  return waitForMembers(cfg, topic, 1, timeoutMs);
}

/** Waits until the group is stable with exactly `members` members, each owning a share of `topic`'s partitions. */
export async function waitForMembers(cfg: Config, topic: string, members: number, timeoutMs = 60_000): Promise<void> {
  const admin = new Kafka({ brokers: cfg.kafkaBrokers, clientId: 'attune-test', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const partitions = (await admin.fetchTopicOffsets(topic)).length;
    await waitFor(async () => {
      const g = (await admin.describeGroups([cfg.groupId])).groups[0];
      if (g?.state !== 'Stable' || g.members.length !== members) return null;
      const owned = g.members.map((m) => AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic]?.length ?? 0);
      return owned.every((n) => n > 0) && owned.reduce((a, b) => a + b, 0) === partitions;
    }, `group ${cfg.groupId} stable with ${members} member(s) sharing ${topic}`, timeoutMs);
  } finally {
    await admin.disconnect();
  }
}

export function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

/** What a pipeline test needs besides the worker: its topics, registered schemas, a producer, a Redis client. */
export async function openPipeline(cfg: Config) {
  // With the config's transport, so that the security suite opens the same pipeline over SASL_SSL.
  const kafka = new KafkajsClient(cfg.kafkaBrokers, 'attune-test', kafkaTransport(cfg));
  const topics = topicNames(cfg);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, cfg);
  await admin.disconnect();
  const codec = new Codec(cfg.registryUrl, topics);
  await codec.registerAll();
  const producer = kafka.producer();
  await producer.connect();
  const redis = createRedis(cfg);
  return {
    kafka, topics, codec, producer, redis,
    /** Disconnects and deletes this run's Redis keys. */
    async close() {
      await producer.disconnect().catch(() => {});
      await deleteKeysWithPrefix(redis, cfg.keyPrefix);
      await redis.quit();
    },
  };
}

/**
 * Synthetic purchases for fault tests: event i is user (7i mod users) buying item (13i mod items), one second
 * apart from 2011-01-01, so every user and item recurs and expected counts are easy to derive.
 */
export function syntheticPurchases(count: number, users: number, items: number): UserEvent[] {
  const t0 = Date.UTC(2011, 0, 1);
  return Array.from({ length: count }, (_, i) => ({
    eventId: `e${i}`, userId: `user${(i * 7) % users}`, type: 'purchase', eventTime: t0 + i * 1000, itemId: `item${(i * 13) % items}`,
    quantity: 1, price: 1, rating: null, sessionId: null, context: null, properties: {},
  }));
}

const pseudonymizers = new Map<string, Pseudonymizer>();

/**
 * The pseudonym the workers key `userId` by in Redis (keys, set members, timers, holders): the rights stage replaces
 * every user id by it (src/stages/rights/pseudonym.ts). With the config's key when given (a test that overrides
 * it), else the test secret every test process and spawned worker shares (vitest.config.ts).
 * Output topics (recommendations, segment changes, tombstones, DLQ) stay keyed by the real id.
 */
export function pseudonymOf(userId: string, cfg?: Partial<PseudonymKeySettings>): string {
  const key = cfg?.pseudonymKey ?? process.env.ATTUNE_PSEUDONYM_KEY ?? TEST_PSEUDONYM_KEY;
  let p = pseudonymizers.get(key);
  if (!p) pseudonymizers.set(key, (p = pseudonymizerFor({ pseudonymKey: key, demo: false })));
  return p.pseudonym(userId);
}

/** Purchases counted in Redis over the users `user0` … `user<users-1>` of syntheticPurchases (read by pseudonym). */
export async function purchasesCounted(store: StateStore, users: number): Promise<number> {
  let n = 0;
  for (let u = 0; u < users; u++) n += Number((await store.userCounts(pseudonymOf(`user${u}`))).purchase ?? 0);
  return n;
}
