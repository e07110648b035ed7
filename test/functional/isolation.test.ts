/**
 * Failure isolation and bounded produce on the real broker, registry and Redis:
 *  - a micro-batch with one record that fails while being processed (its user's stored recommender state is
 *    corrupt JSON: a real failure, not an injected one) → that record in the DLQ once with PROCESS_FAILED,
 *    every other record applied, and the worker goes on;
 *  - a burst of 300 records over the size cap (the crash loop #2) → 300 DLQ copies, truncated to fit the
 *    produce cap and produced in requests below it, and the worker goes on;
 *  - the in-flight cut set script and the bounded read-back.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { startWorker, type WorkerHandle } from '../../src/topology/worker.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import { StateStore } from '../../src/stores/state-store.js';
import { RecommenderStore } from '../../src/stages/recommend/store.js';
import { Keys } from '../../src/stores/keys.js';
import { bootstrapState } from '../../src/stores/bootstrap.js';
import { FeatureStore } from '../../src/stages/segments/store.js';
import type { UserEvent } from '../../src/domain/events.js';
import { maxRecordBytes } from '../../src/kafka/chunk.js';
import { testConfig, waitFor, openPipeline, sleep, pseudonymOf } from '../support/env.js';

const T0 = Date.UTC(2011, 5, 1);
const purchase = (userId: string, itemId: string, i: number): UserEvent => ({
  eventId: `${userId}-${i}`, userId, type: 'purchase', eventTime: T0 + i * 1000, itemId, quantity: 1, price: 2,
  rating: null, sessionId: null, context: null, properties: {},
});

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function setUp(overrides: Parameters<typeof testConfig>[0]) {
  const cfg = testConfig({ partitions: 1, ...overrides });
  const p = await openPipeline(cfg);
  cleanups.push(() => p.close());
  return { cfg, p, store: new StateStore(p.redis, cfg.keyPrefix) };
}

async function start(cfg: ReturnType<typeof testConfig>, kafka: Awaited<ReturnType<typeof openPipeline>>['kafka']): Promise<WorkerHandle> {
  const w = await startWorker(cfg, kafka);
  cleanups.push(() => w.stop());
  return w;
}

describe('failure isolation', () => {
  it('an unreadable state reached only through its due timer drops the timer; the other users\' records are applied', async () => {
    const { cfg, p, store } = await setUp({ microBatchSize: 100 });
    const worker = await start(cfg, p.kafka);
    const send = async (events: UserEvent[]) =>
      p.producer.send(p.topics.events, await Promise.all(events.map(async (e) => ({ key: e.userId, value: await p.codec.encodeEvent(e) }))));
    await send([purchase('ann', 'item1', 0)]);
    await waitFor(async () => (await store.userCounts(pseudonymOf('ann'))).purchase === '1', 'the first event applied');
    // Tim's stored feature state is corrupt and his timer falls due within the next micro-batch: every later
    // micro-batch of the partition loads him for that timer alone.
    const keys = new Keys(cfg.keyPrefix);
    await p.redis.hset(keys.userFeatures(pseudonymOf('tim')), 's', '{"corrupt": tim');
    await p.redis.zadd(keys.partitionTimers(p.topics.events, 0), T0 + 5_000, pseudonymOf('tim'));
    await send(Array.from({ length: 30 }, (_, i) => purchase(['ann', 'ben', 'cid'][i % 3], `item${i % 5}`, 10 + i)));
    await waitFor(async () => ((await store.readProgress(p.topics.events, 0)) ?? -1) >= 30, 'the partition applied to its end');
    expect((await store.userCounts(pseudonymOf('ann'))).purchase).toBe('11');
    expect((await store.userCounts(pseudonymOf('ben'))).purchase).toBe('10');
    expect((await store.userCounts(pseudonymOf('cid'))).purchase).toBe('10');
    expect(await readTopicToEnd(p.kafka, p.topics.dlq)).toHaveLength(0);
    expect(await p.redis.zscore(keys.partitionTimers(p.topics.events, 0), pseudonymOf('tim'))).toBeNull();
    expect((await worker.metrics.unreadableStates.get()).values[0].value).toBe(1);
    expect((await worker.metrics.isolated.get()).values.reduce((n, v) => n + v.value, 0)).toBe(0);
  });

  it('one record failing alone goes to the DLQ once with PROCESS_FAILED; every other record is applied', async () => {
    const { cfg, p, store } = await setUp({ microBatchSize: 100 });
    // A corrupt stored state for one user: JSON.parse throws in the recommend stage for each batch holding them.
    await p.redis.hset(new Keys(cfg.keyPrefix).userRecommender(pseudonymOf('mallory')), 's', '{"corrupt": mallory');
    const users = ['ann', 'ben', 'cid', 'dee', 'eve'];
    const events: UserEvent[] = [];
    for (let i = 0; i < 40; i++) events.push(purchase(users[i % users.length], `item${i % 7}`, i));
    events.splice(23, 0, purchase('mallory', 'item1', 23));
    await p.producer.send(p.topics.events, await Promise.all(events.map(async (e) => ({ key: e.userId, value: await p.codec.encodeEvent(e) }))));
    const worker = await start(cfg, p.kafka);

    await waitFor(async () => ((await store.readProgress(p.topics.events, 0)) ?? -1) >= events.length - 1, 'the partition applied to its end');
    for (const u of users) expect(Number((await store.userCounts(pseudonymOf(u))).purchase)).toBe(8);
    const dlq = await readTopicToEnd(p.kafka, p.topics.dlq);
    expect(dlq).toHaveLength(1);
    expect(dlq[0].headers).toMatchObject({
      'attune.error.code': 'PROCESS_FAILED', 'attune.error.stage': 'process', 'attune.error.class': 'SyntaxError',
      'attune.source.offset': '23', 'attune.source.partition': '0',
    });
    expect(dlq[0].headers['attune.error.message']).not.toContain('mallory');
    expect(dlq[0].key).toBe('mallory');
    const recs = await readTopicToEnd(p.kafka, p.topics.recommendations);
    expect(new Set(recs.map((r) => r.key))).toEqual(new Set(users));
    expect((await worker.metrics.isolated.get()).values[0].value).toBe(1);

    // The partition goes on: the next events (mallory's too: each one fails alone) are handled the same way.
    await p.producer.send(p.topics.events, await Promise.all([purchase('ann', 'item9', 50), purchase('mallory', 'item2', 51), purchase('ben', 'item9', 52)]
      .map(async (e) => ({ key: e.userId, value: await p.codec.encodeEvent(e) }))));
    await waitFor(async () => (await store.userCounts(pseudonymOf('ben'))).purchase === '9', 'the next micro-batch applied');
    expect((await store.userCounts(pseudonymOf('ann'))).purchase).toBe('9');
    const after = await waitFor(async () => { const r = await readTopicToEnd(p.kafka, p.topics.dlq); return r.length >= 2 ? r : null; }, 'the second dead letter');
    expect(after.map((r) => r.headers['attune.source.offset'])).toEqual(['23', `${events.length + 1}`]);
  });

  it('a burst of 300 records over the size cap: DLQ copies truncated, produced in chunks, the worker keeps going', async () => {
    const maxRequest = 65_536;
    const { cfg, p, store } = await setUp({ microBatchSize: 500, kafkaMaxRequestBytes: maxRequest });
    const big = Buffer.alloc(70_000, 0x61); // over ATTUNE_MAX_MESSAGE_BYTES (64 KiB) and over the produce cap
    const burst = Array.from({ length: 300 }, (_, i) => ({ key: `user${i % 10}`, value: big }));
    // 21 MB of input: the test's producer cuts it into requests too.
    await p.producer.send(p.topics.events, burst);
    await p.producer.send(p.topics.events, [{ key: 'ann', value: await p.codec.encodeEvent(purchase('ann', 'item1', 1)) }]);
    await start(cfg, p.kafka);

    await waitFor(async () => (await store.userCounts(pseudonymOf('ann'))).purchase === '1', 'the event after the burst applied', 120_000);
    const dlq = await readTopicToEnd(p.kafka, p.topics.dlq);
    expect(dlq).toHaveLength(300);
    expect(new Set(dlq.map((r) => r.headers['attune.source.offset'])).size).toBe(300); // each exactly once
    for (const r of dlq) {
      expect(r.headers['attune.error.code']).toBe('TOO_LARGE');
      expect(r.headers['attune.value.truncated']).toBe('70000');
      expect(r.value!.length).toBeLessThan(maxRecordBytes(maxRequest));
      expect(r.value!.length).toBeGreaterThan(maxRecordBytes(maxRequest) - 1_000);
    }
  });
});

describe('in-flight cuts in Redis (raiseInflight-1.lua)', () => {
  it('adds cuts, prunes those below the micro-batch, reads those above the progress, and takes over an old marker', async () => {
    const { cfg, p } = await setUp({});
    await bootstrapState(p.redis, cfg.keyPrefix); // the guard every script checks first
    const rs = new RecommenderStore(p.redis, cfg.keyPrefix);
    const key = new Keys(cfg.keyPrefix).partitionInflight('ev', 0);
    await p.redis.set(key, '40'); // a single marker left by an older deployment
    expect(await rs.readInflight('ev', 0, 10)).toEqual([40]);
    await rs.markInflight('ev', 0, 40, 11); // the replay's first micro-batch: [11..40]
    await rs.markInflight('ev', 0, 25, 11); // its first half
    await rs.markInflight('ev', 0, 17, 11); // and that half's first half
    expect(await p.redis.type(key)).toBe('zset');
    expect(await rs.readInflight('ev', 0, 10)).toEqual([17, 25, 40]);
    expect(await rs.readInflight('ev', 0, 17)).toEqual([25, 40]);
    await rs.markInflight('ev', 0, 30, 26); // [11..25] done: cuts below 26 go
    expect(await rs.readInflight('ev', 0, -1)).toEqual([30, 40]);
  });
});

describe('bounded read-back', () => {
  it('reads only the records produced since a time', async () => {
    const { p } = await setUp({});
    await p.producer.send(p.topics.dlq, [1, 2, 3].map((i) => ({ key: `a${i}`, value: Buffer.from('old') })));
    await sleep(1_500);
    const since = Date.now();
    await p.producer.send(p.topics.dlq, [4, 5].map((i) => ({ key: `b${i}`, value: Buffer.from('new') })));
    const all = await readTopicToEnd(p.kafka, p.topics.dlq);
    expect(all).toHaveLength(5);
    const recent = await readTopicToEnd(p.kafka, p.topics.dlq, 30_000, { sinceMs: since });
    expect(recent.map((r) => r.key).sort()).toEqual(['b4', 'b5']);
    expect(await readTopicToEnd(p.kafka, p.topics.dlq, 30_000, { sinceMs: Date.now() + 60_000 })).toEqual([]);
  });
});

describe('due timers in pages', () => {
  it('reads every due timer, in due order, across pages, and none that is not due', async () => {
    const { cfg, p } = await setUp({});
    const fs = new FeatureStore(p.redis, cfg.keyPrefix);
    const key = new Keys(cfg.keyPrefix).partitionTimers('ev', 0);
    const n = FeatureStore.DUE_TIMERS_PAGE * 2 + 500;
    const args: Array<string | number> = [];
    for (let i = 0; i < n; i++) args.push(i, `u${String(i).padStart(5, '0')}`);
    await p.redis.zadd(key, ...args);
    const due = await fs.dueTimers('ev', 0, n - 101);
    expect(due).toHaveLength(n - 100);
    expect(due[0]).toBe('u00000');
    expect(due.at(-1)).toBe(`u${String(n - 101).padStart(5, '0')}`);
    expect(await fs.dueTimers('ev', 0, FeatureStore.DUE_TIMERS_PAGE - 1)).toHaveLength(FeatureStore.DUE_TIMERS_PAGE); // a full last page
  });
});
