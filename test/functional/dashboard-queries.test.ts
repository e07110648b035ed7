/**
 * Every panel of the Grafana dashboard (ops/grafana/dashboards/attune.json) shows data from a real worker: a worker
 * process replays a slice of the bundled retail data (and a few undecodable records, for the dead-letter panel), our
 * Prometheus (`bash scripts/services.sh up prometheus`, on a port and state dir of this test, scraping this worker)
 * scrapes it, and each panel's PromQL, with Grafana's variables replaced by fixed values, must return a non-empty
 * result from Prometheus' HTTP API. A failure names the panels and the queries that came back empty.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRetailDataset } from '../../src/data/online-retail.js';
import { produceCatalog, produceEvents } from '../../src/replay/producer.js';
import { DEFAULT_DATA } from '../../src/cli/dataset.js';
import { openPipeline, testConfig, waitFor } from '../support/env.js';
import { spawnWorker, type WorkerProcess } from '../support/worker-process.js';
import { freePort, startPrometheus, type TestPrometheus } from '../support/prometheus.js';

const ROOT = join(import.meta.dirname, '../..');
const DASHBOARD = join(ROOT, 'ops/grafana/dashboards/attune.json');
const EVENTS = 4_000;
/** Events per second of the replay: it spans several 5 s scrapes, so rates and quantiles have data. */
const RATE = 400;
/** The fixed window that stands in for $__rate_interval (≥ 2 scrapes of 5 s). */
const WINDOW = '1m';

interface Panel { id: number; type: string; title: string; targets?: { expr: string; refId: string }[]; datasource?: { uid: string }; gridPos?: unknown }
interface Dashboard { schemaVersion: number; panels: Panel[] }

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const queryPanels = dashboard.panels.filter((p) => p.type !== 'row');

/** A panel's PromQL as Prometheus takes it: Grafana's variables replaced by fixed values. */
function concrete(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', WINDOW)
    .replaceAll('$__interval', WINDOW)
    .replaceAll('$__range', WINDOW)
    .replaceAll('$instance', '.+')
    .replaceAll('${instance}', '.+');
}

let prom: TestPrometheus | undefined;
let pipeline: Awaited<ReturnType<typeof openPipeline>> | undefined;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  const workerPort = await freePort();
  const cfg = testConfig({ partitions: 2, httpPort: workerPort });
  prom = await startPrometheus([`127.0.0.1:${workerPort}`]);
  const query = prom.query;

  pipeline = await openPipeline(cfg);
  const { events, catalog } = await loadRetailDataset(join(ROOT, DEFAULT_DATA), { limit: EVENTS });
  await produceCatalog(pipeline.producer, pipeline.codec, pipeline.topics, catalog);
  worker = spawnWorker(cfg, { ATTUNE_LOG_LEVEL: 'warn' });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${workerPort}/readyz`).catch(() => null))?.ok, 'the worker ready', 90_000, 500);
  // Undecodable records (not Confluent-framed Avro) for the dead-letter panel, then the replay at RATE.
  await pipeline.producer.send(pipeline.topics.events, [1, 2, 3].map((i) => ({ key: `bad${i}`, value: Buffer.from('not avro') })));
  await produceEvents(pipeline.producer, pipeline.codec, pipeline.topics, events, { rate: RATE, batchSize: 100 });

  // Everything processed and scraped, then two more scrapes: every series has ≥ 2 samples in the window.
  const processed = `sum(attune_events_total{job="attune"})`;
  await waitFor(async () => Number((await query(processed))[0]?.value[1] ?? 0) >= EVENTS, `Prometheus to see ${EVENTS} events processed`, 120_000, 1_000);
  const samplesNow = Number((await query(`count_over_time(up{job="attune"}[10m])`))[0]!.value[1]);
  await waitFor(async () => Number((await query(`count_over_time(up{job="attune"}[10m])`))[0]!.value[1]) >= samplesNow + 2, 'two more scrapes', 30_000, 1_000);
}, 240_000);

afterAll(async () => {
  if (worker) {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
  await pipeline?.close();
  prom?.stop();
});

describe('the Grafana dashboard', () => {
  it('is Grafana 10+ provisioning JSON whose panels all query the datasource variable', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of queryPanels) {
      expect(p.gridPos, p.title).toBeDefined();
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
    }
  });

  it('shows data in every panel after a short replay', async () => {
    const empty: string[] = [];
    const seen: string[] = [];
    let queries = 0;
    for (const p of queryPanels) {
      for (const t of p.targets ?? []) {
        queries++;
        const expr = concrete(t.expr);
        const result = await prom!.query(expr);
        if (result.length === 0) empty.push(`panel "${p.title}" (${t.refId}): ${expr}`);
        else seen.push(`${p.title} (${t.refId}): ${result.length} series, first ${JSON.stringify(result[0]!.metric)} = ${result[0]!.value[1]}`);
      }
    }
    // What each panel showed, for the test log (figures of the replay).
    console.log(seen.join('\n'));
    expect(queries).toBeGreaterThanOrEqual(20);
    expect(empty, `panels with an empty result:\n${empty.join('\n')}\nworker output:\n${worker?.output().slice(-2000)}`).toEqual([]);
  });
});
