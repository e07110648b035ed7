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
import type { BatchHandler, PartitionBatch, StreamAdmin, StreamClient, StreamConsumer } from '../kafka/port.js';
import { ensureTopics } from '../kafka/topics.js';
import { Codec } from '../stages/decode/codec.js';
import { createRedis, assertNoEviction, type RedisClient } from '../stores/redis-client.js';
import { RedisHealth } from '../stores/redis-health.js';
import { isTransientRedisError, toStoreError } from '../stores/redis-errors.js';
import { WatchdogCore, runWatchdog } from './watchdog.js';
import { StateStore } from '../stores/state-store.js';
import { bootstrapState, readBootstrap, rebuildState } from '../stores/bootstrap.js';
import { fenceField, runFenced } from '../stores/guard.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import { startHttp } from '../http/server.js';
import { EventProcessor } from './event-processor.js';
import { DeadLetterSink } from '../stages/dead-letter/sink.js';
import { readTopicToEnd } from '../output/read-topic.js';
import { RecommendStage } from '../stages/recommend/processor.js';
import { CatalogReader } from '../stages/catalog/reader.js';
import { Recommender } from '../stages/recommend/model/recommender.js';
import { loadRecommenderConfig } from '../stages/recommend/model/load-config.js';
import { RecommenderStore } from '../stages/recommend/store.js';
import { createSegmentProcessor, loadSegmentSetup } from '../stages/segments/processor.js';
import { ItemProcessor } from '../stages/catalog/processor.js';
import { PartitionTask, type TaskHooks } from './partition-task.js';
import { errorMessage, FencedError, StateLostError, StateRebuiltError } from '../errors.js';
import { log } from '../log.js';
import type { Server } from 'node:http';

/** The code `done` resolves with when the worker stopped to start again on a lost or rebuilt state. */
export const RESTART = 75;

export interface WorkerHandle {
  httpPort: number;
  metrics: Metrics;
  stop(): Promise<void>;
  /** Resolves when the worker stopped on its own: an exit code, or RESTART (start a new worker in-process). */
  done: Promise<number>;
}

