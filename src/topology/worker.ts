/**
 * The worker: builds the topology (sources → processors → sinks), runs one task per assigned partition and
 * owns the lifecycle (start-up checks, readiness, graceful shutdown).
 *
 *   attune.events ─┬─ decode → validate ─┬─ apply (Lua, offsets with state) → recommend → attune.recommendations
 *                  │                     └─ attune.dlq
 *   attune.items  ─┴─ decode → upsert item
 */
import type { Config } from '../config/config.js';
import { topicNames } from '../config/config.js';
import type { BatchHandler, PartitionBatch, StreamClient, StreamConsumer } from '../kafka/port.js';
import { ensureTopics } from '../kafka/topics.js';
import { Codec } from '../registry/codec.js';
import { createRedis, evictionPolicies, type RedisClient } from '../stores/redis-client.js';
import { StateStore } from '../stores/state-store.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import { startHttp } from '../http/server.js';
import { EventProcessor } from './event-processor.js';
import { createSegmentProcessor, loadSegmentSetup } from './segment-processor.js';
import { ItemProcessor } from './item-processor.js';
import { PartitionTask, type TaskHooks } from './partition-task.js';
import { errorMessage } from '../errors.js';
import { log } from '../log.js';
import type { Server } from 'node:http';

export interface WorkerHandle {
  httpPort: number;
  metrics: Metrics;
  stop(): Promise<void>;
  /** Resolves when the worker stopped on its own (fatal error); the value is the exit code. */
  done: Promise<number>;
}

