/**
 * The worker pipeline on the local 3-master Redis Cluster (scripts/services.sh up cluster), checked against the
 * same pipeline on a single Redis: the same events go to two topic sets, one worker keeps its state on the single
 * Redis, the other on the Cluster, and at the end every key of both deployments is compared (type and value),
 * per-user counts and popularity are checked against the input, and the last emitted recommendation of every
 * user must be identical. The Cluster's keys must be spread over all three masters, so cross-slot scripts,
 * pipelines or single-node commands would fail here (CROSSSLOT, MOVED) rather than pass by luck.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Cluster, type Redis } from 'ioredis';
import { startWorker, type WorkerHandle } from '../../src/topology/worker.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { Codec } from '../../src/stages/decode/codec.js';
import { topicNames, type Config } from '../../src/config/config.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import { createRedis, type RedisClient } from '../../src/stores/redis-client.js';
import { deleteKeysWithPrefix, scanKeys } from '../../src/stores/maintenance.js';
import { isGuardBookkeeping } from '../../src/stores/guard.js';
import { StateStore } from '../../src/stores/state-store.js';
import { produceEvents } from '../../src/replay/producer.js';
import type { StreamProducer } from '../../src/kafka/port.js';
import type { EventType, Recommendations, UserEvent } from '../../src/domain/events.js';
import { testConfig, waitFor, pseudonymOf } from '../support/env.js';
import { readStoredList } from '../../src/stores/stored-list.js';

const CLUSTER_NODES = process.env.ATTUNE_REDIS_CLUSTER_NODES || '127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002';
// No wall-clock punctuation: both runs must see exactly the same inputs.
const configs = (partitions: number) => [
  testConfig({ partitions, segmentIdleMs: 0, microBatchSize: 100, redisClusterNodes: '' }),
  testConfig({ partitions, segmentIdleMs: 0, microBatchSize: 100, redisClusterNodes: CLUSTER_NODES }),
];
const kafka = new KafkajsClient(configs(1)[0].kafkaBrokers, 'attune-test');
/** Keys of the hybrid recommender: its item-keyed co-occurrence rows are shared by all partitions, so with several
 *  partitions they (and the lists computed from them) depend on how the partitions interleave, on any Redis. */
// Recommender state depends on how partitions interleave (float sums, the model at each list's time); holders
// derive from the lists.
const RECOMMENDER_KEY = /:(rec|recs|co|holders)$/;

const USERS = 80;
const ITEMS = 40;
const T0 = Date.UTC(2011, 2, 1);
const TYPES: EventType[] = ['view', 'view', 'click', 'add_to_cart', 'purchase'];
const CATS = ['tech', 'home', 'garden'];
const event = (i: number, type: EventType, userId: string): UserEvent => ({
  eventId: `e${i}`, userId, type, eventTime: T0 + i * 60_000, itemId: `item${(i * 11) % ITEMS}`,
  quantity: type === 'purchase' ? 1 + (i % 3) : null, price: type === 'purchase' ? 5 + (i % 50) : null,
  rating: null, sessionId: `s${Math.floor(i / 25)}`, context: null, properties: { category: CATS[i % CATS.length] },
});
// Phase 1: a mix of event types; phase 2: one view per user after everything else is applied, so that every
// user's last recommendation is computed on the final popularity (deterministic on both deployments).
const phase1 = Array.from({ length: 2400 }, (_, i) => event(i, TYPES[(i * 7) % TYPES.length], `user${(i * 13) % USERS}`));
const phase2 = Array.from({ length: USERS }, (_, u) => event(10_000 + u, 'view', `user${u}`));

interface Deployment { cfg: Config; redis: RedisClient; worker?: WorkerHandle; store: StateStore }
let a: Deployment;
let b: Deployment;
let producer: StreamProducer;
const deployments: Deployment[] = [];

async function setUp(cfg: Config): Promise<Deployment> {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, cfg);
  await admin.disconnect();
  const redis = createRedis(cfg);
  return { cfg, redis, store: new StateStore(redis, cfg.keyPrefix) };
}

beforeAll(async () => {
  producer = kafka.producer();
  await producer.connect();
});

afterAll(async () => {
  await Promise.all(deployments.map((d) => d.worker?.stop()));
  await producer?.disconnect();
  for (const d of deployments) {
    await deleteKeysWithPrefix(d.redis, d.cfg.keyPrefix);
    await d.redis.quit();
  }
});

async function produceBoth(events: UserEvent[]) {
  for (const d of [a, b]) {
    const codec = new Codec(d.cfg.registryUrl, topicNames(d.cfg));
    await codec.registerAll();
    await produceEvents(producer, codec, topicNames(d.cfg), events, { batchSize: 200 });
  }
}

/** True when every events partition's applied progress in Redis reached the topic's end. */
async function caughtUp(d: Deployment): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topic = topicNames(d.cfg).events;
    const ends = await admin.endOffsets(topic);
    for (const [p, end] of ends) {
      if (Number(end) === 0) continue;
      if ((await d.store.readProgress(topic, p)) !== Number(end) - 1) return false;
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}

