/**
 * The worker end to end on the real broker, registry and Redis: encoded events in, Redis state and decoded
 * recommendations out; garbage and schema-violating records land in the DLQ with their headers while the
 * valid records around them are applied.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startWorker, type WorkerHandle } from '../../src/topology/worker.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { Codec } from '../../src/stages/decode/codec.js';
import { topicNames } from '../../src/config/config.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import { StateStore } from '../../src/stores/state-store.js';
import type { StreamProducer } from '../../src/kafka/port.js';
import type { RedisClient } from '../../src/stores/redis-client.js';
import type { Recommendations, UserEvent } from '../../src/domain/events.js';
import { testConfig, waitFor, openPipeline, pseudonymOf } from '../support/env.js';

// One partition: records keyed by their user (as KEY_MISMATCH demands) still share one order, bad between good.
const cfg = testConfig({ partitions: 1 });
const topics = topicNames(cfg);
const kafka = new KafkajsClient(cfg.kafkaBrokers, 'attune-test');
let worker: WorkerHandle;
let codec: Codec;
let producer: StreamProducer;
let redis: RedisClient;
let store: StateStore;

const T0 = Date.UTC(2011, 5, 1);
const purchase = (userId: string, itemId: string, i: number): UserEvent => ({
  eventId: `${userId}-${i}`, userId, type: 'purchase', eventTime: T0 + i * 1000, itemId, quantity: 1, price: 2,
  rating: null, sessionId: null, context: { device: 'web', country: 'UK', referrer: null, userAgent: null }, properties: {},
});

let pipeline: Awaited<ReturnType<typeof openPipeline>>;

beforeAll(async () => {
  pipeline = await openPipeline(cfg);
  ({ codec, producer, redis } = pipeline);
  store = new StateStore(redis, cfg.keyPrefix);
  worker = await startWorker(cfg, kafka);
});

afterAll(async () => {
  await worker?.stop();
  await pipeline?.close();
});

describe('worker pipeline', () => {
  it('applies valid events, dead-letters bad ones and emits recommendations', async () => {
    // Items "a".."e" are bought by others; "alice" buys "a" so it must not be recommended to her.
    const good: UserEvent[] = [
      purchase('bob', 'a', 1), purchase('bob', 'b', 2), purchase('carol', 'a', 3), purchase('carol', 'c', 4),
      purchase('dave', 'a', 5), purchase('dave', 'b', 6), purchase('dave', 'd', 7),
    ];
    const alice = purchase('alice', 'a', 8);
    const enc = async (e: UserEvent) => ({ key: e.userId, value: await codec.encodeEvent(e) });
    const itemSchemaOnEvents = await codec.encodeItem({ itemId: 'x', title: 't', categories: [], tags: [], price: null, available: true, deleted: false, updatedAt: 0 });
    await producer.send(topics.events, [
      ...(await Promise.all(good.map(enc))),
      { key: 'same', value: Buffer.from('garbage bytes, not avro') },
      { key: 'same', value: Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 1, 2, 3]) }, // unknown schema id
      { key: 'same', value: itemSchemaOnEvents }, // a schema of another subject (the items topic's)
      { key: 'erin', value: await codec.encodeEvent({ ...purchase('erin', 'z', 9), eventTime: Date.UTC(1990, 0, 1) }) },
      { key: 'erin', value: await codec.encodeEvent({ ...purchase('erin', 'z', 10), itemId: null }) },
      await enc(alice),
      { key: 'same', value: await codec.encodeEvent(purchase('frank', 'a', 11)) }, // keyed by something else than its user
    ]);

    await waitFor(async () => (await store.userCounts(pseudonymOf('alice'))).purchase === '1', 'alice applied');
    expect((await store.userCounts(pseudonymOf('dave'))).purchase).toBe('3');
    expect((await store.userCounts(pseudonymOf('erin'))).purchase).toBeUndefined();
    expect((await store.userCounts(pseudonymOf('frank'))).purchase).toBeUndefined();
    expect(await store.topPopular(2)).toEqual([{ itemId: 'a', count: 4 }, { itemId: 'b', count: 2 }]);

    const dlq = await waitFor(async () => { const r = await readTopicToEnd(kafka, topics.dlq); return r.length >= 6 ? r : null; }, '6 DLQ records');
    expect(dlq.map((r) => r.headers['attune.error.code'])).toEqual(['BAD_MAGIC', 'UNKNOWN_SCHEMA', 'FOREIGN_SCHEMA', 'TIME_TOO_OLD', 'MISSING_ID', 'KEY_MISMATCH']);
    expect(dlq[0].value?.toString()).toBe('garbage bytes, not avro');
    for (const r of dlq) {
      expect(r.headers['attune.source.topic']).toBe(topics.events);
      expect(r.headers['attune.error.stage']).toMatch(/^(decode|validate)$/);
      expect(Number(r.headers['attune.source.offset'])).toBeGreaterThanOrEqual(7);
      expect(r.headers['attune.error.message']).not.toContain('erin');
      expect(r.headers['attune.error.message']).not.toContain('frank');
    }

    const out = await waitFor(async () => {
      const recs = await readTopicToEnd(kafka, topics.recommendations);
      return recs.some((r) => r.key === 'alice') ? recs : null;
    }, 'alice\'s recommendations');
    const latest = new Map<string, Recommendations>();
    for (const r of out) latest.set(r.key!, (await codec.decode(r.value, 1e6)) as unknown as Recommendations);
    const forAlice = latest.get('alice')!;
    // Her purchase of "a" made its co-buyers her recommendations, in the same micro-batch, best first.
    expect(forAlice.strategy).toBe('hybrid-v1');
    expect(forAlice.items.slice(0, 3).map((i) => i.itemId)).toEqual(['b', 'c', 'd']);
    expect(forAlice.items.map((i) => i.itemId)).not.toContain('a'); // bought minutes ago
    expect(forAlice.items[0].reasons[0]).toMatchObject({ kind: 'bought_together', relatedItemId: 'a' });
    expect(forAlice.sourceEventId).toBe('alice-8');
    expect(forAlice.sourceEventTime).toBe(alice.eventTime);
    expect(latest.get('dave')!.items.map((i) => i.itemId)).not.toContain('a');
    // The co-occurrence rows in Redis hold every pair once (in the smaller item's row) and the norms.
    const rowA = await redis.hgetall(`${cfg.keyPrefix}:{i:a}:co`);
    expect(Number(rowA['i:b'])).toBeGreaterThan(Number(rowA['i:c']));
    expect(Number(rowA._n)).toBeGreaterThan(0);
    const header = out.find((r) => r.key === 'alice')!.headers['attune.source'];
    expect(header).toMatch(new RegExp(`^${topics.events}:\\d+:12$`));
    // The worker exposes what it did.
    const metrics = await (await fetch(`http://127.0.0.1:${worker.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/attune_dlq_records_total\{stage="decode",code="BAD_MAGIC"\} 1/);
    expect(metrics).toMatch(/attune_events_total\{type="purchase",outcome="valid"\} 8/);
    expect((await fetch(`http://127.0.0.1:${worker.httpPort}/readyz`)).status).toBe(200);
  });
});
