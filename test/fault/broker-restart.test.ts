/**
 * The Kafka broker stopped and started again under a running worker (scripts/services.sh down/up kafka): the
 * worker must reconnect and resume on its own (no exit, the watchdog stays quiet for a short outage), and end
 * with every event counted exactly once. The broker is shared with other suites: the outage is kept short, and
 * afterAll starts it again whatever happened.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { Codec } from '../../src/stages/decode/codec.js';
import { topicNames } from '../../src/config/config.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { createRedis, type RedisClient } from '../../src/stores/redis-client.js';
import { deleteKeysWithPrefix } from '../../src/stores/maintenance.js';
import { StateStore } from '../../src/stores/state-store.js';
import type { UserEvent } from '../../src/domain/events.js';
import { produceEvents } from '../../src/replay/producer.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import { testConfig, waitFor, sleep, syntheticPurchases, purchasesCounted, pseudonymOf } from '../support/env.js';
import { spawnWorker, type WorkerProcess } from '../support/worker-process.js';

const ROOT = join(import.meta.dirname, '../..');
const services = (...args: string[]) => execFileSync('bash', [join(ROOT, 'scripts/services.sh'), ...args], { encoding: 'utf8', timeout: 240_000, stdio: ['ignore', 'pipe', 'pipe'] });

const cfg = testConfig({ microBatchSize: 50, redisClusterNodes: '' });
const topics = topicNames(cfg);
const USERS = 40;
const EVENTS = 3000;
const events: UserEvent[] = syntheticPurchases(EVENTS, USERS, 89);
let redis: RedisClient;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  const kafka = new KafkajsClient(cfg.kafkaBrokers, 'attune-test');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, cfg);
  await admin.disconnect();
  redis = createRedis(cfg);
});
afterAll(async () => {
  if (worker && worker.child.exitCode === null) worker.child.kill('SIGKILL');
  services('up', 'kafka'); // whatever happened above, leave the shared broker running
  if (!redis) return;
  await deleteKeysWithPrefix(redis, cfg.keyPrefix);
  await redis.quit();
}, 240_000);

describe('broker stopped and restarted mid-run', () => {
  it('the worker reconnects, resumes and counts every event exactly once', async () => {
    const store = new StateStore(redis, cfg.keyPrefix);
    const counted = () => purchasesCounted(store, USERS);
    const codec = new Codec(cfg.registryUrl, topics);
    await codec.registerAll();
    const produce = async (part: UserEvent[]) => {
      const producer = new KafkajsClient(cfg.kafkaBrokers, 'attune-test').producer();
      await producer.connect();
      await produceEvents(producer, codec, topics, part, { batchSize: 100 });
      await producer.disconnect();
    };
    const half = EVENTS / 2;
    // The watchdog is armed (60 s) but must not fire for an outage of a few seconds.
    worker = spawnWorker(cfg, { ATTUNE_WATCHDOG_MS: '60000' });
    await produce(events.slice(0, half));
    await waitFor(async () => (await counted()) === half, 'the first half applied', 60_000);

    const t0 = Date.now();
    services('down', 'kafka');
    const stoppedIn = Date.now() - t0;
    await sleep(4000);
    const t1 = Date.now();
    services('up', 'kafka');
    const startedIn = Date.now() - t1;
    const downFor = Date.now() - t0;
    expect(worker.child.exitCode, worker.output().slice(-3000)).toBeNull();

    await produce(events.slice(half));
    const t2 = Date.now();
    await waitFor(async () => (await counted()) >= EVENTS, 'all events applied after the restart', 90_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${worker!.output().slice(-4000)}`);
    });
    const resumedIn = Date.now() - t2;
    if (process.env.ATTUNE_TEST_DUMP) (await import('node:fs')).writeFileSync(process.env.ATTUNE_TEST_DUMP, worker.output());
    await sleep(1500);
    // The expectation comes from the input log itself: a producer retry across the broker restart may have
    // written a record twice (kafkajs's producer is not idempotent). The dedupe stage applies each event id once
    // and dead-letters the later copies as DUPLICATE_EVENT, so the worker must count the log's distinct events.
    const log: UserEvent[] = [];
    for (const r of await readTopicToEnd(new KafkajsClient(cfg.kafkaBrokers, 'attune-test'), topics.events)) {
      log.push((await codec.decode(r.value, 1e6)) as unknown as UserEvent);
    }
    expect(log.length).toBeGreaterThanOrEqual(EVENTS);
    const distinct = [...new Map(log.map((e) => [e.eventId, e] as const)).values()];
    const duplicates = log.length - distinct.length;
    await waitFor(async () => (await counted()) >= distinct.length, 'every distinct event of the log applied', 30_000);
    expect(await counted()).toBe(distinct.length);
    for (let u = 0; u < USERS; u++) {
      expect(Number((await store.userCounts(pseudonymOf(`user${u}`))).purchase), `user${u}`).toBe(distinct.filter((e) => e.userId === `user${u}`).length);
    }
    const popularity = await store.topPopular(1000);
    expect(popularity.reduce((a, p) => a + p.count, 0)).toBe(distinct.length);
    for (const p of popularity) expect(p.count, p.itemId).toBe(distinct.filter((e) => e.itemId === p.itemId).length);
    const dlq = await waitFor(async () => {
      const r = await readTopicToEnd(new KafkajsClient(cfg.kafkaBrokers, 'attune-test'), topics.dlq);
      return r.length >= duplicates ? r : null;
    }, 'the duplicate copies dead-lettered', 30_000);
    expect(dlq.length).toBe(duplicates);
    for (const r of dlq) expect(r.headers['attune.error.code']).toBe('DUPLICATE_EVENT');
    expect(worker.output()).not.toMatch(/watchdog:/);
    console.log(`broker restart: stop took ${stoppedIn} ms, start took ${startedIn} ms, broker away ${downFor} ms; second half (${EVENTS - half} events) applied ${resumedIn} ms after it was produced; ${duplicates} duplicate records in the input log`);

    worker.child.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit.code, worker.output().slice(-2000)).toBe(0);
  });
});
