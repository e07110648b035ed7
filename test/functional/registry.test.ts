/**
 * The codec against the real registry: schema ids of another subject are FOREIGN_SCHEMA, ids the registry does not
 * know are UNKNOWN_SCHEMA (remembered, and their lookups throttled), and a registry that cannot answer is retriable.
 * Outages come from a small HTTP server of this test in front of the real registry: it answers 503/429/401, or
 * hangs, or forwards to the registry — a real HTTP peer, not a mock of the client.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Codec, codecOptions, readSchema } from '../../src/stages/decode/codec.js';
import { topicNames } from '../../src/config/config.js';
import { ConfigError, DecodeError, RegistryUnavailableError } from '../../src/errors.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { startWorker } from '../../src/topology/worker.js';
import type { UserEvent } from '../../src/domain/events.js';
import { testConfig, waitFor } from '../support/env.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { CatalogReader } from '../../src/stages/catalog/reader.js';
import { Recommender } from '../../src/stages/recommend/model/recommender.js';
import { loadRecommenderConfig } from '../../src/stages/recommend/model/load-config.js';

const cfg = testConfig();
const topics = topicNames(cfg);
const registryUrl = new URL(cfg.registryUrl);

type Mode = 'forward' | 503 | 429 | 401 | 403 | 'hang';
let mode: Mode = 'forward';
const seen: string[] = [];
let proxy: Server;
let proxyUrl = '';

const event: UserEvent = {
  eventId: 'e1', userId: 'u1', type: 'view', eventTime: Date.now(), itemId: 'i1', quantity: null, price: null,
  rating: null, sessionId: null, context: null, properties: {},
};

let producerCodec: Codec;
let eventBytes: Buffer;
let itemBytes: Buffer;

beforeAll(async () => {
  proxy = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (mode === 'hang') return; // never answers: the client's timeout must fire
    if (mode !== 'forward') {
      res.writeHead(mode, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error_code: mode, message: 'test outage' }));
      return;
    }
    const up = request({ host: registryUrl.hostname, port: registryUrl.port, method: req.method, path: req.url, headers: { ...req.headers, host: registryUrl.host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}${registryUrl.pathname}`;

  producerCodec = new Codec(cfg.registryUrl, topics);
  await producerCodec.registerAll();
  eventBytes = await producerCodec.encodeEvent(event);
  itemBytes = await producerCodec.encodeItem({ itemId: 'x', title: null, categories: [], tags: [], price: null, available: true, deleted: false, updatedAt: 0 });
});

afterAll(async () => {
  proxy?.closeAllConnections();
  await new Promise((r) => proxy?.close(r));
});

async function failure(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err, 'expected a failure').toBeInstanceOf(Error);
  return err as Error;
}

describe('schema ids and subjects', () => {
  it('the worker finds the registered schemas read-only, and decodes its own topic', async () => {
    const codec = new Codec(cfg.registryUrl, topics, codecOptions(cfg));
    expect(await codec.lookupAll()).toEqual(await producerCodec.registerAll());
    expect(await codec.decodeEvent(eventBytes, cfg.maxMessageBytes)).toMatchObject({ eventId: 'e1', userId: 'u1' });
  });

  it('an id of another subject is FOREIGN_SCHEMA (an item on the events topic, any schema of another subject)', async () => {
    const codec = new Codec(cfg.registryUrl, topics, codecOptions(cfg));
    await codec.lookupAll();
    const err = await failure(codec.decodeEvent(itemBytes, cfg.maxMessageBytes));
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as DecodeError).code).toBe('FOREIGN_SCHEMA');
    expect(err.message).toContain(`${topics.events}-value`);

    const other = new SchemaRegistry({ host: cfg.registryUrl });
    const { id } = await other.register(
      { type: SchemaType.AVRO, schema: JSON.stringify({ type: 'record', name: 'Other', namespace: `t.${cfg.topicPrefix}`, fields: [{ name: 'x', type: 'string' }] }) },
      { subject: `${cfg.topicPrefix}.other-value` },
    );
    const foreign = await other.encode(id, { x: 'hello' });
    expect(((await failure(codec.decodeEvent(foreign, cfg.maxMessageBytes))) as DecodeError).code).toBe('FOREIGN_SCHEMA');
    // The same id is fine for a reader that accepts any registered schema (tools reading output topics).
    expect(await codec.decode(foreign, cfg.maxMessageBytes)).toEqual({ x: 'hello' });
  });

  it('a version registered to the topic\'s subject after start-up is accepted (producers evolve the schema)', async () => {
    const codec = new Codec(cfg.registryUrl, topics, codecOptions(cfg));
    await codec.lookupAll();
    const evolved = JSON.parse(readSchema('events'));
    evolved.fields.push({ name: `added_${cfg.topicPrefix}`, type: ['null', 'string'], default: null });
    const reg = new SchemaRegistry({ host: cfg.registryUrl });
    const { id } = await reg.register({ type: SchemaType.AVRO, schema: JSON.stringify(evolved) }, { subject: `${topics.events}-value` });
    expect(id).not.toBe((await codec.lookupAll()).events);
    const bytes = await reg.encode(id, { ...event, [`added_${cfg.topicPrefix}`]: 'x' });
    expect(await codec.decodeEvent(bytes, cfg.maxMessageBytes)).toMatchObject({ eventId: 'e1', userId: 'u1' });
  });

  it('an id the registry does not know is UNKNOWN_SCHEMA, remembered without asking again', async () => {
    const codec = new Codec(proxyUrl, topics, codecOptions(cfg));
    await codec.lookupAll();
    const bytes = Buffer.from(eventBytes);
    bytes.writeInt32BE(2_000_000_000, 1);
    expect(((await failure(codec.decodeEvent(bytes, cfg.maxMessageBytes))) as DecodeError).code).toBe('UNKNOWN_SCHEMA');
    const asked = seen.length;
    for (let i = 0; i < 50; i++) expect(((await failure(codec.decodeEvent(bytes, cfg.maxMessageBytes))) as DecodeError).code).toBe('UNKNOWN_SCHEMA');
    expect(seen.length).toBe(asked);
    // Ids that no registry hands out (0, negative) are not even asked about.
    for (const bad of [0, -1, -2_147_483_648]) {
      bytes.writeInt32BE(bad, 1);
      expect(((await failure(codec.decodeEvent(bytes, cfg.maxMessageBytes))) as DecodeError).code).toBe('UNKNOWN_SCHEMA');
    }
    expect(seen.length).toBe(asked);
  });

  it('lookups of ids not seen before are throttled, and a throttled record waits instead of failing', async () => {
    const codec = new Codec(proxyUrl, topics, { ...codecOptions(cfg), lookupsPerSecond: 10 });
    await codec.lookupAll();
    const t0 = Date.now();
    for (let i = 0; i < 25; i++) {
      const bytes = Buffer.from(eventBytes);
      bytes.writeInt32BE(2_000_000_100 + i, 1);
      expect(((await failure(codec.decodeEvent(bytes, cfg.maxMessageBytes))) as DecodeError).code).toBe('UNKNOWN_SCHEMA');
    }
    // A burst of 10, then 10 a second: the other 15 ids wait ≈ 1.5 s in all.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_300);
  });

  it('start-up without registered schemas fails naming `attune topics` (the worker never registers)', async () => {
    const fresh = testConfig();
    const err = await failure(new Codec(fresh.registryUrl, topicNames(fresh)).lookupAll());
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('SCHEMA_NOT_REGISTERED');
    expect(err.message).toMatch(/`attune topics`/);
    const workerErr = await failure(startWorker(fresh, new KafkajsClient(fresh.kafkaBrokers, 'attune-test')));
    expect(workerErr.message).toMatch(/`attune topics`/);
    expect(workerErr.message).toContain(`${fresh.topicPrefix}.events-value`);
  });
});

describe('a registry that cannot answer is retriable, never a dead letter', () => {
  const cases: [Mode, RegExp][] = [
    [503, /HTTP 503.*ATTUNE_REGISTRY_URL/],
    [429, /HTTP 429/],
    [401, /HTTP 401.*credentials/],
    [403, /HTTP 403.*credentials/],
    ['hang', /did not answer within 300 ms.*ATTUNE_REGISTRY_TIMEOUT_MS/],
  ];
  for (const [m, message] of cases) {
    it(`${m}: RegistryUnavailableError, then the same record decodes once the registry is back`, async () => {
      const codec = new Codec(proxyUrl, topics, { ...codecOptions(cfg), timeoutMs: 300 });
      mode = m;
      try {
        const err = await failure(codec.decodeEvent(eventBytes, cfg.maxMessageBytes));
        expect(err).toBeInstanceOf(RegistryUnavailableError);
        expect((err as RegistryUnavailableError).retriable).toBe(true);
        expect(err.message).toMatch(message);
        // Nothing about the id was remembered: the outage said nothing about it.
        expect(((await failure(codec.decodeEvent(eventBytes, cfg.maxMessageBytes))) as Error).constructor).toBe(RegistryUnavailableError);
      } finally {
        mode = 'forward';
      }
      expect(await codec.decodeEvent(eventBytes, cfg.maxMessageBytes)).toMatchObject({ eventId: 'e1' });
    });
  }

  it('an unreachable registry is retriable and names ATTUNE_REGISTRY_URL', async () => {
    const codec = new Codec('http://127.0.0.1:9/apis/ccompat/v7', topics, codecOptions(cfg));
    const err = await failure(codec.decodeEvent(eventBytes, cfg.maxMessageBytes));
    expect(err).toBeInstanceOf(RegistryUnavailableError);
    expect(err.message).toMatch(/unreachable.*ATTUNE_REGISTRY_URL/);
    const startErr = await failure(codec.lookupAll());
    expect(startErr).toBeInstanceOf(RegistryUnavailableError);
  });
});

describe('the catalog reader under a registry outage', () => {
  it('waits and retries instead of skipping the item, and has it once the registry answers', async () => {
    const kafka = new KafkajsClient(cfg.kafkaBrokers, 'attune-test');
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, cfg);
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send(topics.items, [{ key: 'lamp', value: await producerCodec.encodeItem({ itemId: 'lamp', title: 'Lamp', categories: ['home'], tags: [], price: 5, available: true, deleted: false, updatedAt: 0 }) }]);
    await producer.disconnect();

    const rec = new Recommender(loadRecommenderConfig(cfg));
    const reader = new CatalogReader(kafka, topics.items, cfg.groupId, new Codec(proxyUrl, topics, codecOptions(cfg)), rec, cfg.maxMessageBytes);
    mode = 503;
    const before = seen.length;
    try {
      const started = reader.start(60_000);
      await waitFor(() => seen.length >= before + 3, 'the reader to ask the registry a few times', 30_000, 100);
      expect(reader.items).toBe(0);
      expect(rec.categoriesOf('lamp')).toBeUndefined();
      mode = 'forward';
      await started;
      expect(reader.items).toBe(1);
      expect(rec.categoriesOf('lamp')).toEqual(['home']);
    } finally {
      mode = 'forward';
      await reader.stop();
    }
  });
});

describe('registry URLs with credentials', () => {
  it('never name the credentials in an error, and send them as basic auth', async () => {
    const { RegistryHttp } = await import('../../src/stages/decode/registry-http.js');
    const http = new RegistryHttp('http://reader:s3cret-pw@127.0.0.1:9/apis/ccompat/v7', { timeoutMs: 500 });
    const err = await http.get('/subjects').then(() => null, (e: unknown) => e as Error);
    expect(err?.message).toMatch(/127\.0\.0\.1:9/);
    expect(err?.message).not.toContain('s3cret-pw');
    expect(err?.message).not.toContain('reader:');
  });
});
