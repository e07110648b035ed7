/**
 * The worker: the composition root. It connects the services, builds the topology's processors (events-chain.ts,
 * stages/catalog), runs one task per assigned partition (tasks.ts) fed by the batch handler, and owns the
 * lifecycle: start-up checks, positioning on assignment, punctuation, the watchdog, readiness and shutdown.
 * `attune topology` prints what it builds (topology.ts).
 */
import type { Config } from '../config/config.js';
import { topicNames } from '../config/config.js';
import type { StreamClient, TopicPartitions } from '../kafka/port.js';
import { rebuildState } from '../stores/bootstrap.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import { timedProducer, topicKinds } from '../kafka/timed-producer.js';
import { startHttp } from '../http/server.js';
import { loadSegmentSetup } from '../stages/segments/processor.js';
import { CatalogReader } from '../stages/catalog/reader.js';
import { validationLimits } from '../stages/validate/stage.js';
import { errorMessage, isRetriable } from '../errors.js';
import { STARTUP_BACKOFF, untilSuccess, type BackoffPolicy } from '../retry.js';
import { log } from '../log.js';
import { createBatchHandler, type ChainRunner } from './batch-handler.js';
import { Tasks } from './tasks.js';
import { Positioning } from './positioning.js';
import { Readiness } from './readiness.js';
import { StateLoss } from './state-loss.js';
import { correctHolders } from './holder-correction.js';
import { WatchdogCore } from './watchdog.js';
import { startTimers } from './timers.js';
import { closeServer, openStores, stopConsumer } from './startup.js';
import { buildProcessors } from './processors.js';
import { startShutdown } from './shutdown.js';
import { pseudonymizersFor } from '../stages/rights/pseudonym.js';
import type { Recommender } from '../stages/recommend/model/recommender.js';
import type { ErasureLedger } from '../stages/rights/ledger.js';

/** The code `done` resolves with when the worker stopped to start again on a lost or rebuilt state. */
export const RESTART = 75;

export interface WorkerHandle {
  httpPort: number;
  metrics: Metrics;
  /** The worker's in-memory recommender (read only: tests and tools look at what the shared model holds). */
  readonly model: Recommender;
  stop(): Promise<void>;
  /** Resolves when the worker stopped on its own: an exit code, or RESTART (start a new worker in-process). */
  done: Promise<number>;
}

/**
 * `metrics`: the process's registry. A worker started again in-process (RESTART) gets the same one, so counters
 * such as attune_state_restarts_total survive the restart they count and the next scrape sees them.
 */
