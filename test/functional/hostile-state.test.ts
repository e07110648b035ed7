/**
 * Hostile ids and clocks against the real broker, registry and Redis (issue #10), one partition:
 *  - nasty-but-legal user and item ids (`__proto__`, `constructor`, `_n`, the partition's own applied-offset field
 *    name `o:<events topic>:0`, braces, colons, glob characters, unicode) reach only their own state: every user's
 *    counts, the popularity of every item and every co-occurrence row equal what pure code computes from the input,
 *    and each row's applied offset is intact;
 *  - a resent event id is dead-lettered DUPLICATE_EVENT, once;
 *  - one client 23 h ahead does not make its neighbours' events TOO_LATE;
 *  - the recommend stage keeps no user in memory after a micro-batch.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startWorker, type WorkerHandle } from '../../src/topology/worker.js';
import { topicNames } from '../../src/config/config.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import { produceEvents } from '../../src/replay/producer.js';
import type { UserEvent } from '../../src/domain/events.js';
import { StateStore } from '../../src/stores/state-store.js';
import { Keys } from '../../src/stores/keys.js';
import { RecommenderStore } from '../../src/stages/recommend/store.js';
import { RecommendStage } from '../../src/stages/recommend/processor.js';
import { ListExperiments } from '../../src/stages/recommend/experiments.js';
import { Recommender } from '../../src/stages/recommend/model/recommender.js';
import { loadRecommenderConfig } from '../../src/stages/recommend/model/load-config.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { testConfig, waitFor, openPipeline, pseudonymOf } from '../support/env.js';

const cfg = testConfig({ partitions: 1, microBatchSize: 50 });
const topics = topicNames(cfg);
let pipeline: Awaited<ReturnType<typeof openPipeline>>;
let worker: WorkerHandle | undefined;

const NASTY = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '_n', `o:${topics.events}:0`, 'o:attune.events:3', '{x}', 'a}b', 'a:b', '*', '?', '[', 'i:', 'ünï©ødé ✓'];
const BASE = Date.now() - 60_000;
let seq = 0;
const buy = (userId: string, itemId: string, t: number, eventId = `e${++seq}`): UserEvent => ({
  eventId, userId, type: 'purchase', eventTime: t, itemId, quantity: 1, price: 1, rating: null, sessionId: null,
  context: null, properties: {},
});

// Each nasty user buys its own item and the next one: every nasty item ends up in rows with nasty neighbours.
const valid: UserEvent[] = [];
NASTY.forEach((u, k) => {
  valid.push(buy(u, NASTY[k]!, BASE + k * 100), buy(u, NASTY[(k + 1) % NASTY.length]!, BASE + k * 100 + 50));
});
const original = buy('resender', 'plain', BASE + 2000, 'same-id');
valid.push(original);
const skewed = buy('skewed', 'plain', BASE + 23 * 3_600_000);
const neighbours = Array.from({ length: 10 }, (_, i) => buy(`n${i}`, i % 2 ? '__proto__' : 'plain', BASE + 3000 + i));
const input = [...valid, { ...original }, skewed, ...neighbours];
const applied = [...valid, skewed, ...neighbours];

beforeAll(async () => {
  pipeline = await openPipeline(cfg);
  await produceEvents(pipeline.producer, pipeline.codec, topics, input);
  worker = await startWorker(cfg, pipeline.kafka);
});
afterAll(async () => {
  await worker?.stop();
  await pipeline?.close();
});

describe('hostile ids and clocks', () => {
  it('dead-letter only the resent event id, and nothing as too late', async () => {
    const store = new StateStore(pipeline.redis, cfg.keyPrefix);
    await waitFor(async () => Object.keys(await store.userCounts(pseudonymOf('n9'))).length > 0 || null, 'the last event applied');
    const dlq = await waitFor(async () => { const r = await readTopicToEnd(pipeline.kafka, topics.dlq); return r.length ? r : null; }, 'a dead letter');
    expect(dlq.map((r) => [r.headers['attune.error.code'], r.headers['attune.error.stage']])).toEqual([['DUPLICATE_EVENT', 'validate']]);
    expect(dlq[0]!.headers['attune.source.offset']).toBe(String(valid.length));
  });

  it('apply every valid event of a nasty id to its own state only', async () => {
    const { redis } = pipeline;
    const store = new StateStore(redis, cfg.keyPrefix);
    const users = new Map<string, number>();
    for (const e of applied) users.set(e.userId, (users.get(e.userId) ?? 0) + 1);
    for (const [u, n] of users) expect((await store.userCounts(pseudonymOf(u))).purchase, u).toBe(String(n));

    const pop = new Map<string, number>();
    for (const e of applied) pop.set(e.itemId!, (pop.get(e.itemId!) ?? 0) + 1);
    const got = new Map((await store.topPopular(1000)).map((p) => [p.itemId, p.count]));
    expect(got).toEqual(pop);

    // Rows against the same recommender code run offline over the applied events.
    const offline = new Recommender(loadRecommenderConfig(cfg));
    offline.collaborative.setEpoch(cfg.decayEpoch);
    for (const e of applied) offline.learnBatch([e]);
    const rs = new RecommenderStore(redis, cfg.keyPrefix);
    const field = Keys.partitionField(topics.events, 0);
    let pairs = 0;
    const rows = new Set<string>();
    await rs.forEachRow((itemId, row) => {
      rows.add(itemId);
      const a = offline.items.lookup(itemId);
      expect(a, itemId).toBeGreaterThanOrEqual(0);
      expect(row.norm).toBeCloseTo(offline.collaborative.state.normOf(a), 9);
      for (const [other, v] of row.pairs) {
        pairs++;
        expect(v, `${itemId} / ${other}`).toBeCloseTo(offline.collaborative.state.cooc(a, offline.items.lookup(other)), 9);
      }
    });
    expect(pairs).toBe(offline.collaborative.state.pairCount);
    for (const id of NASTY) expect(rows.has(id), id).toBe(true);
    // No field of any row is a raw item id; every applied offset is an offset of this partition.
    for (const id of rows) {
      const h = await redis.hgetall(rs.keys.itemCooc(id));
      for (const [f, v] of Object.entries(h)) {
        const kind = Keys.parseCoocField(f).kind;
        expect(kind, `${id}: ${f}`).not.toBe('unknown');
        if (kind === 'offset') {
          expect(f).toBe(field);
          expect(Number.isInteger(Number(v)) && Number(v) < input.length).toBe(true);
        }
      }
    }
    // The item named like the applied field has a pair field of its own, the applied field stays an offset.
    const row = await redis.hgetall(rs.keys.itemCooc('_n'));
    expect(row[Keys.coocItemField(`o:${topics.events}:0`)]).toBeDefined();
    expect(Number(row[field])).toBeLessThan(input.length);
  });

  it('keep no user in the recommend stage\'s memory after a micro-batch', async () => {
    const rec = new Recommender(loadRecommenderConfig(cfg));
    const stage = new RecommendStage({
      experiments: ListExperiments.none(rec, createMetrics()),
      cfg, topics, codec: pipeline.codec, store: new RecommenderStore(pipeline.redis, cfg.keyPrefix), state: new StateStore(pipeline.redis, cfg.keyPrefix),
      producer: pipeline.producer, metrics: createMetrics(), rec,
      // Driven directly with ids as pseudonyms: each resolves to itself, everyone may be personalized.
      identities: { resolve: async (ps) => new Map([...ps].map((p) => [p, p])), personalizable: async (ps) => new Set(ps) },
    });
    const topic = `${topics.events}-direct`;
    const first = await stage.process(topic, 0, [0, 1, 2].map((o) => ({ offset: o, event: buy(`m${o}`, 'plain', BASE + o) })), 2);
    expect(first).toHaveLength(3);
    expect(rec.users.size).toBe(0);
    await stage.process(topic, 0, [3, 4].map((o) => ({ offset: o, event: buy('m0', '__proto__', BASE + o) })), 4);
    expect(rec.users.size).toBe(0);
    // Evicted is not forgotten: the next micro-batch reloaded m0 from Redis and extended its history.
    const state = JSON.parse((await pipeline.redis.hget(new Keys(cfg.keyPrefix).userRecommender('m0'), 's'))!) as { h: { i: string[] } };
    expect(state.h.i).toEqual(['plain', '__proto__']);
  });
});
