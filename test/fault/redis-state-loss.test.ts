/**
 * Redis restarted EMPTY under a running worker. With ATTUNE_ON_STATE_LOSS=halt (the default) the worker must
 * notice and stop (exit 3) instead of going on from empty state; started again it refuses (the bootstrap marker
 * is gone while the group has committed offsets); after clearing what is left and starting with a new consumer
 * group, it rebuilds the state from the retained input, exactly. With ATTUNE_ON_STATE_LOSS=rebuild it rebuilds
 * in-process, without exiting, from the earliest retained offset: exact again.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { RedisClient } from '../../src/stores/redis-client.js';
import { StateStore } from '../../src/stores/state-store.js';
import { deleteKeysWithPrefix } from '../../src/stores/maintenance.js';
import { produceEvents } from '../../src/replay/producer.js';
import type { UserEvent } from '../../src/domain/events.js';
import { testConfig, waitFor, syntheticPurchases, purchasesCounted, openPipeline, pseudonymOf } from '../support/env.js';
import { spawnWorker, type WorkerProcess } from '../support/worker-process.js';
import { startRedisServer, type TestRedis } from '../support/redis-server.js';

const PORT = 6393;
const USERS = 30;
const EVENTS = 3000;
const events: UserEvent[] = syntheticPurchases(EVENTS, USERS, 61);
let server: TestRedis;
let redis: RedisClient | undefined;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  server = await startRedisServer(PORT);
});
afterAll(async () => {
  if (worker && worker.child.exitCode === null) worker.child.kill('SIGKILL');
  await redis?.quit().catch(() => {});
  await server?.stop();
});

describe('Redis restarted empty mid-run', () => {
  it('stops, refuses to start on lost state, and rebuilds exactly with a new group', async () => {
    const cfg = testConfig({ redisUrl: `redis://127.0.0.1:${PORT}`, microBatchSize: 50 });
    const pipeline = await openPipeline(cfg);
    const { topics, codec, producer } = pipeline;
    redis = pipeline.redis; // reconnects by itself when Redis comes back
    const counted = () => purchasesCounted(new StateStore(redis!, cfg.keyPrefix), USERS);
    worker = spawnWorker(cfg);
    const producing = produceEvents(producer, codec, topics, events, { rate: 600, batchSize: 50 });
    await waitFor(async () => (await counted()) > 500, 'some events applied', 60_000);

    // Restart Redis without persistence: every key is gone.
    await server.stop();
    server = await startRedisServer(PORT);
    const lost = await Promise.race([worker.exited, new Promise<null>((r) => setTimeout(() => r(null), 45_000))]);
    expect(lost, worker.output().slice(-2000)).not.toBeNull();
    expect(lost!.code).toBe(3);
    expect(worker.output()).toMatch(/state lost/);
    await producing;

    // Started again on the same group it refuses, naming the way out.
    worker = spawnWorker(cfg);
    const refused = await worker.exited;
    expect(refused.code).toBe(1);
    expect(worker.output()).toMatch(/bootstrap marker is missing/);
    expect(worker.output()).toMatch(/new ATTUNE_GROUP_ID/);

    // The rebuild: clear what is left, new group, replay from the earliest offset — every event exactly once.
    await deleteKeysWithPrefix(redis, cfg.keyPrefix);
    const rebuilt = { ...cfg, groupId: `${cfg.groupId}-rebuild` };
    const started = Date.now();
    worker = spawnWorker(rebuilt);
    await waitFor(async () => (await counted()) >= EVENTS, 'the rebuild to apply every event', 120_000);
    const rebuildMs = Date.now() - started;
    for (let u = 0; u < USERS; u++) {
      expect(Number((await new StateStore(redis, cfg.keyPrefix).userCounts(pseudonymOf(`user${u}`))).purchase)).toBe(events.filter((e) => e.userId === `user${u}`).length);
    }
    const popularity = await new StateStore(redis, cfg.keyPrefix).topPopular(1000);
    expect(popularity.reduce((a, p) => a + p.count, 0)).toBe(EVENTS);
    console.log(`state loss: worker exited 3; rebuild of ${EVENTS} events took ${rebuildMs} ms from start`);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
    await pipeline.close();
    redis = undefined;
  });

  it('with ATTUNE_ON_STATE_LOSS=rebuild: rebuilds in-process from the earliest offset, exactly', async () => {
    const cfg = testConfig({ redisUrl: `redis://127.0.0.1:${PORT}`, microBatchSize: 50, onStateLoss: 'rebuild' });
    const pipeline = await openPipeline(cfg);
    const { topics, codec, producer } = pipeline;
    redis = pipeline.redis; // reconnects by itself when Redis comes back
    const counted = () => purchasesCounted(new StateStore(redis!, cfg.keyPrefix), USERS);
    worker = spawnWorker(cfg);
    const producing = produceEvents(producer, codec, topics, events, { rate: 600, batchSize: 50 });
    await waitFor(async () => (await counted()) > 500, 'some events applied', 60_000);

    await server.stop();
    server = await startRedisServer(PORT);
    const restartedAt = Date.now();
    await producing;
    await waitFor(async () => (await counted()) >= EVENTS, 'the rebuild to apply every event', 120_000).catch((e) => {
      throw new Error(`${e.message}\nworker output:\n${worker!.output().slice(-3000)}`);
    });
    const rebuildMs = Date.now() - restartedAt;
    expect(worker.child.exitCode).toBeNull(); // it never exited
    expect(worker.output()).toMatch(/state lost; rebuilding it and restarting/);
    expect(worker.output()).toMatch(/state rebuilt empty under a new epoch/);
    const store = new StateStore(redis, cfg.keyPrefix);
    for (let u = 0; u < USERS; u++) {
      expect(Number((await store.userCounts(pseudonymOf(`user${u}`))).purchase)).toBe(events.filter((e) => e.userId === `user${u}`).length);
    }
    const popularity = await store.topPopular(1000);
    expect(popularity.reduce((a, p) => a + p.count, 0)).toBe(EVENTS);
    console.log(`state loss with rebuild: ${EVENTS} events re-applied ${rebuildMs} ms after Redis came back empty`);
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code, worker.output().slice(-2000)).toBe(0);
    await pipeline.close();
    redis = undefined;
  });
});