export async function startWorker(cfg: Config, kafka: StreamClient, metrics: Metrics = createMetrics()): Promise<WorkerHandle> {
  // The pseudonymisation keys first, before anything else: without a key (outside demo mode), or with a key — the
  // current or ATTUNE_PSEUDONYM_KEY_PREVIOUS — that is too short, the worker refuses to start (ConfigError naming it).
  const names = pseudonymizersFor(cfg);
  const topics = topicNames(cfg);
  // The rule file is checked before anything connects: a bad rule stops start-up with its id and line:col.
  const segmentSetup = loadSegmentSetup(cfg);
  const readiness = new Readiness(metrics);
  const http = await startHttp(cfg.httpHost, cfg.httpPort, metrics.registry, { ready: () => readiness.verdict() });

  const { redis, codec, epoch } = await openStores(cfg, kafka, topics, readiness, http.server, (command, s) => metrics.redisSeconds.observe({ command }, s));
  const producer = timedProducer(kafka.producer({ maxRequestBytes: cfg.kafkaMaxRequestBytes }), topicKinds(topics), (topic, s) => metrics.produceSeconds.observe({ topic }, s));
  await producer.connect();
  const { store, rec, segments, recommend, recommendStore, events, items, rights, changelog } = buildProcessors({ cfg, topics, kafka, redis, codec, producer, metrics, segmentSetup, names, epoch });
  // The rows, then the other workers' deltas since (changelog.ts, Start-up: the ends around the warm-up decide).
  const changelogFrom = await changelog.endOffset();
  const { gates, ...warm } = await recommend.warmUp();
  log.info(warm, 'recommender model loaded from Redis');
  const changelogWarmEnd = await changelog.endOffset();
  const tasks = new Tasks((topic, p) => store.acquireFence(topic, p));

  let exit: (code: number) => void = () => {};
  const done = new Promise<number>((r) => (exit = r));
  const stateLoss = new StateLoss({
    policy: cfg.onStateLoss,
    metrics,
    rebuild: () => rebuildState(redis, cfg.keyPrefix, epoch).then(() => {}),
    restart: () => stop(RESTART),
    exit: (code) => exit(code),
    isStopping: () => readiness.stopping,
  });
  const sideJobFailed = (err: unknown, p: number, what: string) => stateLoss.sideJobFailed(err, `${topics.events}:${p}`, what);

  // The catalog as a global table (every worker reads all of it); an item that goes away corrects its holders.
  const catalog = new CatalogReader(kafka, topics.items, cfg.groupId, codec, rec, cfg.maxMessageBytes, validationLimits(cfg));
  const holderDeps = {
    eventsTopic: topics.events, recommendationsTopic: topics.recommendations, tasks, store: recommendStore, recommend, producer, metrics,
    identities: rights.identities,
    isActive: () => !readiness.stopping, isJoined: () => readiness.joined,
  };
  catalog.onGone = (itemId, source) => {
    void correctHolders(holderDeps, itemId, source).catch((err) => log.warn({ err: errorMessage(err) }, 'could not correct lists holding a removed item'));
  };
  // Both readers join their own throw-away groups: side by side, not one after the other.
  await Promise.all([
    catalog.start().then(() => log.info({ items: catalog.items }, 'catalog loaded')),
    changelog.start(changelogFrom, gates, changelogWarmEnd).then(() => log.info({ from: changelogFrom, to: changelogWarmEnd }, 'model changelog read to its end')),
  ]);

  // The erasure ledger before the consumer joins: no event of an erased user may be processed before it is known.
  await loadLedger(rights.ledger, 'start-up');

  // The group consumer: positions on assignment, one task per partition, the batch handler.
  const offsetsAdmin = kafka.admin(); // earliest offsets on assignment, and the watchdog's lag probe
  await offsetsAdmin.connect();
  const consumer = kafka.consumer({ groupId: cfg.groupId, sessionTimeoutMs: cfg.kafkaSessionTimeoutMs });
  await consumer.connect();
  await consumer.subscribe([topics.events, topics.items]);
  const watchdog = new WatchdogCore(cfg.watchdogMs, Date.now());
  const positioning = new Positioning({
    tasks, eventsTopic: topics.events, admin: offsetsAdmin, consumer,
    readProgress: (t, p) => store.readProgress(t, p),
    readInflight: (t, p, progress) => recommendStore.readInflight(t, p, progress),
  });
  let positioned: Promise<void> = Promise.resolve();
  consumer.onAssigned((assigned) => {
    positioned = onAssigned(assigned);
    // The batch handler awaits it (and fails its batches while it is rejected); this only keeps a rejection from
    // being unhandled in between.
    positioned.catch(() => {});
    return positioned;
  });
  async function onAssigned(assigned: TopicPartitions[]): Promise<void> {
    watchdog.joined();
    tasks.assign(assigned);
    for (const topic of [topics.events, topics.items]) {
      metrics.consumerLag.retain(topic, assigned.find((a) => a.topic === topic)?.partitions ?? []);
    }
    // Erasures another worker appended since this one loaded the ledger (a partition taken over): read before the
    // partitions' first micro-batches, which wait for the positioning. Never go on with a stale ledger: a replay on
    // a taken-over partition would re-count an erased user's events. Retried while it fails retriably; not ready
    // (/readyz "joining") meanwhile; a failure that cannot pass stops the worker.
    readiness.joined = false;
    metrics.ready.set(0);
    try {
      await reloadLedger(rights.ledger, { isStopping: () => readiness.stopping });
    } catch (err) {
      if (!readiness.stopping) {
        log.error({ err: errorMessage(err) }, 'could not re-read the erasure ledger on assignment; stopping rather than process partitions without the erasures other workers recorded');
        void stop(1);
      }
      throw err;
    }
    readiness.joined = true;
    metrics.ready.set(1);
    await positioning.position(assigned);
    // The previous owners' last deltas in the model before this worker learns their partitions (changelog.ts, Takeover).
    await changelog.caughtUp(await changelog.endOffset());
    log.info({ assigned }, 'partitions assigned');
    // A changed rule file re-evaluates every known user of the partition, as a job of its task (never alongside
    // a micro-batch); the first micro-batch or punctuation retries it when this one fails or is deferred.
    segments.resetRules();
    for (const p of tasks.assignedPartitions(topics.events)) {
      tasks.sideJob(topics.events, p, () => segments.ensureRules(topics.events, p))
        .catch((err) => sideJobFailed(err, p, 'segment rules re-evaluation failed; the next micro-batch retries it'));
    }
  }
  consumer.onCrash((err, restart) => {
    log.error({ err: errorMessage(err), restart }, 'consumer crashed');
    readiness.joined = false;
    watchdog.left(Date.now(), `crashed (${errorMessage(err)})${restart ? ' and is restarting' : ''}`);
    if (!restart && !readiness.stopping) exit(1);
  });

  const handler = createBatchHandler({
    tasks,
    chains: new Map<string, ChainRunner>([
      [topics.events, (t, p, r, q) => events.process(t, p, r, q)],
      [topics.items, (t, p, r, q) => items.process(t, p, r, q)],
    ]),
    microBatchSize: cfg.microBatchSize,
    metrics,
    positioned: () => positioned,
    atStart: (batch) => positioning.atStart(batch),
    retryHooks: (batch) => readiness.retryHooks(batch),
    onStateError: (err, where) => stateLoss.handle(err, where),
    onProgress: (task, last) => {
      watchdog.progress(Date.now());
      if (task.topic === topics.events) task.owner.processedUpTo = last;
    },
  });

  const timers = startTimers({
    cfg, eventsTopic: topics.events, tasks, segments, watchdog, admin: offsetsAdmin,
    readProgress: (t, p) => store.readProgress(t, p),
    sideJobFailed, isStopping: () => readiness.stopping, exit: (code) => exit(code),
  });

  void consumer.run(handler, { partitionsConsumedConcurrently: cfg.partitionsConsumedConcurrently, commitOffsets: true }).catch((err) => {
    log.error({ err: errorMessage(err) }, 'consumer failed to run');
    exit(1);
  });
  log.info({ groupId: cfg.groupId, topics: [topics.events, topics.items], http: http.port }, 'worker started');

  const stop = async (code = 0) => {
    if (readiness.stopping) return;
    readiness.stopping = true;
    timers.stop();
    readiness.health?.stop();
    metrics.ready.set(0);
    const shutdown = startShutdown(cfg.shutdownTimeoutMs);
    // kafkajs finishes the in-flight eachBatch (our loop stops after the current micro-batch) and commits. The
    // catalog reader stops alongside: each waits out its consumer's fetch long-poll (up to 5 s), so not in a row.
    await Promise.all([shutdown.step('consumer', stopConsumer(consumer)), shutdown.step('catalog', catalog.stop()), shutdown.step('changelog', changelog.stop())]);
    tasks.closeAll();
    await shutdown.step('producer', producer.disconnect());
    await shutdown.step('admin', offsetsAdmin.disconnect());
    await shutdown.step('redis', redis.quit());
    await shutdown.step('http', closeServer(http.server));
    shutdown.finish();
    exit(code);
  };
  return { httpPort: http.port, metrics, model: rec, stop: () => stop(0), done };
}