export async function startWorker(cfg: Config, kafka: StreamClient): Promise<WorkerHandle> {
  const topics = topicNames(cfg);
  // The rule file is checked before anything connects: a bad rule stops start-up with its id and line:col.
  const segmentSetup = loadSegmentSetup(cfg);
  const metrics = createMetrics();
  const state = { joined: false, retrying: new Set<string>(), stopping: false, lastError: '' };
  let health: RedisHealth | undefined;
  const http = await startHttp(cfg.httpHost, cfg.httpPort, metrics.registry, {
    ready: () =>
      state.stopping ? { ok: false, reason: 'stopping' }
      : health && !health.ok ? { ok: false, reason: `Redis unreachable: ${health.lastError}` }
      : !state.joined ? { ok: false, reason: 'joining the consumer group' }
      : state.retrying.size > 0 ? { ok: false, reason: `retrying: ${state.lastError}` }
      : { ok: true },
  });

  const redis = createRedis(cfg);
  try {
    // A Redis that is not up yet (or restarting) is waited for, like an outage mid-run; one that may evict keys
    // would lose state silently: refuse to start.
    await untilRedisAnswers(() => assertNoEviction(redis), cfg.redisStartupWaitMs);
  } catch (err) {
    redis.disconnect();
    await closeServer(http.server);
    throw err;
  }
  health = new RedisHealth(redis, {
    everyMs: 1_000,
    timeoutMs: Math.min(cfg.redisCommandTimeoutMs, 3_000),
    onChange: (ok, why) => (ok ? log.info('Redis reachable again') : log.warn({ err: why }, 'Redis unreachable: not ready; micro-batches wait and retry')),
  });
  health.start();
  const codec = new Codec(cfg.registryUrl, topics);
  await codec.registerAll();

  const admin = kafka.admin();
  await admin.connect();
  const created = await ensureTopics(admin, cfg);
  if (created.length) log.info({ created }, 'created topics');
  let epoch: string;
  try {
    epoch = await openState(admin, redis, cfg, topics.events);
  } catch (err) {
    await admin.disconnect();
    redis.disconnect();
    await closeServer(http.server);
    throw err;
  }
  await admin.disconnect();

  const producer = kafka.producer();
  await producer.connect();
  const store = new StateStore(redis, cfg.keyPrefix);
  // The recommender model lives in memory (the code `attune eval` measures); Redis keeps its durable state.
  const rec = new Recommender(loadRecommenderConfig(cfg));
  const deadLetters = new DeadLetterSink({ store, producer, dlqTopic: topics.dlq, readBack: () => readTopicToEnd(kafka, topics.dlq) });
  const segments = createSegmentProcessor(segmentSetup, { cfg, topics, codec, redis, producer, deadLetters, metrics, catalog: (id) => rec.categoriesOf(id) });
  const recommendStore = new RecommenderStore(redis, cfg.keyPrefix);
  const recommend = new RecommendStage({ cfg, topics, codec, store: recommendStore, state: store, producer, metrics, rec });
  const warm = await recommend.warmUp();
  log.info(warm, 'recommender model loaded from Redis');
  const catalog = new CatalogReader(kafka, topics.items, cfg.groupId, codec, rec, cfg.maxMessageBytes);
  // An item that goes away: users of this worker's partitions whose current list holds it get a corrected list.
  catalog.onGone = (itemId, source) => {
    void correctHolders(itemId, source).catch((err) => log.warn({ err: errorMessage(err) }, 'could not correct lists holding a removed item'));
  };
  await catalog.start();
  log.info({ items: catalog.items }, 'catalog loaded');
  const events = new EventProcessor({ cfg, topics, codec, store, producer, deadLetters, metrics, segments, recommend, recommendStore });
  const items = new ItemProcessor({ cfg, topics, codec, store, producer, metrics });
  const tasks = new Map<string, PartitionTask<unknown>>();

  // Positions on assignment (earliest retained offsets) and the watchdog's lag probe.
  const offsetsAdmin = kafka.admin();
  await offsetsAdmin.connect();
  const consumer = kafka.consumer({ groupId: cfg.groupId, sessionTimeoutMs: cfg.kafkaSessionTimeoutMs });
  await consumer.connect();
  await consumer.subscribe([topics.events, topics.items]);

  let exit: (code: number) => void = () => {};
  const done = new Promise<number>((r) => (exit = r));

  const assignedEvents = new Set<number>();
  const assignedItems = new Set<number>();
  /** This worker's fence token per assigned partition, acquired at its first job after each assignment. */
  const fences = new Map<string, number>();
  /** Partitions where a newer owner's token refused this worker: their batches are dropped until the next assignment. */
  const fencedOut = new Set<string>();
  const recoveryCut = new Map<number, number>();
  /** The last offset this worker finished per events partition since its assignment (for the watchdog). */
  const processedUpTo = new Map<number, number>();
  const watchdog = new WatchdogCore(cfg.watchdogMs, Date.now());
  /**
   * Where each assigned events partition must start (its progress + 1, or the earliest retained offset). kafkajs
   * may fetch a batch from the committed offset before the seek lands; such a batch is dropped unprocessed,
   * because applying a later offset first would make the per-key offset checks skip the earlier ones.
   */
  const startAt = new Map<number, string>();
  let positioned: Promise<void> = Promise.resolve();
  consumer.onAssigned((assigned) => (positioned = position(assigned)));
  async function position(assigned: { topic: string; partitions: number[] }[]): Promise<void> {
    state.joined = true;
    watchdog.joined();
    assignedEvents.clear();
    assignedItems.clear();
    startAt.clear();
    processedUpTo.clear();
    fences.clear(); // a new generation: every partition gets a new token before it writes
    fencedOut.clear();
    for (const a of assigned) {
      if (a.topic === topics.events) a.partitions.forEach((p) => assignedEvents.add(p));
      if (a.topic === topics.items) a.partitions.forEach((p) => assignedItems.add(p));
    }
    metrics.ready.set(1);
    // Redis holds the true position: seek every partition to the offset after its last applied batch, or to
    // the earliest retained offset when there is none (a new or rebuilt state). Kafka's commit is only a hint.
    for (const { topic, partitions } of assigned) {
      let earliest: Map<number, string> | undefined; // asked only when a partition has no progress
      for (const p of partitions) {
        try {
          const progress = await store.readProgress(topic, p);
          if (topic === topics.events) {
            const inflight = await recommendStore.readInflight(topic, p);
            // A micro-batch that was cut short ended at `inflight`: the replay must cut there too.
            if (inflight !== null && inflight > (progress ?? -1)) recoveryCut.set(p, inflight);
            else recoveryCut.delete(p);
          }
          const from = progress !== null
            ? String(progress + 1)
            : (earliest ??= await offsetsAdmin.startOffsets(topic).catch(() => new Map<number, string>())).get(p);
          if (from === undefined) continue;
          consumer.seek(topic, p, from);
          if (topic === topics.events) startAt.set(p, from);
        } catch (err) {
          log.warn({ topic, partition: p, err: errorMessage(err) }, 'could not read partition progress; using the committed offset');
        }
      }
    }
    log.info({ assigned }, 'partitions assigned');
    // A changed rule file re-evaluates every known user of the partition, as a job of its task (never alongside
    // a micro-batch); the first micro-batch or punctuation retries it when this one fails or is deferred.
    segments.resetRules();
    for (const p of assignedEvents) {
      const key = `${topics.events}:${p}`;
      let task = tasks.get(key);
      if (!task) tasks.set(key, (task = new PartitionTask(topics.events, p)));
      task
        .submit(() => fenced(topics.events, p, () => segments.ensureRules(topics.events, p)), { shouldContinue: () => false, onRetry: () => {}, onRecovered: () => {} })
        .catch((err) => jobFailed(err, p, 'segment rules re-evaluation failed; the next micro-batch retries it'));
    }
  }
  consumer.onCrash((err, restart) => {
    log.error({ err: errorMessage(err), restart }, 'consumer crashed');
    state.joined = false;
    watchdog.left(Date.now(), `crashed (${errorMessage(err)})${restart ? ' and is restarting' : ''}`);
    if (!restart && !state.stopping) exit(1);
  });

  /**
   * Runs a job of a partition under this worker's fence token for it (every script it calls checks the token).
   * The token is acquired at the partition's first job after an assignment; a partition no longer assigned gets
   * none, so a revoked worker's late job cannot take a new token and fence out the new owner.
   */
  async function fenced<T>(topic: string, partition: number, job: () => Promise<T>): Promise<T> {
    const key = `${topic}:${partition}`;
    let token = fences.get(key);
    if (token === undefined) {
      const assignedNow = topic === topics.events ? assignedEvents : assignedItems;
      if (!assignedNow.has(partition)) throw new FencedError(`${key} is not assigned to this worker any more`);
      token = await store.acquireFence(topic, partition).catch((e) => { throw toStoreError(e); });
      fences.set(key, token);
    }
    return runFenced({ field: fenceField(topic, partition), token }, job);
  }

  /** A lost or rebuilt state: restart in-process on the new state (rebuilding it first when so configured). */
  let recovering = false;
  function onStateError(err: StateLostError | StateRebuiltError, where: string): void {
    if (recovering || state.stopping) return;
    recovering = true;
    if (err instanceof StateLostError && cfg.onStateLoss === 'halt') {
      // Never continue on state that is gone: stop, so that nothing more is applied or committed.
      log.fatal({ where, err: errorMessage(err) }, 'state lost; exiting with code 3 (ATTUNE_ON_STATE_LOSS=halt)');
      exit(3);
      return;
    }
    const reason = err instanceof StateLostError ? 'lost' : 'rebuilt';
    metrics.stateResets.inc({ reason });
    log.error({ where, err: errorMessage(err) }, reason === 'lost' ? 'state lost; rebuilding it and restarting' : 'state rebuilt by another worker; restarting');
    void (async () => {
      try {
        if (reason === 'lost') await rebuildState(redis, cfg.keyPrefix, epoch);
      } catch (e) {
        log.fatal({ err: errorMessage(e) }, 'state rebuild failed; exiting with code 3');
        exit(3);
        return;
      }
      await stop(RESTART);
    })();
  }

  /** A failed side job of a partition (rules re-evaluation, punctuation): logged, unless the state is gone. */
  function jobFailed(err: unknown, partition: number, what: string): void {
    if (err instanceof StateLostError || err instanceof StateRebuiltError) onStateError(err, `${topics.events}:${partition}`);
    else log.warn({ partition, err: errorMessage(err) }, what);
  }

  const handler: BatchHandler = async (batch) => {
    const key = `${batch.topic}:${batch.partition}`;
    let task = tasks.get(key);
    if (!task) tasks.set(key, (task = new PartitionTask(batch.topic, batch.partition)));
    const hooks = taskHooks(batch);
    await positioned;
    if (fencedOut.has(key)) {
      // Revoked, and the coordinator has not told this worker yet: heartbeat (which brings the rebalance) and
      // wait a little rather than fetch, drop and fetch the same records in a tight loop.
      await batch.heartbeat().catch(() => {});
      await new Promise((r) => setTimeout(r, 250));
      return;
    }
    if (batch.topic === topics.events && !(await atStart(batch))) return;
    for (let i = 0; i < batch.records.length; ) {
      if (!batch.isRunning() || batch.isStale()) break;
      const cut = batch.topic === topics.events ? recoveryCut.get(batch.partition) : undefined;
      const chunk = microBatch(batch.records, i, cfg.microBatchSize, cut);
      i += chunk.length;
      if (cut !== undefined && Number(chunk[chunk.length - 1].offset) >= cut) recoveryCut.delete(batch.partition);
      const started = process.hrtime.bigint();
      const run = batch.topic === topics.events
        ? () => fenced(batch.topic, batch.partition, () => events.process(batch.topic, batch.partition, chunk)).catch((e) => { throw toStoreError(e); })
        : () => fenced(batch.topic, batch.partition, () => items.process(batch.topic, batch.partition, chunk)).catch((e) => { throw toStoreError(e); });
      try {
        await task.submit(run, hooks);
      } catch (err) {
        if (err instanceof StateLostError || err instanceof StateRebuiltError) {
          onStateError(err, `${batch.topic}:${batch.partition}`);
          return; // nothing more is applied, resolved or committed by this worker
        }
        if (err instanceof FencedError) {
          // A newer owner wrote: this worker was revoked. Drop the rest unresolved; the owner replays it.
          metrics.fenced.inc();
          fencedOut.add(key);
          log.warn({ topic: batch.topic, partition: batch.partition, err: errorMessage(err) }, 'fenced: dropping the rest of the batch');
          break;
        }
        if (!batch.isRunning() || batch.isStale()) break; // stopping: leave the rest for the next owner
        throw err;
      }
      const last = chunk[chunk.length - 1].offset;
      batch.resolveOffset(last);
      watchdog.progress(Date.now());
      if (batch.topic === topics.events) processedUpTo.set(batch.partition, Number(last));
      metrics.batchSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      metrics.batchRecords.observe(chunk.length);
      metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Math.max(0, Number(batch.highWatermark) - Number(last) - 1));
      await batch.heartbeat();
    }
    await batch.commit();
  };

  /** Whether the batch starts where the partition must start after its assignment (see startAt). */
  async function atStart(batch: PartitionBatch): Promise<boolean> {
    const want = startAt.get(batch.partition);
    const first = batch.records[0]?.offset;
    if (want === undefined || first === undefined || first === want) {
      startAt.delete(batch.partition);
      return true;
    }
    const low = (await offsetsAdmin.startOffsets(batch.topic)).get(batch.partition);
    if (low !== undefined && Number(low) > Number(want)) {
      // Retention deleted input that was never applied: say so loudly, and go on from what is left.
      log.error({ partition: batch.partition, from: want, earliest: low, lost: Number(low) - Number(want) }, 'input deleted by retention before it was applied: starting at the earliest retained offset');
      startAt.set(batch.partition, low);
      consumer.seek(batch.topic, batch.partition, low);
      return false;
    }
    log.debug({ partition: batch.partition, first, want }, 'dropping a batch fetched before the seek landed');
    consumer.seek(batch.topic, batch.partition, want);
    return false;
  }

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

  async function correctHolders(itemId: string, source: string): Promise<void> {
    if (!state.joined) return; // at start-up the catalog is read before partitions are assigned
    for (const userId of await recommendStore.holders(itemId)) {
      const p = await recommendStore.userPartition(userId, topics.events);
      if (p === null || !assignedEvents.has(p)) continue;
      const key = `${topics.events}:${p}`;
      let task = tasks.get(key);
      if (!task) tasks.set(key, (task = new PartitionTask(topics.events, p)));
      await task.submit(() => fenced(topics.events, p, async () => {
        const out = await recommend.correct(topics.events, p, userId, source);
        if (out) {
          await producer.send(topics.recommendations, [out]);
          metrics.recommendationsOut.inc();
        }
      }), { shouldContinue: () => !state.stopping && assignedEvents.has(p), onRetry: () => {}, onRecovered: () => {} });
    }
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
            .submit(() => fenced(topics.events, p, () => segments.punctuate(topics.events, p, Date.now())), {
              shouldContinue: () => false, // a failed punctuation is simply tried at the next tick
              onRetry: () => {},
              onRecovered: () => {},
            })
            .catch((err) => jobFailed(err, p, 'punctuation failed; will try again'))
            .finally(() => punctuating.delete(p));
        }
      }, Math.min(cfg.segmentIdleMs, 5_000))
    : undefined;
  punctuator?.unref();

  // Lag of this worker's events partitions: end offset minus the progress applied in Redis (the truth).
  const dog = cfg.watchdogMs > 0
    ? runWatchdog(watchdog, {
        everyMs: Math.max(250, Math.min(5_000, Math.floor(cfg.watchdogMs / 10))),
        probeLag: async () => {
          if (assignedEvents.size === 0) return 0;
          const ends = await offsetsAdmin.endOffsets(topics.events);
          let lag = 0;
          for (const p of assignedEvents) {
            // What this worker finished is known without Redis, so a Redis outage cannot hide the lag.
            const applied = processedUpTo.get(p) ?? (await store.readProgress(topics.events, p).catch((e) => { throw toStoreError(e); })) ?? -1;
            lag += Math.max(0, Number(ends.get(p) ?? 0) - applied - 1);
          }
          return lag;
        },
        onStall: (reason) => {
          if (state.stopping) return;
          log.error({ watchdogMs: cfg.watchdogMs }, `watchdog: ${reason}; exiting with code 2 so that the supervisor restarts the worker`);
          exit(2);
        },
      })
    : undefined;

  void consumer.run(handler, { partitionsConsumedConcurrently: cfg.partitionsConsumedConcurrently }).catch((err) => {
    log.error({ err: errorMessage(err) }, 'consumer failed to run');
    exit(1);
  });
  log.info({ groupId: cfg.groupId, topics: [topics.events, topics.items], http: http.port }, 'worker started');

  const stop = async (code = 0) => {
    if (state.stopping) return;
    state.stopping = true;
    if (punctuator) clearInterval(punctuator);
    dog?.stop();
    health?.stop();
    metrics.ready.set(0);
    let budgetTimer: NodeJS.Timeout | undefined;
    const budget = new Promise<void>((r) => {
      budgetTimer = setTimeout(() => { log.warn('shutdown budget exceeded; disconnecting anyway'); r(); }, cfg.shutdownTimeoutMs).unref();
    });
    const took: Record<string, number> = {};
    const step = async (name: string, p: Promise<unknown>) => {
      const t0 = Date.now();
      await Promise.race([p, budget]).catch(() => {});
      took[name] = Date.now() - t0;
    };
    // kafkajs finishes the in-flight eachBatch (our loop stops after the current micro-batch) and commits. The
    // catalog reader stops alongside: each waits out its consumer's fetch long-poll (up to 5 s), so not in a row.
    await Promise.all([step('consumer', stopConsumer(consumer)), step('catalog', catalog.stop())]);
    for (const t of tasks.values()) t.close();
    await step('producer', producer.disconnect());
    await step('admin', offsetsAdmin.disconnect());
    await step('redis', redis.quit());
    await step('http', closeServer(http.server));
    log.info({ ms: took }, 'stopped');
    clearTimeout(budgetTimer); // stopped within the budget: no late warning (the process may live on)
    exit(code);
  };
  return { httpPort: http.port, metrics, stop: () => stop(0), done };
}

