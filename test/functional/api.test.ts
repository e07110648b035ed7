/**
 * `attune api` on real Kafka, registry and Redis: a worker replays the start of the bundled Online Retail data
 * (and one undecodable record), then every endpoint is asked about a real customer and item and checked against
 * what the worker wrote: the output topic, the Redis keys (by pseudonym), the DLQ.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, type WorkerHandle } from '../../src/topology/worker.js';
import { startApi, type ApiHandle } from '../../src/api/start.js';
import { sha256Hex } from '../../src/api/auth.js';
import { loadRetailDataset } from '../../src/data/online-retail.js';
import { produceCatalog, produceEvents } from '../../src/replay/producer.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import { currentLists } from '../../src/cli/commands/show.js';
import { groupLag } from '../../src/kafka/lag.js';
import { Keys } from '../../src/stores/keys.js';
import { parseFeatureState } from '../../src/stages/segments/features/state.js';
import type { Recommendations, SegmentChange } from '../../src/domain/events.js';
import { PrometheusLive } from '../../src/api/prometheus.js';
import { countField, parseCounts } from '../../src/experiments/counts.js';
import { loadExperimentsFile } from '../../src/experiments/file.js';
import { experimentsReport } from '../../src/experiments/report-format.js';
import { testConfig, waitFor, openPipeline, pseudonymOf } from '../support/env.js';
import { startPrometheus, type TestPrometheus } from '../support/prometheus.js';

const KEY = 'functional-test-key';
const keysDir = mkdtempSync(join(tmpdir(), 'attune-api-'));
const keysFile = join(keysDir, 'keys.yaml');
writeFileSync(keysFile, `keys:\n  - name: functional\n    sha256: ${sha256Hex(KEY)}\n    rateLimitPerMinute: 100000\n`);
// The API's experiments file only (the worker runs without one): /v1/experiments reports counts put in directly.
const experimentsFile = join(keysDir, 'experiments.yaml');
writeFileSync(experimentsFile, 'version: 1\nexperiments:\n  api_ab:\n    variants:\n      control: { strategy: hybrid, share: 0.5 }\n      trending: { strategy: trending, share: 0.5 }\n');

// Port 1 on loopback: nothing listens there, so /v1/live must answer 503 naming Prometheus.
const cfg = testConfig({ partitions: 2, apiPort: 0, apiKeysFile: keysFile, prometheusUrl: 'http://127.0.0.1:1' });
const keys = new Keys(cfg.keyPrefix);
const EVENTS = 3000;

let pipeline: Awaited<ReturnType<typeof openPipeline>>;
let worker: WorkerHandle | undefined;
let api: ApiHandle | undefined;
let lists: Map<string, Recommendations>;
let prometheus: TestPrometheus | undefined;

const get = async (path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${api!.url}${path}`, { headers: { authorization: `Bearer ${KEY}`, ...headers } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
};

beforeAll(async () => {
  pipeline = await openPipeline(cfg);
  const { events, catalog } = await loadRetailDataset('data/online-retail.csv.gz', { limit: EVENTS });
  const { producer, codec, topics } = pipeline;
  await produceCatalog(producer, codec, topics, catalog);
  await produceEvents(producer, codec, topics, events);
  // One record that does not decode: the DLQ gets its dead letter (and the API must not show its bytes).
  await producer.send(topics.events, [{ key: 'dlq-probe-user', value: Buffer.from('not an avro record of dlq-probe-user') }]);
  worker = await startWorker(cfg, pipeline.kafka);
  const admin = pipeline.kafka.admin();
  await admin.connect();
  try {
    await waitFor(async () => (await groupLag(admin, cfg.groupId, topics.events)).lag === 0, 'the worker to catch up', 150_000, 500);
  } finally {
    await admin.disconnect();
  }
  ({ latest: lists } = await currentLists(await readTopicToEnd(pipeline.kafka, topics.recommendations), async (v) => (await codec.decode(v, 1e7)) as unknown as Recommendations));
  await chooseCustomer();
  api = await startApi({ ...cfg, experiments: experimentsFile }, pipeline.kafka);
}, 240_000);

afterAll(async () => {
  prometheus?.stop();
  await api?.close();
  await worker?.stop();
  await pipeline?.close();
});

let chosen: { userId: string; list: Recommendations; item: string } | undefined;

/**
 * A real customer in at least one segment whose current list has a "bought together" reason, and the item that
 * reason names (so that every endpoint has something to show for them).
 */
function customer(): { userId: string; list: Recommendations; item: string } {
  if (!chosen) throw new Error('no customer of the replay is in a segment with a related item in their list');
  return chosen;
}

async function chooseCustomer(): Promise<void> {
  for (const [userId, list] of lists) {
    const r = list.items.flatMap((i) => i.reasons).find((x) => x.relatedItemId);
    if (r && (await pipeline.redis.scard(keys.userSegments(pseudonymOf(userId)))) > 0) {
      chosen = { userId, list, item: r.relatedItemId! };
      return;
    }
  }
}

