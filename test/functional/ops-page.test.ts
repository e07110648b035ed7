/**
 * The ops page in headless Chromium, against the real stack: a worker replays the start of the bundled data set
 * (plus two undecodable records, for the dead letters), `attune api` runs in process on that state, and the page,
 * opened with a key in its URL fragment, finds a real customer through its search box. What it shows for them must
 * be what Redis holds: the stored current list (the one last emitted to the recommendations topic), item by item,
 * with every reason's text and the strategy; their segments; the segment sizes; the dead letters with their codes;
 * the experiments of the API's file with the counts of the deployment's hash.
 * Prometheus is first pointed at a closed port, so the live panel must say "Prometheus not reachable" and nothing
 * else fails; then a private Prometheus scrapes the worker while more events flow, and the panel must chart the
 * throughput it reports. Screenshots of the user view, segments, dead letters, experiments and live panel go to the
 * artifacts.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { topicNames } from '../../src/config/config.js';
import type { Recommendations } from '../../src/domain/events.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { loadRetailDataset } from '../../src/data/online-retail.js';
import { produceCatalog, produceEvents } from '../../src/replay/producer.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import { Keys } from '../../src/stores/keys.js';
import { startWorker, type WorkerHandle } from '../../src/topology/worker.js';
import { newApiKey } from '../../src/api/auth.js';
import { startApi, type ApiHandle } from '../../src/api/start.js';
import { artifactsDir, launchBrowser } from '../support/browser.js';
import { openPipeline, pseudonymOf, testConfig, waitFor } from '../support/env.js';
import { caughtUp } from '../support/verifier.js';
import { startPrometheus } from '../support/prometheus.js';
import type { UserEvent } from '../../src/domain/events.js';
import { countField } from '../../src/experiments/counts.js';
import { readStoredList } from '../../src/stores/stored-list.js';

const DATA_SET = join(import.meta.dirname, '../../data/online-retail.csv.gz');
/** Events replayed: the first days of the data set, a few hundred customers with lists. */
const EVENTS = 3000;

const { key: API_KEY, entry } = newApiKey('ops-page-test', 100_000);
const dir = mkdtempSync(join(tmpdir(), 'attune-ops-page-'));
const keysFile = join(dir, 'api-keys.yaml');
writeFileSync(keysFile, `keys:\n${entry}`);
// The API's experiments file only (the worker runs without one): the panel shows counts put in directly.
const experimentsFile = join(dir, 'experiments.yaml');
writeFileSync(experimentsFile, 'version: 1\nexperiments:\n  ops_ab:\n    variants:\n      control: { strategy: hybrid, share: 0.5 }\n      trending: { strategy: trending, share: 0.5 }\n');

// A closed port: /v1/live answers 503, which the page must show as Prometheus being away.
const cfg = testConfig({ partitions: 3, apiPort: 0, apiKeysFile: keysFile, prometheusUrl: 'http://127.0.0.1:9' });
const topics = topicNames(cfg);
const kafka = new KafkajsClient(cfg.kafkaBrokers, 'attune-test');
let pipeline: Awaited<ReturnType<typeof openPipeline>>;
let worker: WorkerHandle | undefined;
let api: ApiHandle | undefined;
let browser: { browser: Browser; close(): Promise<void> } | undefined;
let later: UserEvent[] = [];

async function apiGet<T>(path: string): Promise<T> {
  const res = await api!.app.inject({ method: 'GET', url: path, headers: { 'x-api-key': API_KEY } });
  if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode} ${res.body}`);
  return res.json() as T;
}

beforeAll(async () => {
  pipeline = await openPipeline(cfg);
  const { events, catalog } = await loadRetailDataset(DATA_SET);
  await produceCatalog(pipeline.producer, pipeline.codec, topics, catalog);
  await produceEvents(pipeline.producer, pipeline.codec, topics, events.slice(0, EVENTS));
  later = events.slice(EVENTS, EVENTS + 2000);
  // Two records no decoder accepts: the dead letters the page must list with their code.
  await pipeline.producer.send(topics.events, [
    { key: 'ops-page-bad-1', value: Buffer.from('not avro at all') },
    { key: 'ops-page-bad-2', value: Buffer.from([0, 0, 0, 0, 0]) },
  ]);
  worker = await startWorker(cfg, kafka);
  await waitFor(async () => (await caughtUp(kafka, pipeline.redis, cfg)).done, 'the worker caught up with the replay', 150_000, 500);
  api = await startApi({ ...cfg, experiments: experimentsFile }, kafka);
  browser = await launchBrowser();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await worker?.stop();
  await pipeline?.close();
});

/** The last list emitted per user (the recommendations topic is compacted: the last record is the current one). */
async function currentLists(): Promise<Map<string, Recommendations>> {
  const last = new Map<string, Recommendations>();
  for (const r of await readTopicToEnd(kafka, topics.recommendations)) {
    if (r.key === null) continue;
    if (r.value === null) last.delete(r.key);
    else last.set(r.key, (await pipeline.codec.decode(r.value, 1e6)) as unknown as Recommendations);
  }
  return last;
}

async function openPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser!.browser.newPage({ viewport: { width: 1360, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // The key travels in the fragment, which the browser never sends; the page keeps it for the tab.
  await page.goto(`${api!.url}/ui/#key=${encodeURIComponent(API_KEY)}`);
  return { page, errors };
}