/**
 * The next micro-batch from `start`: at most `size` records, and never across `cut` (a record at offset
 * `cut` ends the micro-batch) so a replay after a crash has the same boundary as the cut-short attempt.
 */
export function microBatch<T extends { offset: string }>(records: T[], start: number, size: number, cut?: number): T[] {
  let end = Math.min(records.length, start + size);
  if (cut !== undefined) {
    for (let k = start; k < end; k++) {
      if (Number(records[k].offset) >= cut) { end = k + 1; break; }
    }
  }
  return records.slice(start, end);
}

/**
 * The state's epoch, bootstrapping an empty state. A deployment whose consumer group has committed offsets but
 * whose Redis holds no bootstrap marker has lost its state (Redis restarted without persistence, or was flushed):
 * rebuild it (ATTUNE_ON_STATE_LOSS=rebuild) or refuse to start — never go on from empty state.
 */
async function openState(admin: StreamAdmin, redis: RedisClient, cfg: Config, topic: string): Promise<string> {
  const found = await readBootstrap(redis, cfg.keyPrefix);
  if (found?.complete) return found.epoch;
  if (found) return bootstrapState(redis, cfg.keyPrefix); // a bootstrap cut short: finish it
  const committed = await admin.groupOffsets(cfg.groupId, topic);
  if (![...committed.values()].some((o) => Number(o) >= 0)) return bootstrapState(redis, cfg.keyPrefix);
  if (cfg.onStateLoss === 'rebuild') {
    log.warn({ groupId: cfg.groupId, keyPrefix: cfg.keyPrefix }, 'state lost (bootstrap marker missing while the group has committed offsets); rebuilding');
    return rebuildState(redis, cfg.keyPrefix, null);
  }
  throw new StateLostError(
    `consumer group ${cfg.groupId} has committed offsets on ${topic}, but Redis holds no state for key prefix ${cfg.keyPrefix} ` +
      '(its bootstrap marker is missing): Redis restarted empty or was flushed. To rebuild the state from the retained ' +
      'input, start the workers with ATTUNE_ON_STATE_LOSS=rebuild (or clear what is left with `attune reset --yes --keep-topics` ' +
      'and start them with a new ATTUNE_GROUP_ID); to restore instead, bring back the Redis data.',
  );
}

/** Runs `first` until Redis answers it: transient failures are retried with backoff for up to `waitMs`. */
async function untilRedisAnswers(first: () => Promise<void>, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await first();
    } catch (err) {
      if (!isTransientRedisError(err) || Date.now() >= deadline) throw toStoreError(err);
      const delayMs = Math.min(200 * 2 ** attempt, 5_000);
      log.warn({ attempt, delayMs, err: errorMessage(err) }, 'Redis not reachable at start-up; waiting (ATTUNE_REDIS_STARTUP_WAIT_MS)');
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
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