/** Every key of a deployment as `normalized key -> [type, value]`, prefix and topic names replaced by `X`. */
async function dump(d: Deployment): Promise<Map<string, [string, unknown]>> {
  const id = d.cfg.keyPrefix;
  const norm = (s: string) => s.split(id).join('X');
  const out = new Map<string, [string, unknown]>();
  for await (const keys of scanKeys(d.redis, `${id}:*`)) {
    for (const key of keys) {
      if (isGuardBookkeeping(key)) continue;
      const type = await d.redis.type(key);
      let value: unknown;
      if (type === 'hash') {
        const h = await d.redis.hgetall(key);
        delete h.wall; // the partition's wall clock of its last batch
        value = Object.fromEntries(Object.entries(h).sort(([x], [y]) => x.localeCompare(y)).map(([k, v]) => [norm(k), norm(v)]));
      } else if (type === 'list') value = (await d.redis.lrange(key, 0, -1)).map(norm);
      else if (type === 'zset') value = await d.redis.zrange(key, 0, -1, 'WITHSCORES');
      else if (type === 'set') value = (await d.redis.smembers(key)).sort();
      else if (type === 'string') {
        // The stored recommendation list (deflated, stores/stored-list.ts) carries generatedAt (wall clock): compare
        // it without that field.
        value = key.endsWith(':recs') ? { ...(await readStoredList(d.redis, key))!, generatedAt: 0 } : norm((await d.redis.get(key)) ?? '');
      } else value = type;
      out.set(norm(key), [type, value]);
    }
  }
  return out;
}

async function lastRecommendations(d: Deployment) {
  const codec = new Codec(d.cfg.registryUrl, topicNames(d.cfg));
  const out = new Map<string, { source: string; rec: Recommendations }>();
  for (const r of await readTopicToEnd(kafka, topicNames(d.cfg).recommendations)) {
    const rec = (await codec.decode(r.value, 1e6)) as unknown as Recommendations;
    out.set(r.key!, { source: String(r.headers['attune.source']).split(d.cfg.topicPrefix).join('X'), rec: { ...rec, generatedAt: 0 } });
  }
  return out;
}

describe('worker on a 3-master Redis Cluster', () => {
  async function runBoth(partitions: number) {
    const [x, y] = configs(partitions);
    a = await setUp(x);
    b = await setUp(y);
    deployments.push(a, b);
    expect(b.redis).toBeInstanceOf(Cluster);
    await produceBoth(phase1);
    [a.worker, b.worker] = await Promise.all([startWorker(a.cfg, kafka), startWorker(b.cfg, kafka)]);
    await waitFor(async () => (await caughtUp(a)) && (await caughtUp(b)), 'both workers to apply phase 1', 60_000, 300);
    await produceBoth(phase2);
    await waitFor(async () => (await caughtUp(a)) && (await caughtUp(b)), 'both workers to apply phase 2', 60_000, 300);

    // Per-user counts and popularity are exactly what was produced, on the Cluster.
    const all = [...phase1, ...phase2];
    for (let u = 0; u < USERS; u++) {
      const mine = all.filter((e) => e.userId === `user${u}`);
      const counts = await b.store.userCounts(pseudonymOf(`user${u}`));
      for (const t of new Set(mine.map((e) => e.type))) expect(Number(counts[t]), `user${u} ${t}`).toBe(mine.filter((e) => e.type === t).length);
    }
    const purchases = all.filter((e) => e.type === 'purchase');
    const popularity = await b.store.topPopular(1000);
    expect(popularity.reduce((s, p) => s + p.count, 0)).toBe(purchases.length);
    for (const p of popularity) expect(p.count, p.itemId).toBe(purchases.filter((e) => e.itemId === p.itemId).length);

    // Key by key, the Cluster holds what the single Redis holds (features, segments, counts, offsets, recs...).
    const [da, db] = await Promise.all([dump(a), dump(b)]);
    if (partitions > 1) for (const m of [da, db]) for (const k of [...m.keys()]) if (RECOMMENDER_KEY.test(k)) m.delete(k);
    expect(da.size).toBeGreaterThan(USERS * 4);
    expect([...db.keys()].sort()).toEqual([...da.keys()].sort());
    const differing = [...da.keys()].filter((k) => JSON.stringify(da.get(k)) !== JSON.stringify(db.get(k)));
    const explain = differing.slice(0, 3).map((k) => {
      const x = JSON.stringify(da.get(k)); const y = JSON.stringify(db.get(k));
      let at = 0; while (x[at] === y[at]) at++;
      return `${k}\n  single : ${x.slice(Math.max(0, at - 120), at + 120)}\n  cluster: ${y.slice(Math.max(0, at - 120), at + 120)}`;
    });
    expect(differing, explain.join('\n')).toEqual([]);
    // Segment state is part of the dump; make sure there is some to compare.
    expect([...da.keys()].some((k) => k.endsWith(':segments'))).toBe(true);
    expect([...da.keys()].some((k) => k.endsWith(':segcounts'))).toBe(true);

    // The state really is spread over the three masters.
    const perNode = await Promise.all((b.redis as Cluster).nodes('master').map(async (n: Redis) => {
      let c = 0;
      let cursor = '0';
      do { const [next, keys] = await n.scan(cursor, 'MATCH', `${b.cfg.keyPrefix}:*`, 'COUNT', 1000); cursor = next; c += keys.length; } while (cursor !== '0');
      return c;
    }));
    expect(perNode).toHaveLength(3);
    for (const c of perNode) expect(c).toBeGreaterThan(0);

    // The last emitted recommendation of every user is the same on both (items, reasons, source header).
    const [ra, rb] = await Promise.all([lastRecommendations(a), lastRecommendations(b)]);
    expect(ra.size).toBe(USERS);
    expect([...rb.keys()].sort()).toEqual([...ra.keys()].sort());
    if (partitions === 1) for (const [user, x] of ra) expect(rb.get(user), user).toEqual(x);
    for (const [, x] of rb) expect(x.rec.items.length).toBeGreaterThan(0);

    const ready = await fetch(`http://127.0.0.1:${b.worker.httpPort}/readyz`);
    expect(ready.status).toBe(200);
  }

  it('3 partitions: state key by key as on a single Redis (recommender keys aside), counts and popularity exact', () => runBoth(3));
  it('1 partition: every key and every last emitted recommendation exactly as on a single Redis', () => runBoth(1));
});