/**
 * Whether a failed ledger read may pass by waiting: a retriable AttuneError (a read timeout), or a broker-side
 * KafkaJS error (a broker away, a leader moving), which the client reports after its own retries ran out.
 */
export function ledgerReadRetriable(err: unknown): boolean {
  if (isRetriable(err)) return true;
  const e = err as { retriable?: unknown; name?: unknown } | null;
  return !!e && (e.retriable === true || (typeof e.name === 'string' && e.name.startsWith('KafkaJS')));
}

/**
 * Re-reads the erasure ledger until it succeeds (on assignment): retriable failures are retried with the start-up
 * backoff for as long as they last, unless the worker stops; any other failure is thrown.
 */
export async function reloadLedger(
  ledger: Pick<ErasureLedger, 'load' | 'size'>,
  opts: { isStopping: () => boolean; policy?: BackoffPolicy },
): Promise<void> {
  await untilSuccess(() => loadLedger(ledger, 'assignment'), {
    deadlineMs: Number.POSITIVE_INFINITY,
    policy: opts.policy ?? STARTUP_BACKOFF,
    isRetriable: (err) => !opts.isStopping() && ledgerReadRetriable(err),
    onRetry: (err, attempt, delayMs) => log.warn({ err: errorMessage(err), attempt, delayMs }, 'could not re-read the erasure ledger on assignment; retrying (the partitions wait for it)'),
  });
}

/** Reads the erasure ledger topic (logged by count and time only: entries name pseudonyms). */
async function loadLedger(ledger: Pick<ErasureLedger, 'load' | 'size'>, when: string): Promise<void> {
  const t0 = Date.now();
  const read = await ledger.load();
  log.info({ when, entries: ledger.size, read, ms: Date.now() - t0 }, 'erasure ledger loaded');
}