describe('attune api on a replay of the bundled data', () => {
  it('answers a customer\'s current list as emitted on the topic, with an ETag that answers 304', async () => {
    const { userId, list } = customer();
    const r = await get(`/v1/users/${encodeURIComponent(userId)}/recommendations`);
    expect(r.status).toBe(200);
    const body = r.json();
    expect(body.userId).toBe(userId);
    expect(body.items).toEqual(list.items);
    expect(body.strategy).toBe(list.strategy);
    expect(body.sourceEventId).toBe(list.sourceEventId);
    expect(body.generatedAt).toBe(list.generatedAt);
    const etag = r.headers.get('etag')!;
    const again = await get(`/v1/users/${encodeURIComponent(userId)}/recommendations`, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
  });

  it('answers 404 for a user the worker never saw, and 401 without the key', async () => {
    expect((await get('/v1/users/no-such-customer/recommendations')).status).toBe(404);
    const res = await fetch(`${api!.url}/v1/users/${customer().userId}/recommendations`);
    expect(res.status).toBe(401);
  });

  it('answers the customer\'s segments, features and activity as Redis holds them', async () => {
    const { userId } = customer();
    const p = pseudonymOf(userId);
    const { redis } = pipeline;
    const seg = (await get(`/v1/users/${userId}/segments`)).json();
    expect(seg.segments.map((s: { segmentId: string }) => s.segmentId).sort()).toEqual((await redis.smembers(keys.userSegments(p))).sort());
    expect(seg.segments.length).toBeGreaterThan(0);
    for (const s of seg.segments) expect(s.description).toEqual(expect.any(String));
    // Since when and why: the user's last entry into each segment on the segment-changes topic, long after the
    // change left the worker's pending list.
    const entered = new Map<string, SegmentChange>();
    for (const r of await readTopicToEnd(pipeline.kafka, pipeline.topics.segmentChanges)) {
      if (r.value === null) continue;
      const c = (await pipeline.codec.decode(r.value, 1e6)) as unknown as SegmentChange;
      if (c.userId === userId && c.change === 'enter') entered.set(c.segmentId, c);
    }
    for (const s of seg.segments) {
      const c = entered.get(s.segmentId);
      expect(c, s.segmentId).toBeDefined();
      expect({ since: s.since, cause: s.cause }, s.segmentId).toEqual({ since: c!.eventTime, cause: c!.cause });
    }

    const f = (await get(`/v1/users/${userId}/features`)).json();
    const state = parseFeatureState(await redis.hget(keys.userFeatures(p), 's'));
    expect(f.totalEvents).toBe(state.n);
    expect(f.lastSeen).toBe(state.last);
    expect(f.windows.map((w: { window: string }) => w.window)).toEqual(cfg.featureWindows);
    const counts = await redis.hgetall(keys.userCounts(p));
    expect(f.counts.purchase).toBe(Number(counts.purchase));
    // Every purchase of the replay is within 90 days of the user's last one or not: the 90d window never exceeds the total.
    const w90 = f.windows.find((w: { window: string }) => w.window === '90d');
    expect(w90.purchases).toBeGreaterThan(0);
    expect(w90.purchases).toBeLessThanOrEqual(Number(counts.purchase));

    const ev = (await get(`/v1/users/${userId}/events?limit=5`)).json();
    expect(ev.recentItems).toEqual(await redis.lrange(keys.userRecent(p), 0, 4));
    expect(ev.lastSeen).toBe(Number(counts.lastSeen));
    const purchased = await redis.zrevrange(keys.userPurchased(p), 0, 4, 'WITHSCORES');
    expect(ev.purchases.map((x: { itemId: string; at: number }) => [x.itemId, String(x.at)]).flat()).toEqual(purchased);
  });

  it('answers an item\'s neighbours from the stored co-occurrence, best first, with catalog titles', async () => {
    const { item } = customer();
    const r = await waitFor(async () => { const x = await get(`/v1/items/${item}/similar?limit=5`); return x.status === 200 ? x.json() : null; }, 'the similar-items model');
    expect(r.items.length).toBeGreaterThan(0);
    const scores = r.items.map((i: { score: number }) => i.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    const { redis } = pipeline;
    for (const n of r.items) {
      // The pair is stored in the row of the smaller id (stores/keys.ts): it must co-occur there.
      const [a, b] = [item, n.itemId].sort();
      expect(Number(await redis.hget(keys.itemCooc(a!), Keys.coocItemField(b!)))).toBeGreaterThan(0);
      expect(n.title).toBe(await redis.hget(keys.item(n.itemId), 'title'));
      expect(n.score).toBeGreaterThan(0);
    }
    expect((await get('/v1/items/NO-SUCH-ITEM/similar')).status).toBe(404);
  });

  it('answers segment sizes as counted, the dead letter without its bytes, and 503 when Prometheus is away', async () => {
    const sizes = (await get('/v1/segments')).json().segments as Array<{ segmentId: string; members: number }>;
    const counted = await pipeline.redis.hgetall(keys.segmentCounts());
    for (const [id, n] of Object.entries(counted)) expect(sizes.find((s) => s.segmentId === id)?.members).toBe(Number(n));
    expect(sizes.some((s) => s.members > 0)).toBe(true);

    const dl = await waitFor(async () => { const x = (await get('/v1/dead-letters?limit=10')); return x.status === 200 && x.json().deadLetters.length > 0 ? x : null; }, 'the dead letter');
    const d = dl.json().deadLetters[0];
    expect(d).toMatchObject({ topic: pipeline.topics.dlq, stage: 'decode', source: { topic: pipeline.topics.events } });
    expect(d.code).toEqual(expect.any(String));
    expect(dl.text).not.toContain('dlq-probe-user');

    const live = await get('/v1/live');
    expect(live.status).toBe(503);
    expect(live.json().error.message).toContain('ATTUNE_PROMETHEUS_URL');
  });

  it('reads live throughput from a real Prometheus scraping the worker', async () => {
    prometheus = await startPrometheus([`127.0.0.1:${worker!.httpPort}`]);
    const reader = new PrometheusLive(prometheus.url);
    // Once Prometheus has the counter, more events make its rate positive.
    await prometheus.scraped(2);
    const { events } = await loadRetailDataset('data/online-retail.csv.gz', { limit: EVENTS + 200 });
    await produceEvents(pipeline.producer, pipeline.codec, pipeline.topics, events.slice(EVENTS));
    // The series' points sit at 15 s steps ending at the request's second: the rate shows there too, a little later.
    const live = await waitFor(async () => {
      const l = await reader.live();
      return (l.eventsPerSecond ?? 0) > 0 && l.series.eventsPerSecond.some((p) => (p.v ?? 0) > 0) ? l : null;
    }, 'a positive events rate, now and in the series');
    // Points of the last 15 minutes, ascending, in ms.
    const ts = live.series.eventsPerSecond.map((p) => p.t);
    expect([...ts].sort((a, b) => a - b)).toEqual(ts);
    for (const t of ts) expect(t).toBeGreaterThanOrEqual(live.at - 916_000);
    expect(live.at).toBeGreaterThan(Date.now() - 60_000);
  });

  it('reports the experiments of its file from the deployment\'s counts hash', async () => {
    const { redis } = pipeline;
    const hash = keys.experimentCounts();
    for (const [variant, metric, n] of [['control', 'i', 400], ['control', 'c', 24], ['trending', 'i', 380], ['trending', 'c', 9], ['trending', 'v', 2]] as const) {
      await redis.hincrby(hash, countField('api_ab', variant, null, metric), n);
    }
    await redis.hincrby(hash, countField('retired_test', 'control', null, 'i'), 5);
    const r = await get('/v1/experiments');
    expect(r.status).toBe(200);
    const body = r.json();
    expect(body).toEqual(JSON.parse(JSON.stringify(experimentsReport(loadExperimentsFile(experimentsFile), parseCounts(await redis.hgetall(hash))))));
    const [ab] = body.experiments;
    expect(ab.variants.map((v: { id: string; impressions: number; clicks: number; conversions: number }) => [v.id, v.impressions, v.clicks, v.conversions]))
      .toEqual([['control', 400, 24, 0], ['trending', 380, 9, 2]]);
    expect(ab.variants[0].ctr.rate).toBe(0.06);
    expect(ab.best).toMatchObject({ variant: 'control', isControl: true });
    expect(body.unknownExperiments).toEqual(['retired_test']);
    const svg = await get('/v1/experiments.svg');
    expect(svg.status).toBe(200);
    expect(svg.headers.get('content-type')).toBe('image/svg+xml; charset=utf-8');
    expect(svg.text).toContain('api_ab');
    expect((await fetch(`${api!.url}/v1/experiments`)).status).toBe(401);
  });

  it('serves the ops page and its vendored modules without a key, and the OpenAPI document', async () => {
    const page = await fetch(`${api!.url}/ui/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    for (const f of ['preact/dist/preact.mjs', 'preact/hooks/dist/hooks.mjs', 'htm/dist/htm.module.js', 'uplot/dist/uPlot.esm.js', 'uplot/dist/uPlot.min.css']) {
      const res = await fetch(`${api!.url}/ui/vendor/${f}`);
      expect(res.status, f).toBe(200);
      expect(res.headers.get('content-type'), f).toMatch(/javascript|css/);
    }
    expect((await fetch(`${api!.url}/ui/vendor/kafkajs/package.json`)).status).toBe(404);
    const doc = await (await fetch(`${api!.url}/openapi.json`)).json();
    expect(Object.keys(doc.paths)).toContain('/v1/users/{userId}/recommendations');
  });
});