export async function startWorker(cfg: Config, kafka: StreamClient): Promise<WorkerHandle> {
  const topics = topicNames(cfg);
  // The rule file is checked before anything connects: a bad rule stops start-up with its id and line:col.
  const segmentSetup = loadSegmentSetup(cfg);
  const metrics = createMetrics();
  const state = { joined: false, retrying: new Set<string>(), stopping: false, lastError: '' };
  const http = await startHttp(cfg.httpHost, cfg.httpPort, metrics.registry, {
    ready: () =>
      state.stopping ? { ok: false, reason: 'stopping' }
      : !state.joined ? { ok: false, reason: 'joining the consumer group' }
      : state.retrying.size > 0 ? { ok: false, reason: `retrying: ${state.lastError}` }
      : { ok: true },
  });

  const redis = createRedis(cfg);
  await checkRedis(redis);
  const codec = new Codec(cfg.registryUrl, topics);
  await codec.registerAll();

  const admin = kafka.admin();
  await admin.connect();
  const created = await ensureTopics(admin, cfg);
  if (created.length) log.info({ created }, 'created topics');
  await admin.disconnect();

  const producer = kafka.producer();
  await producer.connect();
  const store = new StateStore(redis, cfg.keyPrefix);
  const segments = createSegmentProcessor(segmentSetup, { cfg, topics, codec, redis, producer, metrics });
  const events = new EventProcessor({ cfg, topics, codec, store, producer, metrics, segments });
  const items = new ItemProcessor({ cfg, topics, codec, store, producer, metrics });
  const tasks = new Map<string, PartitionTask<unknown>>();

  const consumer = kafka.consumer({ groupId: cfg.groupId });
  await consumer.connect();
  await consumer.subscribe([topics.events, topics.items]);

  let exit: (code: number) => void = () => {};
  const done = new Promise<number>((r) => (exit = r));

  const assignedEvents = new Set<number>();
  consumer.onAssigned(async (assigned) => {
    state.joined = true;
    assignedEvents.clear();
    for (const a of assigned) if (a.topic === topics.events) a.partitions.forEach((p) => assignedEvents.add(p));
    metrics.ready.set(1);
    // Redis holds the true position: seek every events partition to the offset after its last applied batch.
    for (const { topic, partitions } of assigned) {
      if (topic !== topics.events) continue;
      for (const p of partitions) {
        try {
          const progress = await store.readProgress(topic, p);
          if (progress !== null) consumer.seek(topic, p, String(progress + 1));
        } catch (err) {
          log.warn({ topic, partition: p, err: errorMessage(err) }, 'could not read partition progress; using the committed offset');
        }
      }
    }
    log.info({ assigned }, 'partitions assigned');
  });
  consumer.onCrash((err, restart) => {
    log.error({ err: errorMessage(err), restart }, 'consumer crashed');
    if (!restart && !state.stopping) exit(1);
  });

  const handler: BatchHandler = async (batch) => {
    const key = `${batch.topic}:${batch.partition}`;
    let task = tasks.get(key);
    if (!task) tasks.set(key, (task = new PartitionTask(batch.topic, batch.partition)));
    const hooks = taskHooks(batch);
    for (let i = 0; i < batch.records.length; i += cfg.microBatchSize) {
      if (!batch.isRunning() || batch.isStale()) break;
      const chunk = batch.records.slice(i, i + cfg.microBatchSize);
      const started = process.hrtime.bigint();
      const run = batch.topic === topics.events
        ? () => events.process(batch.topic, batch.partition, chunk)
        : () => items.process(batch.topic, batch.partition, chunk);
      try {
        await task.submit(run, hooks);
      } catch (err) {
        if (!batch.isRunning() || batch.isStale()) break; // stopping: leave the rest for the next owner
        throw err;
      }
      const last = chunk[chunk.length - 1].offset;
      batch.resolveOffset(last);
      metrics.batchSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      metrics.batchRecords.observe(chunk.length);
      metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Math.max(0, Number(batch.highWatermark) - Number(last) - 1));
      await batch.heartbeat();
    }
    await batch.commit();
  };

  function taskHooks(batch: PartitionBatch): TaskHooks {
    return {
      shouldContinue: () => batch.isRunning() && !batch.isStale() && !state.stopping,
      onRetry: async (err, attempt, delayMs) => {
        state.retrying.add(`${batch.topic}:${batch.partition}`);
        state.lastError = (err as { code?: string }).code ?? 'error';
        metrics.ready.set(0);
        metrics.retries.inc({ code: state.lastError });
        log.warn({ topic: batch.topic, partition: batch.partition, attempt, delayMs, err: errorMessage(err) }, 'retriable error; retrying the micro-batch');
        try { await batch.heartbeat(); } catch { /* a rebalance will tell the loop through isStale() */ }
      },
      onRecovered: () => {
        state.retrying.delete(`${batch.topic}:${batch.partition}`);
        if (state.retrying.size === 0) metrics.ready.set(1);
        log.info({ topic: batch.topic, partition: batch.partition }, 'recovered');
      },
    };
  }

  // The punctuator: when a partition is idle, its event-time watermark follows the wall clock so that timed
  // segment exits still fire. It runs as a job of the partition's task, so never alongside a micro-batch.
  const punctuating = new Set<number>();
  const punctuator = cfg.segmentIdleMs > 0
    ? setInterval(() => {
        for (const p of assignedEvents) {
          if (state.stopping || punctuating.has(p)) continue;
          const key = `${topics.events}:${p}`;
          let task = tasks.get(key);
          if (!task) tasks.set(key, (task = new PartitionTask(topics.events, p)));
          punctuating.add(p);
          task
            .submit(() => segments.punctuate(topics.events, p, Date.now()), {
              shouldContinue: () => false, // a failed punctuation is simply tried at the next tick
              onRetry: () => {},
              onRecovered: () => {},
            })
            .catch((err) => log.warn({ partition: p, err: errorMessage(err) }, 'punctuation failed; will try again'))
            .finally(() => punctuating.delete(p));
        }
      }, Math.min(cfg.segmentIdleMs, 5_000))
    : undefined;
  punctuator?.unref();

  void consumer.run(handler, { partitionsConsumedConcurrently: cfg.partitionsConsumedConcurrently }).catch((err) => {
    log.error({ err: errorMessage(err) }, 'consumer failed to run');
    exit(1);
  });
  log.info({ groupId: cfg.groupId, topics: [topics.events, topics.items], http: http.port }, 'worker started');

  const stop = async () => {
    if (state.stopping) return;
    state.stopping = true;
    if (punctuator) clearInterval(punctuator);
    metrics.ready.set(0);
    const budget = new Promise<void>((r) => setTimeout(() => { log.warn('shutdown budget exceeded; disconnecting anyway'); r(); }, cfg.shutdownTimeoutMs).unref());
    // kafkajs finishes the in-flight eachBatch (our loop stops after the current micro-batch) and commits.
    await Promise.race([stopConsumer(consumer), budget]);
    for (const t of tasks.values()) t.close();
    await Promise.race([producer.disconnect(), budget]).catch(() => {});
    await redis.quit().catch(() => {});
    await closeServer(http.server);
    exit(0);
  };
  return { httpPort: http.port, metrics, stop, done };
}

async function stopConsumer(consumer: StreamConsumer) {
  try {
    await consumer.stop();
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}

/** Warns when Redis may evict keys: evicted state is silently lost state. */
async function checkRedis(redis: RedisClient) {
  const policies = await evictionPolicies(redis);
  const bad = policies.filter((p) => p !== 'noeviction');
  if (bad.length) {
    log.warn({ policies }, 'Redis maxmemory-policy is not noeviction: keys may be evicted and state silently lost. Set `maxmemory-policy noeviction` in redis.conf or with CONFIG SET.');
  }
}

