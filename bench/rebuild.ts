/**
 * How long a full rebuild after Redis loss takes: the whole bundled data set is applied by one `attune worker`
 * process (ATTUNE_ON_STATE_LOSS=rebuild), then every key of the deployment is deleted (as when Redis restarts
 * empty) and one more event arrives. The worker notices at that event's first script, wipes, bootstraps a new
 * epoch, restarts in-process and replays the retained input from the earliest offset; the figure is the time from
 * the loss to every partition's progress at its end again, and the rebuilt counts are checked against the input.
 *   npx tsx bench/rebuild.ts        (services up first: bash scripts/services.sh up kafka registry)
 */
import { cpus } from 'node:os';
import { topicNames } from '../src/config/config.js';
import { loadRetailDataset } from '../src/data/online-retail.js';
import { KafkajsClient } from '../src/kafka/kafkajs-client.js';
import { ensureTopics } from '../src/kafka/topics.js';
import { Codec } from '../src/stages/decode/codec.js';
import { produceCatalog, produceEvents } from '../src/replay/producer.js';
import { createRedis } from '../src/stores/redis-client.js';
import { deleteKeysWithPrefix } from '../src/stores/maintenance.js';
import { log } from '../src/log.js';
import { testConfig, sleep } from '../test/support/env.js';
import { spawnWorker } from '../test/support/worker-process.js';
import { caughtUp, checkAgainstInput } from '../test/support/verifier.js';
import { DATA_SET } from '../test/support/chaos.js';

log.level = 'warn';
const { events, catalog } = await loadRetailDataset(DATA_SET, { limit: Number(process.env.REBUILD_EVENTS) || undefined });
const cfg = testConfig({ partitions: 6, onStateLoss: 'rebuild', segmentIdleMs: 0 });
const topics = topicNames(cfg);
const kafka = new KafkajsClient(cfg.kafkaBrokers, 'attune-bench');
const admin = kafka.admin();
await admin.connect();
await ensureTopics(admin, cfg);
const codec = new Codec(cfg.registryUrl, topics);
await codec.registerAll();
const producer = kafka.producer();
await producer.connect();
const redis = createRedis(cfg);

const waitCaughtUp = async (what: string) => {
  for (;;) {
    const { done, lag } = await caughtUp(kafka, redis, cfg).catch(() => ({ done: false, lag: NaN }));
    if (done) return;
    process.stdout.write(`\r${what}: lag ${lag}        `);
    await sleep(500);
  }
};

const worker = spawnWorker(cfg, { ATTUNE_LOG_LEVEL: 'warn' });
try {
  await produceCatalog(producer, codec, topics, catalog);
  await produceEvents(producer, codec, topics, events, { batchSize: 500 });
  const t0 = Date.now();
  await waitCaughtUp('first pass');
  const firstSeconds = (Date.now() - t0) / 1000;
  console.log(`\nfirst pass: ${events.length} events applied in ${firstSeconds.toFixed(1)} s`);

  // The loss: every key of the deployment gone at once, then one more event for the worker to notice it with.
  const lostAt = Date.now();
  const deleted = await deleteKeysWithPrefix(redis, cfg.keyPrefix);
  const extra = { ...events[events.length - 1], eventId: 'after-the-loss', eventTime: events[events.length - 1].eventTime + 1000 };
  await produceEvents(producer, codec, topics, [extra], { batchSize: 1 });
  await sleep(2000); // the worker must first notice: until then the deleted state looks "caught up" to nobody
  await waitCaughtUp('rebuild');
  const rebuildSeconds = (Date.now() - lostAt) / 1000;
  const check = await checkAgainstInput(cfg, redis, [...events, extra]);
  const out = worker.output();
  console.log(`\nrebuild: ${deleted} keys lost; ${events.length + 1} events re-applied ${rebuildSeconds.toFixed(1)} s after the loss `
    + `(${Math.round((events.length + 1) / rebuildSeconds)} events/s including detection, wipe and restart); `
    + `lost ${check.lost}, doubled ${check.doubled}, mismatches ${check.mismatchCount}; `
    + `worker said "state lost; rebuilding": ${out.includes('state lost; rebuilding it and restarting')}, still running: ${worker.child.exitCode === null}`);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}; single Redis ${cfg.redisUrl}, 6 partitions, micro-batch ${cfg.microBatchSize}`);
  if (check.lost || check.doubled || check.mismatchCount) process.exitCode = 1;
} finally {
  worker.child.kill('SIGTERM');
  await worker.exited;
  await deleteKeysWithPrefix(redis, cfg.keyPrefix).catch(() => 0);
  await admin.deleteTopics(Object.values(topics)).catch(() => []);
  await producer.disconnect();
  await admin.disconnect();
  await redis.quit();
}
