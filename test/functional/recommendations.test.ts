/**
 * The hybrid recommender in the worker, on real Kafka, registry and Redis: a purchase changes the buyer's
 * emitted list and the purchased items' neighbours within the same micro-batch; unavailable items are never
 * recommended; a restarted worker warms its model from Redis and recommends from what the first one learned.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startWorker, type WorkerHandle } from '../../src/topology/worker.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { Codec } from '../../src/stages/decode/codec.js';
import { topicNames } from '../../src/config/config.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import type { RedisClient } from '../../src/stores/redis-client.js';
import { produceCatalog, produceEvents } from '../../src/replay/producer.js';
import type { StreamProducer } from '../../src/kafka/port.js';
import type { CatalogItem, Recommendations, UserEvent } from '../../src/domain/events.js';
import { testConfig, waitFor, waitForSoleOwner, openPipeline } from '../support/env.js';
import { Keys } from '../../src/stores/keys.js';

const cfg = testConfig({ partitions: 1, microBatchSize: 500 });
const topics = topicNames(cfg);
const kafka = new KafkajsClient(cfg.kafkaBrokers, 'attune-test');
let codec: Codec;
let producer: StreamProducer;
let redis: RedisClient;
let worker: WorkerHandle | undefined;

const T0 = Date.UTC(2011, 3, 1);
let seq = 0;
const buy = (userId: string, itemId: string, dayOffset = 0): UserEvent => ({
  eventId: `${userId}-${itemId}-${++seq}`, userId, type: 'purchase', eventTime: T0 + dayOffset * 86_400_000 + seq * 1000, itemId,
  quantity: 1, price: 1, rating: null, sessionId: null, context: { device: null, country: 'FR', referrer: null, userAgent: null }, properties: {},
});
const item = (itemId: string, title: string, available = true): CatalogItem => ({
  itemId, title, categories: ['kitchen'], tags: title.toLowerCase().split(' '), price: 1, available, deleted: false, updatedAt: 0,
});

async function listsOf(user: string): Promise<{ list: Recommendations; source: string }[]> {
  const out = [];
  for (const r of await readTopicToEnd(kafka, topics.recommendations)) {
    if (r.key !== user) continue;
    out.push({ list: (await codec.decode(r.value, 1e6)) as unknown as Recommendations, source: r.headers['attune.source'] });
  }
  return out;
}

let pipeline: Awaited<ReturnType<typeof openPipeline>>;

beforeAll(async () => {
  pipeline = await openPipeline(cfg);
  ({ codec, producer, redis } = pipeline);
  await produceCatalog(producer, codec, topics, [
    item('mug', 'Red Mug'), item('saucer', 'Red Saucer'), item('tin', 'Cake Tin'), item('spoon', 'Tea Spoon'),
    item('gone', 'Old Teapot', false), item('bag', 'Jumbo Bag'),
  ]);
  worker = await startWorker(cfg, kafka);
});

afterAll(async () => {
  await worker?.stop();
  await pipeline?.close();
});

describe('recommendations in the worker', () => {
  it('a purchase changes the buyer\'s list and the items\' neighbours in the same batch', async () => {
    // Other customers buy mug with saucer, and tin with spoon and the unavailable teapot.
    await produceEvents(producer, codec, topics, [
      buy('u1', 'mug'), buy('u1', 'saucer'), buy('u2', 'mug'), buy('u2', 'saucer'),
      buy('u3', 'tin'), buy('u3', 'spoon'), buy('u3', 'gone'), buy('u4', 'tin'), buy('u4', 'spoon'),
    ]);
    await waitFor(async () => (await listsOf('u4')).length > 0, 'u4 handled');

    // Alice buys a tin: spoon (bought with tin) comes first, the unavailable teapot never.
    await produceEvents(producer, codec, topics, [buy('alice', 'tin', 2)]);
    const first = await waitFor(async () => { const l = await listsOf('alice'); return l.length >= 1 ? l : null; }, 'alice\'s first list');
    const l1 = first[0].list;
    expect(l1.items[0].itemId).toBe('spoon');
    expect(l1.items[0].reasons[0]).toMatchObject({ kind: 'bought_together', relatedItemId: 'tin' });
    expect(l1.items[0].reasons[0].text).toBe('bought together with Cake Tin');
    expect(l1.items.map((i) => i.itemId)).not.toContain('gone');
    expect(l1.items.map((i) => i.itemId)).not.toContain('tin');

    // Then a mug: in that same micro-batch her list changes (saucer joins at the top) and so does mug's row.
    const rowBefore = await redis.hgetall(`${cfg.keyPrefix}:{i:mug}:co`);
    await produceEvents(producer, codec, topics, [buy('alice', 'mug', 3)]);
    const lists = await waitFor(async () => { const l = await listsOf('alice'); return l.length >= 2 ? l : null; }, 'alice\'s second list');
    const l2 = lists[1].list;
    expect(lists[1].source).toMatch(new RegExp(`^${topics.events}:0:\\d+$`));
    expect(l2.sourceEventTime).toBeGreaterThan(l1.sourceEventTime!);
    expect(l2.items[0]).toMatchObject({ itemId: 'saucer' });
    expect(l2.items[0].reasons.map((r) => r.relatedItemId)).toContain('mug');
    expect(l2.items.map((i) => i.itemId)).toContain('spoon');
    const rowAfter = await redis.hgetall(`${cfg.keyPrefix}:{i:mug}:co`);
    expect(Number(rowAfter[Keys.COOC_NORM_FIELD])).toBeGreaterThan(Number(rowBefore[Keys.COOC_NORM_FIELD]));
    // mug < tin in string order, so the new pair lives in mug's row, under the namespaced field of tin.
    expect(Number(rowAfter[Keys.coocItemField('tin')])).toBeGreaterThan(0);
    expect(rowBefore[Keys.coocItemField('tin')]).toBeUndefined();
  });

  it('an item that becomes unavailable is taken out of the lists that hold it, without new events', async () => {
    const before = await listsOf('alice');
    expect(before.at(-1)!.list.items.map((i) => i.itemId)).toContain('spoon');
    await produceCatalog(producer, codec, topics, [item('spoon', 'Tea Spoon', false)]);
    const after = await waitFor(async () => { const l = await listsOf('alice'); return l.length > before.length ? l : null; }, 'alice\'s corrected list');
    const fixed = after.at(-1)!;
    expect(fixed.source).toMatch(new RegExp(`^${topics.items}:\\d+:\\d+$`));
    expect(fixed.list.items.map((i) => i.itemId)).not.toContain('spoon');
    expect(fixed.list.items[0].itemId).toBe('saucer');
    // Only lists that held the item were corrected: every other user's list is unchanged.
    for (const u of ['u1', 'u2', 'u3', 'u4']) {
      const lists = await listsOf(u);
      const last = lists.at(-1)!;
      expect(last.list.items.map((i) => i.itemId)).not.toContain('spoon');
      if (last.source.startsWith(topics.items)) expect(lists.at(-2)!.list.items.map((i) => i.itemId)).toContain('spoon');
    }
  });

  it('a restarted worker recommends from what Redis holds', async () => {
    await worker!.stop();
    worker = await startWorker(cfg, kafka);
    await waitForSoleOwner(cfg, topics.events); // the stopped worker may still hold a partition for a moment
    await produceEvents(producer, codec, topics, [buy('bob', 'saucer', 4)]);
    const lists = await waitFor(async () => { const l = await listsOf('bob'); return l.length ? l : null; }, 'bob\'s list');
    expect(lists[0].list.items[0]).toMatchObject({ itemId: 'mug' });
    expect(lists[0].list.items[0].reasons[0]).toMatchObject({ kind: 'bought_together', relatedItemId: 'saucer' });
  });
});
