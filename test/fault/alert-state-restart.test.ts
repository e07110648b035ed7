/**
 * The AttuneStateRestart alert on a real worker and our Prometheus with the repo's rules: Redis restarted empty under
 * a worker with ATTUNE_ON_STATE_LOSS=rebuild makes it rebuild and restart in-process; the alert must fire for that
 * instance (not before), and AttuneWorkerRestarted must not (the process stayed).
 * The process keeps its metrics registry across the restart, so the alert must fire with reason="lost" (the
 * counter's step from its exported 0).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { StateStore } from '../../src/stores/state-store.js';
import { produceEvents } from '../../src/replay/producer.js';
import { testConfig, waitFor, syntheticPurchases, purchasesCounted, openPipeline } from '../support/env.js';
import { spawnWorker, type WorkerProcess } from '../support/worker-process.js';
import { startRedisServer, type TestRedis } from '../support/redis-server.js';
import { freePort, startPrometheus, type TestPrometheus } from '../support/prometheus.js';

const PORT = 6394;
const USERS = 30;
const EVENTS = 3000;
let server: TestRedis | undefined;
let prom: TestPrometheus | undefined;
let worker: WorkerProcess | undefined;
let pipeline: Awaited<ReturnType<typeof openPipeline>> | undefined;

beforeAll(async () => {
  server = await startRedisServer(PORT);
});
afterAll(async () => {
  if (worker && worker.child.exitCode === null) {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
  await pipeline?.close().catch(() => {});
  prom?.stop();
  await server?.stop();
});

describe('AttuneStateRestart on a real in-process rebuild', () => {
  it('fires after Redis came back empty, and AttuneWorkerRestarted does not', async () => {
    const httpPort = await freePort();
    const instance = `127.0.0.1:${httpPort}`;
    const cfg = testConfig({ redisUrl: `redis://127.0.0.1:${PORT}`, microBatchSize: 50, onStateLoss: 'rebuild', httpPort });
    prom = await startPrometheus([instance]);
    pipeline = await openPipeline(cfg);
    const redis = pipeline.redis;
    const counted = () => purchasesCounted(new StateStore(redis, cfg.keyPrefix), USERS);
    worker = spawnWorker(cfg);
    const producing = produceEvents(pipeline.producer, pipeline.codec, pipeline.topics, syntheticPurchases(EVENTS, USERS, 61), { rate: 100, batchSize: 10 });
    // Batches scraped at least twice before the loss (so a reset of the counters is visible), while the replay
    // (30 s at 100 events/s) still runs: the loss is noticed by the next micro-batch.
    await waitFor(async () => Number((await prom!.query(`count_over_time((attune_batch_duration_seconds_count{instance="${instance}"} > 0)[1m:5s])`))[0]?.value[1] ?? 0) >= 2,
      'two scrapes with micro-batches', 90_000, 1_000);
    const names = async () => (await prom!.alerts()).filter((a) => a.labels.instance === instance).map((a) => `${a.labels.alertname}:${a.state}`);
    expect(await names()).not.toContainEqual(expect.stringMatching(/^AttuneStateRestart/));

    await server!.stop();
    server = await startRedisServer(PORT);
    await producing;
    const fired = await waitFor(async () => (await prom!.alerts()).find((a) => a.labels.alertname === 'AttuneStateRestart' && a.labels.instance === instance && a.state === 'firing'),
      'AttuneStateRestart firing', 90_000, 1_000).catch(async (e) => {
        const series = await prom!.query(`{__name__=~"attune_batch_duration_seconds_count|attune_state_restarts_total|process_start_time_seconds|up", instance="${instance}"}[3m]`)
          .catch((err: unknown) => String(err));
        throw new Error(`${e.message}\nscraped:\n${JSON.stringify(series)}\nworker output:\n${worker!.output().slice(-3000)}`);
      });
    expect(fired.labels.reason).toBe('lost');
    expect(worker.child.exitCode).toBeNull();
    expect(worker.output()).toMatch(/state lost; rebuilding it and restarting/);
    await waitFor(async () => (await counted()) >= EVENTS, 'the rebuild to apply every event', 120_000);
    expect(await names()).not.toContainEqual(expect.stringMatching(/^AttuneWorkerRestarted/));
  }, 300_000);
});
