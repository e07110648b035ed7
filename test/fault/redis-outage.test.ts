/**
 * Redis frozen mid-stream (SIGSTOP of a dedicated redis-server: the sockets stay open, commands hang, as with a
 * hung host or a long fork/swap stall), then thawed (SIGCONT, nothing lost on the Redis side). The worker must
 * report not-ready on /readyz during the outage, keep running (no crash, no exit), retry with backoff, report
 * ready again and end with every event counted exactly once.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer } from 'node:net';
import { StateStore } from '../../src/stores/state-store.js';
import { Codec } from '../../src/stages/decode/codec.js';
import { topicNames } from '../../src/config/config.js';
import type { UserEvent } from '../../src/domain/events.js';
import { produceEvents } from '../../src/replay/producer.js';
import { testConfig, waitFor, sleep, syntheticPurchases, purchasesCounted, openPipeline, pseudonymOf } from '../support/env.js';
import { spawnWorker, type WorkerProcess } from '../support/worker-process.js';
import { startRedisServer, type TestRedis } from '../support/redis-server.js';

const PORT = 6392;
const OUTAGE_MS = 30_000;
const USERS = 50;
const EVENTS = 9000;
const events: UserEvent[] = syntheticPurchases(EVENTS, USERS, 97);

let server: TestRedis;
/** Each test's topics, producer and Redis client (on the dedicated server), closed at the end. */
const pipelines: Array<Awaited<ReturnType<typeof openPipeline>>> = [];
let worker: WorkerProcess | undefined;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

beforeAll(async () => {
  server = await startRedisServer(PORT);
});
afterAll(async () => {
  if (worker && worker.child.exitCode === null) worker.child.kill('SIGKILL');
  for (const p of pipelines) await p.close().catch(() => {});
  await server?.stop(); // also thaws it if a failed assertion left it frozen
});