describe('the ops page in Chromium', () => {
  it('shows a real customer\'s stored list with reasons and strategy, their segments, segment sizes and dead letters', async () => {
    const lists = await currentLists();
    // A customer whose current list explains itself from their own history (a "bought together"/"similar" reason).
    const [userId, emitted] = [...lists.entries()]
      .filter(([, l]) => l.items.length >= 3 && l.items.some((it) => it.reasons.some((r) => r.relatedItemId !== null)))
      .sort(([a], [b]) => a.localeCompare(b))[0] ?? [];
    expect(userId, 'a replayed customer with a current list').toBeDefined();
    const stored = (await readStoredList(pipeline.redis, new Keys(cfg.keyPrefix).userRecommendations(pseudonymOf(userId!))))!;
    // the stored current list is the last one emitted
    expect(stored.items).toEqual(emitted!.items);

    const { page, errors } = await openPage();
    expect(new URL(page.url()).hash).not.toContain('key='); // taken out of the address bar
    await page.fill('#user-search', userId!);
    await page.click('form.search button[type=submit]');
    const rows = page.locator('#recommendations tr.rec');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(stored.items.length);

    const onScreen = await rows.evaluateAll((trs) => trs.map((tr) => ({
      itemId: tr.getAttribute('data-item-id'),
      shownId: tr.querySelector('.item-id')!.textContent,
      reasons: [...tr.querySelectorAll('li.reason')].map((li) => li.textContent),
    })));
    expect(onScreen).toEqual(stored.items.map((it) => ({ itemId: it.itemId, shownId: it.itemId, reasons: it.reasons.map((r) => r.text) })));
    expect(await page.locator('#recommendations .strategy').textContent()).toBe(stored.strategy);
    expect(await page.locator('#recommendations').textContent()).toContain(stored.sourceEventId!);

    // segments: the ones the API reads from Redis, each with its rule as the why
    const segs = await apiGet<{ segments: Array<{ segmentId: string; description: string | null; since: number | null; cause: string | null }> }>(`/v1/users/${encodeURIComponent(userId!)}/segments`);
    const segRows = page.locator('#user-segments tr.segment');
    await expect.poll(() => segRows.count(), { timeout: 10_000 }).toBe(segs.segments.length);
    expect(await segRows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-segment-id')))).toEqual(segs.segments.map((s) => s.segmentId));
    for (const s of segs.segments) if (s.description) expect(await page.locator(`#user-segments tr[data-segment-id="${s.segmentId}"]`).textContent()).toContain(s.description);
    // since when and why: every segment's entry time is recorded, and its cause shown
    for (const s of segs.segments) {
      expect(s.since, s.segmentId).not.toBeNull();
      const row = await page.locator(`#user-segments tr[data-segment-id="${s.segmentId}"]`).textContent();
      expect(row).not.toContain('not recorded');
      expect(row).toContain(s.cause!);
    }

    // features and events panels loaded (a replayed customer has both)
    await expect.poll(() => page.locator('#features dl.facts').count()).toBe(1);
    await expect.poll(() => page.locator('#events .chips li').count()).toBeGreaterThan(0);
    await page.locator('.user').screenshot({ path: join(artifactsDir(), 'ops-page-user.png') });

    // live: Prometheus away is a state shown, not a broken page
    await expect.poll(() => page.locator('#prometheus-down').textContent()).toContain('Prometheus not reachable');

    // segment sizes: the counts the worker keeps
    const sizes = await apiGet<{ segments: Array<{ segmentId: string; members: number }> }>('/v1/segments');
    expect(sizes.segments.some((s) => s.members > 0)).toBe(true);
    const sizeRows = page.locator('#segment-sizes tr.segment-size');
    await expect.poll(() => sizeRows.count()).toBe(sizes.segments.length);
    for (const s of sizes.segments) {
      expect(await page.locator(`#segment-sizes tr[data-segment-id="${s.segmentId}"] .members`).textContent()).toBe(s.members.toLocaleString('en-US'));
    }
    await page.locator('#user-segments').screenshot({ path: join(artifactsDir(), 'ops-page-segments.png') });
    await page.locator('#segment-sizes').screenshot({ path: join(artifactsDir(), 'ops-page-segment-sizes.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('lists the latest dead letters with their codes', async () => {
    // The API tails the DLQ from its start: wait until it has read both records, then open the page.
    const dl = await waitFor(async () => {
      const d = await apiGet<{ deadLetters: Array<{ code: string | null }> }>('/v1/dead-letters?limit=20');
      return d.deadLetters.length >= 2 ? d.deadLetters : null;
    }, 'the two dead letters in /v1/dead-letters');
    expect(dl.every((d) => d.code)).toBe(true);
    const { page, errors } = await openPage();
    const rows = page.locator('#dead-letters tr.dead-letter');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(dl.length);
    expect(await rows.locator('.code').allTextContents()).toEqual(dl.map((d) => d.code));
    await page.locator('#dead-letters').screenshot({ path: join(artifactsDir(), 'ops-page-dead-letters.png') });
    await page.screenshot({ path: join(artifactsDir(), 'ops-page.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows each experiment of the API\'s file with its variants\' counts and the leader', async () => {
    const counts = [['control', 'i', 1200], ['control', 'c', 36], ['trending', 'i', 1100], ['trending', 'c', 66]] as const;
    for (const [variant, metric, n] of counts) await pipeline.redis.hincrby(new Keys(cfg.keyPrefix).experimentCounts(), countField('ops_ab', variant, null, metric), n);
    const { page, errors } = await openPage();
    const rows = page.locator('#experiments .experiment[data-experiment-id="ops_ab"] tr.variant');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(2);
    expect(await page.locator('#experiments .experiment-id').allTextContents()).toEqual(['ops_ab']);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-variant-id'), tr.querySelector('.impressions')!.textContent, tr.querySelector('.clicks')!.textContent, tr.querySelector('.ctr')!.textContent])))
      .toEqual([['control', '1,200', '36', '3.00%'], ['trending', '1,100', '66', '6.00%']]);
    expect(await page.locator('#experiments .verdict').textContent()).toMatch(/^best by CTR: trending, 6\.00% vs 3\.00% for the control .*differs from the control at p < 0\.01$/);
    expect(await page.locator('#experiments .ctr-row[data-variant-id]').count()).toBe(2);
    await page.locator('#experiments').screenshot({ path: join(artifactsDir(), 'ops-page-experiments.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('charts live throughput from a real Prometheus scraping the worker', async () => {
    const prometheus = await startPrometheus([`127.0.0.1:${worker!.httpPort}`]);
    const live = await startApi({ ...cfg, prometheusUrl: prometheus.url }, kafka);
    try {
      // A rate needs samples before and while the counter moves: scraped twice first, then more events, spread
      // over several scrapes.
      await prometheus.scraped(2);
      await produceEvents(pipeline.producer, pipeline.codec, topics, later, { rate: 200 });
      let seen = '';
      const view = await waitFor(async () => {
        const res = await live.app.inject({ method: 'GET', url: '/v1/live', headers: { 'x-api-key': API_KEY } });
        const body = res.json() as { eventsPerSecond: number | null; series: { eventsPerSecond: Array<{ v: number | null }> } };
        seen = `HTTP ${res.statusCode}, eventsPerSecond ${body.eventsPerSecond}, series ${JSON.stringify(body.series?.eventsPerSecond?.slice(-6))}`;
        return res.statusCode === 200 && (body.eventsPerSecond ?? 0) > 0 && body.series.eventsPerSecond.some((p) => (p.v ?? 0) > 0) ? body : null;
      }, 'a throughput above zero in /v1/live', 60_000, 1000).catch((e: Error) => {
        throw new Error(`${e.message}; last /v1/live: ${seen}`);
      });
      expect(view.eventsPerSecond).toBeGreaterThan(0);

      const page = await browser!.browser.newPage({ viewport: { width: 1360, height: 1000 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${live.url}/ui/#key=${encodeURIComponent(API_KEY)}`);
      await expect.poll(() => page.locator('#chart-throughput canvas').count(), { timeout: 15_000 }).toBe(1);
      const shown = Number((await page.locator('#live-throughput .figure-value').textContent())!.replace(/,/g, ''));
      expect(shown).toBeGreaterThan(0);
      expect(await page.locator('#prometheus-down').count()).toBe(0);
      await page.locator('#live').screenshot({ path: join(artifactsDir(), 'ops-page-live.png') });
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      await live.close();
      prometheus.stop();
    }
  });

  it('asks for a key again when the one it holds is refused', async () => {
    const page = await browser!.browser.newPage();
    await page.goto(`${api!.url}/ui/#key=not-a-key`);
    await expect.poll(() => page.locator('#key-form').textContent(), { timeout: 10_000 }).toContain('not in the keys file');
    await page.fill('#key-form input[name=key]', API_KEY);
    await page.click('#key-form button[type=submit]');
    await expect.poll(() => page.locator('#segment-sizes tr.segment-size').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await page.close();
  });
});
