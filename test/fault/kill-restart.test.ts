/**
 * Kill the worker with SIGKILL in the middle of a stream, start it again, and check that every event was
 * counted exactly once: per-user purchase counts and item popularity equal what was produced.
 * Then SIGTERM: the worker drains, commits and exits 0.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { RedisClient } from '../../src/stores/redis-client.js';
import { StateStore } from '../../src/stores/state-store.js';
import type { UserEvent } from '../../src/domain/events.js';
import { produceEvents } from '../../src/replay/producer.js';
import { Recommender } from '../../src/stages/recommend/model/recommender.js';
import { RecommenderStore } from '../../src/stages/recommend/store.js';
import { testConfig, waitFor, sleep, syntheticPurchases, purchasesCounted, openPipeline, pseudonymOf } from '../support/env.js';
import { spawnWorker } from '../support/worker-process.js';

const cfg = testConfig({ microBatchSize: 50 });
let pipeline: Awaited<ReturnType<typeof openPipeline>>;
let redis: RedisClient;
let store: StateStore;

const USERS = 60;
const EVENTS = 6000;
const events: UserEvent[] = syntheticPurchases(EVENTS, USERS, 97);

beforeAll(async () => {
  pipeline = await openPipeline(cfg);
  redis = pipeline.redis;
  store = new StateStore(redis, cfg.keyPrefix);
});
afterAll(async () => {
  await pipeline?.close();
});


describe('SIGKILL mid-stream and restart', () => {
  it('loses nothing and counts nothing twice', async () => {
    const { codec, producer, topics } = pipeline;
    // Produce at a steady rate in the background while the worker is killed.
    const producing = produceEvents(producer, codec, topics, events, { rate: 1500, batchSize: 100 });

    const first = spawnWorker(cfg);
    await waitFor(async () => (await purchasesCounted(store, USERS)) > 800, 'the first worker to apply some events', 60_000);
    first.child.kill('SIGKILL');
    const firstExit = await first.exited;
    expect(firstExit.signal).toBe('SIGKILL');
    const countedAtKill = await purchasesCounted(store, USERS);
    expect(countedAtKill).toBeLessThan(EVENTS);

    await sleep(500);
    const second = spawnWorker(cfg);
    await producing;
    await producer.disconnect();
    const total = await waitFor(async () => { const n = await purchasesCounted(store, USERS); return n >= EVENTS ? n : null; }, 'all events applied', 120_000).catch((e) => {
      throw new Error(`${e.message}\nworker output:\n${second.output().slice(-3000)}`);
    });
    await sleep(2000); // let any duplicate delivery show up before we look
    expect(await purchasesCounted(store, USERS)).toBe(EVENTS);
    expect(total).toBe(EVENTS);
    for (let u = 0; u < USERS; u++) {
      const expected = events.filter((e) => e.userId === `user${u}`).length;
      expect(Number((await store.userCounts(pseudonymOf(`user${u}`))).purchase)).toBe(expected);
    }
    const popularity = await store.topPopular(1000);
    expect(popularity.reduce((a, p) => a + p.count, 0)).toBe(EVENTS);
    expect(popularity.find((p) => p.itemId === 'item0')?.count).toBe(events.filter((e) => e.itemId === 'item0').length);

    // The co-occurrence rows equal what the same recommender code computes offline from the input log.
    const expected = new Recommender();
    expected.collaborative.setEpoch(cfg.decayEpoch);
    for (const e of events) expected.learnBatch([e]);
    const store2 = new RecommenderStore(redis, cfg.keyPrefix);
    let mismatches = 0;
    let checked = 0;
    await store2.forEachRow((itemId, row) => {
      const a = expected.items.lookup(itemId);
      const got: Array<[number, number]> = row.pairs.map(([other, v]) => [v, expected.collaborative.state.cooc(a, expected.items.lookup(other))]);
      if (row.norm !== 0) got.push([row.norm, expected.collaborative.state.normOf(a)]);
      for (const [v, want] of got) {
        checked++;
        if (Math.abs(v - want) > 1e-6 * Math.max(1, Math.abs(want))) mismatches++;
      }
    });
    expect(checked).toBeGreaterThan(97);
    expect(mismatches).toBe(0);
    expect(checked).toBe(expected.collaborative.state.pairCount + 97);

    // Graceful stop: SIGTERM drains and exits 0.
    second.child.kill('SIGTERM');
    const exit = await second.exited;
    expect(exit.code, second.output().slice(-2000)).toBe(0);
  });
});