describe('Redis unreachable for 30 s mid-stream', () => {
  it('pauses, reports not ready, resumes and counts every event exactly once', async () => {
    const httpPort = await freePort();
    const cfg = testConfig({ redisUrl: server.url, redisClusterNodes: '', microBatchSize: 50, httpPort, redisCommandTimeoutMs: 2000 });
    const pipeline = await openPipeline(cfg);
    pipelines.push(pipeline);
    const { topics, codec, producer } = pipeline;
    const store = new StateStore(pipeline.redis, cfg.keyPrefix);
    const counted = () => purchasesCounted(store, USERS);
    const readyz = async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(2000) })).status;

    worker = spawnWorker(cfg);
    await waitFor(async () => (await readyz()) === 200, 'the worker to be ready', 60_000);
    // ~30 s of input at 300 events/s: the outage falls in the middle of it.
    const producing = produceEvents(producer, codec, topics, events, { rate: 300, batchSize: 50 });
    await waitFor(async () => (await counted()) > 600, 'some events applied before the outage', 30_000);

    server.freeze();
    const frozenAt = Date.now();
    const notReady = await waitFor(async () => ((await readyz()) === 503 ? Date.now() : null), '/readyz 503 during the outage', OUTAGE_MS - 2000, 100);
    const notReadyAfterMs = notReady - frozenAt;
    const body = await (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).text();
    expect(body).toMatch(/not ready: (Redis unreachable|retrying)/);
    await sleep(frozenAt + OUTAGE_MS - Date.now());
    expect(await readyz()).toBe(503);
    expect(worker.child.exitCode, worker.output().slice(-2000)).toBeNull(); // never crashed
    server.thaw();
    const thawedAt = Date.now();

    const readyAgain = await waitFor(async () => ((await readyz()) === 200 ? Date.now() : null), '/readyz 200 after the outage', 30_000, 100);
    await producing;
    await producer.disconnect();
    await waitFor(async () => (await counted()) >= EVENTS, 'all events applied', 60_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${worker!.output().slice(-3000)}`);
    });
    const caughtUp = Date.now();
    await sleep(1500); // a duplicate application would show up now
    expect(await counted()).toBe(EVENTS);
    for (let u = 0; u < USERS; u++) {
      expect(Number((await store.userCounts(pseudonymOf(`user${u}`))).purchase), `user${u}`).toBe(events.filter((e) => e.userId === `user${u}`).length);
    }
    const popularity = await store.topPopular(1000);
    expect(popularity.reduce((a, p) => a + p.count, 0)).toBe(EVENTS);
    for (const p of popularity) expect(p.count, p.itemId).toBe(events.filter((e) => e.itemId === p.itemId).length);

    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    expect(metrics).toMatch(/attune_\w*retr\w*\{code="STATE_UNAVAILABLE"\} [1-9]/);
    console.log(`redis outage: ${OUTAGE_MS} ms frozen; /readyz 503 after ${notReadyAfterMs} ms; ready again ${readyAgain - thawedAt} ms after thaw; all ${EVENTS} events applied ${caughtUp - thawedAt} ms after thaw`);

    worker.child.kill('SIGTERM');
    const exit = await worker.exited;
    expect(exit.code, worker.output().slice(-2000)).toBe(0);
  });

  it('the watchdog exits non-zero (2) when Redis stays away longer than ATTUNE_WATCHDOG_MS while there is lag', async () => {
    const cfg = testConfig({ redisUrl: server.url, redisClusterNodes: '', microBatchSize: 50, httpPort: await freePort(), redisCommandTimeoutMs: 1000 });
    const pipeline = await openPipeline(cfg);
    pipelines.push(pipeline);
    const { topics, codec, producer } = pipeline;
    const store = new StateStore(pipeline.redis, cfg.keyPrefix);
    worker = spawnWorker(cfg, { ATTUNE_WATCHDOG_MS: '5000' });
    const producing = produceEvents(producer, codec, topics, events.slice(0, 2000), { rate: 400, batchSize: 50 });
    await waitFor(async () => Number((await store.userCounts(pseudonymOf('user0'))).purchase ?? 0) > 5, 'some events applied', 30_000);
    server.freeze();
    const frozenAt = Date.now();
    try {
      await producing;
      const exit = await Promise.race([worker.exited, sleep(20_000).then(() => null)]);
      expect(exit, worker.output().slice(-2000)).not.toBeNull();
      expect(exit!.code).toBe(2);
      expect(worker.output()).toMatch(/watchdog: no micro-batch finished for \d+ ms while \d+ records wait/);
      console.log(`watchdog: exited ${Date.now() - frozenAt} ms after Redis froze (limit 5000 ms)`);
    } finally {
      server.thaw();
      await producer.disconnect();
    }
  });

  it('waits for a Redis that is not up yet at start-up instead of exiting', async () => {
    const httpPort = await freePort();
    const cfg = testConfig({ redisUrl: server.url, redisClusterNodes: '', httpPort });
    // The schemas are registered as `attune topics` leaves them: the worker only looks them up.
    await new Codec(cfg.registryUrl, topicNames(cfg)).registerAll();
    await server.stop();
    const down = Date.now();
    worker = spawnWorker(cfg);
    try {
      await waitFor(() => worker!.output().includes('Redis not reachable at start-up; waiting'), 'the worker to say it waits for Redis', 20_000);
      await sleep(Math.max(0, 4000 - (Date.now() - down)));
      expect(worker.child.exitCode).toBeNull();
    } finally {
      server = await startRedisServer(PORT);
    }
    const upAt = Date.now();
    const readyAt = await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
      return r?.status === 200 ? Date.now() : null;
    }, 'the worker to be ready once Redis is up', 60_000);
    console.log(`start-up wait: Redis down for the first ${upAt - down} ms; worker ready ${readyAt - upAt} ms after Redis came up`);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code, worker.output().slice(-2000)).toBe(0);
  });
});
