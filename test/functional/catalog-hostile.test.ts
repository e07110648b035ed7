/**
 * Hostile records on the catalog topic: a categories array claiming 1e9 items (which ran every worker out of memory)
 * and records that break the item rules are dead-lettered once each, with their code, through the exactly-once
 * sink; the valid items around them reach the item hash and the worker stays healthy. The same for the ~30-byte
 * events-topic record whose properties map claims 2^40 entries (which wedged a worker at 100% CPU).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startWorker, type WorkerHandle } from '../../src/topology/worker.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import type { CatalogItem } from '../../src/domain/events.js';
import { testConfig, waitFor, openPipeline, pseudonymOf } from '../support/env.js';
import { StateStore } from '../../src/stores/state-store.js';
import type { UserEvent } from '../../src/domain/events.js';

const cfg = testConfig({ partitions: 1 });
const kafka = new KafkajsClient(cfg.kafkaBrokers, 'attune-test');
let pipe: Awaited<ReturnType<typeof openPipeline>>;
let worker: WorkerHandle;

const item = (itemId: string, over: Partial<CatalogItem> = {}): CatalogItem => ({
  itemId, title: `Item ${itemId}`, categories: ['kitchen'], tags: ['new'], price: 2, available: true, deleted: false, updatedAt: 0, ...over,
});

/** Zig-zag varint (for the hand-made bomb). */
function long(n: number): Buffer {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  do {
    let b = z % 128;
    z = Math.floor(z / 128);
    if (z > 0) b |= 0x80;
    out.push(b);
  } while (z > 0);
  return Buffer.from(out);
}

beforeAll(async () => {
  pipe = await openPipeline(cfg);
  worker = await startWorker(cfg, kafka);
});

afterAll(async () => {
  await worker?.stop();
  await pipe?.close();
});

describe('the catalog under hostile input', () => {
  it('dead-letters bombs and invalid items once each, applies the rest', async () => {
    const { codec, producer, topics, redis } = pipe;
    const ids = await codec.registerAll();
    const frame = (body: Buffer) => { const h = Buffer.alloc(5); h.writeInt32BE(ids.items, 1); return Buffer.concat([h, body]); };
    // itemId "bomb", title null, then a categories block claiming 1e9 strings in a few bytes.
    const bomb = frame(Buffer.concat([long(4), Buffer.from('bomb'), long(0), long(1e9), long(1), Buffer.from('x')]));
    const enc = async (i: CatalogItem) => ({ key: i.itemId, value: await codec.encodeItem(i) });
    await producer.send(topics.items, [
      await enc(item('good1')),
      { key: 'bomb', value: bomb },
      await enc(item('many', { categories: Array.from({ length: 33 }, (_, k) => `c${k}`) })),
      await enc(item('nan', { price: Number.NaN })),
      await enc(item('long', { title: 't'.repeat(513) })),
      await enc(item('ctl\u0001id')),
      await enc(item('emptycat', { categories: [''] })),
      { key: 'ev', value: await codec.encodeEvent({ eventId: 'e', userId: 'u', type: 'view', eventTime: Date.now(), itemId: 'i', quantity: null, price: null, rating: null, sessionId: null, context: null, properties: {} }) },
      await enc(item('good2', { categories: ['__proto__', 'constructor'] })),
    ]);

    await waitFor(async () => (await redis.hget(`${cfg.keyPrefix}:{i:good2}:item`, 'title')) === 'Item good2', 'good2 upserted');
    expect(await redis.hget(`${cfg.keyPrefix}:{i:good1}:item`, 'title')).toBe('Item good1');
    expect(JSON.parse((await redis.hget(`${cfg.keyPrefix}:{i:good2}:item`, 'categories'))!)).toEqual(['__proto__', 'constructor']);
    for (const bad of ['bomb', 'many', 'nan', 'long', 'emptycat']) expect(await redis.exists(`${cfg.keyPrefix}:{i:${bad}}:item`), bad).toBe(0);

    const dlq = await waitFor(async () => {
      const r = (await readTopicToEnd(kafka, topics.dlq)).filter((x) => x.headers['attune.source.topic'] === topics.items);
      return r.length >= 7 ? r : null;
    }, '7 catalog DLQ records');
    expect(dlq.map((r) => [r.headers['attune.source.offset'], r.headers['attune.error.code']])).toEqual([
      ['1', 'AVRO_LIMIT'], ['2', 'TOO_MANY_CATEGORIES'], ['3', 'BAD_PRICE'], ['4', 'TITLE_TOO_LONG'], ['5', 'BAD_ID'], ['6', 'BAD_CATEGORY'], ['7', 'FOREIGN_SCHEMA'],
    ]);
    // Written through the exactly-once sink: its marks for the items partition are recorded with the state.
    expect(await redis.keys(`${cfg.keyPrefix}:*dlq*`)).not.toEqual([]);
    expect((await fetch(`http://127.0.0.1:${worker.httpPort}/healthz`)).status).toBe(200);
  });

  it('a 2^40-entry map block on the events topic is dead-lettered and its neighbours are applied', async () => {
    const { codec, producer, topics, redis } = pipe;
    const ids = await codec.registerAll();
    const view = (userId: string, i: number): UserEvent => ({
      eventId: `${userId}-${i}`, userId, type: 'view', eventTime: Date.now() - 60_000, itemId: 'good1', quantity: null, price: null,
      rating: null, sessionId: null, context: null, properties: {},
    });
    const str = (x: string) => Buffer.concat([long(x.length), Buffer.from(x)]);
    // eventId, userId, type view, eventTime, five null unions, null context, then the map block: 2^40 entries.
    const body = Buffer.concat([str('bomb-1'), str('mallory'), long(0), long(Date.now()), long(0), long(0), long(0), long(0), long(0), long(0), long(2 ** 40), str('k'), str('v')]);
    const h = Buffer.alloc(5);
    h.writeInt32BE(ids.events, 1);
    expect(h.length + body.length).toBeLessThan(50); // a few dozen bytes
    await producer.send(topics.events, [
      { key: 'ann', value: await codec.encodeEvent(view('ann', 1)) },
      { key: 'mallory', value: Buffer.concat([h, body]) },
      { key: 'ben', value: await codec.encodeEvent(view('ben', 2)) },
    ]);
    const store = new StateStore(redis, cfg.keyPrefix);
    await waitFor(async () => (await store.userCounts(pseudonymOf('ben'))).view === '1', 'ben applied', 30_000);
    expect((await store.userCounts(pseudonymOf('ann'))).view).toBe('1');
    const dead = await waitFor(async () => {
      const r = (await readTopicToEnd(kafka, topics.dlq)).filter((x) => x.headers['attune.source.topic'] === topics.events);
      return r.length ? r : null;
    }, 'the bomb in the DLQ');
    expect(dead.map((r) => r.headers['attune.error.code'])).toEqual(['AVRO_LIMIT']);
    expect((await fetch(`http://127.0.0.1:${worker.httpPort}/healthz`)).status).toBe(200);
  });
});
