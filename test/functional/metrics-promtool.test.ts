/**
 * A live worker's /metrics passes Prometheus' own checker (`promtool check metrics`: exit 0, nothing printed), and
 * the #13 metrics carry real values after a replay of the bundled data: freshness observed, lists emitted, live
 * quality counted (a second wave of purchases by the users of the first, who were shown a list by then), lag per
 * partition, Redis and produce latency, prom-client's defaults under their standard names.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWorker, type WorkerHandle } from '../../src/topology/worker.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { topicNames } from '../../src/config/config.js';
import { groupLag } from '../../src/kafka/lag.js';
import { loadRetailDataset } from '../../src/data/online-retail.js';
import { produceCatalog, produceEvents } from '../../src/replay/producer.js';
import type { StreamAdmin } from '../../src/kafka/port.js';
import { testConfig, waitFor, openPipeline } from '../support/env.js';
import { promtoolPath, runPromtool } from '../support/promtool.js';
import { artifactsDir } from '../support/browser.js';

const cfg = testConfig({ partitions: 3, microBatchSize: 100 });
const topics = topicNames(cfg);
const kafka = new KafkajsClient(cfg.kafkaBrokers, 'attune-test');
let pipeline: Awaited<ReturnType<typeof openPipeline>>;
let worker: WorkerHandle | undefined;
let admin: StreamAdmin;

/** The sum of the samples of `name` whose labels include every pair of `labels`; null when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  let sum: number | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ?? '';
    if (!Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) continue;
    sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}

async function caughtUp(end: number): Promise<boolean> {
  const lag = await groupLag(admin, cfg.groupId, topics.events);
  return lag.end === end && lag.lag === 0;
}

beforeAll(async () => {
  promtoolPath(); // fails first, with the command that installs it
  pipeline = await openPipeline(cfg);
  admin = kafka.admin();
  await admin.connect();
  const { events, catalog } = await loadRetailDataset('data/online-retail.csv.gz');
  await produceCatalog(pipeline.producer, pipeline.codec, topics, catalog);
  worker = await startWorker(cfg, kafka);
  // Wave 1: the first 300 events. Wave 2: the next 200 purchases of the same customers, once they were shown a list.
  const first = events.slice(0, 300);
  const customers = new Set(first.map((e) => e.userId));
  const second = events.slice(300).filter((e) => customers.has(e.userId) && e.type === 'purchase').slice(0, 200);
  await produceEvents(pipeline.producer, pipeline.codec, topics, first);
  await waitFor(() => caughtUp(first.length), 'the first wave processed');
  await produceEvents(pipeline.producer, pipeline.codec, topics, second);
  await waitFor(() => caughtUp(first.length + second.length), 'the second wave processed');
}, 180_000);

afterAll(async () => {
  await worker?.stop();
  await admin?.disconnect();
  await pipeline?.close();
});

describe('the worker\'s /metrics', () => {
  it('passes promtool check metrics and carries the #13 metrics with real values', async () => {
    const res = await fetch(`http://127.0.0.1:${worker!.httpPort}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const file = join(artifactsDir(), 'metrics-promtool.txt');
    writeFileSync(file, text);

    const check = runPromtool(['check', 'metrics'], text);
    expect({ code: check.code, output: check.stdout + check.stderr, file }).toEqual({ code: 0, output: '', file });

    // prom-client's defaults under their standard names, none under the old prefix.
    expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).not.toBeNull();
    expect(text).not.toMatch(/^attune_process_/m);

    expect(sample(text, 'attune_freshness_seconds_count', { since: 'event_time' })).toBeGreaterThan(0);
    expect(sample(text, 'attune_freshness_seconds_count', { since: 'append_time' })).toBeGreaterThan(0);
    expect(sample(text, 'attune_recommendation_lists_total', { outcome: 'emitted' })).toBeGreaterThan(0);
    const interactions = sample(text, 'attune_online_interactions_total', { type: 'purchase' });
    expect(interactions).toBeGreaterThan(0);
    expect(sample(text, 'attune_online_hits_total') ?? 0).toBeLessThanOrEqual(interactions!);

    // Lag of every events partition, caught up by now.
    for (const partition of ['0', '1', '2']) {
      expect(sample(text, 'attune_consumer_lag_records', { topic: topics.events, partition })).toBe(0);
      expect(sample(text, 'attune_consumer_lag_seconds', { topic: topics.events, partition })).toBe(0);
    }
    // Redis round trips by script name, produce latency by topic kind.
    expect(sample(text, 'attune_redis_command_duration_seconds_count', { command: 'applyUserEvents' })).toBeGreaterThan(0);
    expect(sample(text, 'attune_produce_duration_seconds_count', { topic: 'recommendations' })).toBeGreaterThan(0);
    expect(text).not.toMatch(/attune_redis_command_duration_seconds_count\{command="evalsha"\}/);
  });
});
