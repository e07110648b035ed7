/**
 * Prometheus metrics (prom-client): the one place where metric names, help texts, units and buckets are declared
 * (docs/operations.md, Metrics, lists them). Names follow Prometheus' conventions (base units: seconds, bytes;
 * `_total` only on counters), checked by `promtool check metrics` in test/functional/metrics-promtool.test.ts.
 * Labels are bounded: event types, outcomes, error codes, stages, strategies, script or command names, topics
 * and partitions — never user or item ids.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';
import { ConsumerLag } from '../kafka/lag.js';
import { PACKAGE_ROOT } from '../package-root.js';

/**
 * prom-client's default metrics that are gauges named `*_total`, which promtool rejects ("non-counter metrics
 * should not have _total suffix"). Each is the sum of a per-type gauge that stays (`nodejs_active_handles{type}`,
 * ...), so dropping them loses nothing: `sum(nodejs_active_handles)` is the total.
 */
const DEFAULT_GAUGES_NAMED_TOTAL = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Emit time − source event time or Kafka append time: milliseconds on a live stream, up to a minute when behind. */
const FRESHNESS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** One Redis round trip: sub-millisecond on loopback, a script over a large batch up to a second. */
const REDIS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** One producer send (acks from every in-sync replica, possibly several requests). */
const PRODUCE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Why a worker restarts in-process (state-loss.ts). */
export const STATE_RESTART_REASONS = ['lost', 'rebuilt'] as const;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of DEFAULT_GAUGES_NAMED_TOTAL) registry.removeSingleMetric(name);
  /** Per-partition lag, kept by the batch handler and read at scrape time (so an idle or stuck partition ages). */
  const consumerLag = new ConsumerLag();
  const metrics = {
    registry,
    consumerLag,
    eventsIn: new Counter({
      name: 'attune_events_total', help: 'Input records by event type and outcome (applied, replayed, dead_lettered)',
      labelNames: ['type', 'outcome'] as const, registers: [registry],
    }),
    dlq: new Counter({
      name: 'attune_dlq_records_total', help: 'Records sent to the dead-letter topic, by stage and error code',
      labelNames: ['stage', 'code'] as const, registers: [registry],
    }),
    isolated: new Counter({
      name: 'attune_isolated_records_total', help: 'Records that failed alone with a non-retriable processing error, isolated by bisection and dead-lettered (PROCESS_FAILED), by source topic',
      labelNames: ['topic'] as const, registers: [registry],
    }),
    unreadableStates: new Counter({
      name: 'attune_unreadable_states_total', help: 'Users whose stored state could not be read: with only a due timer needing them, the timer was dropped; with a reset (erasure or consent withdrawal) in the micro-batch, the state was read as empty so that the reset applies. Per stage, by source topic',
      labelNames: ['topic'] as const, registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'attune_batch_duration_seconds', help: 'Time to process one micro-batch end to end (decode to commit)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
    }),
    stageSeconds: new Histogram({
      name: 'attune_stage_duration_seconds', help: 'Time spent in each stage of a micro-batch (decode, segments, ingest, recommend, emit, progress)',
      labelNames: ['stage'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry],
    }),
    batchRecords: new Histogram({
      name: 'attune_batch_records', help: 'Records per micro-batch', buckets: [1, 10, 50, 100, 250, 500, 1000, 5000], registers: [registry],
    }),
    lagRecords: new Gauge({
      name: 'attune_consumer_lag_records', help: 'Records of the partition not processed yet: high watermark − next offset to process (this worker\'s assigned partitions)',
      labelNames: ['topic', 'partition'] as const, registers: [registry],
      collect() {
        this.reset();
        for (const p of consumerLag.snapshot(Date.now())) this.set({ topic: p.topic, partition: String(p.partition) }, p.records);
      },
    }),
    lagSeconds: new Gauge({
      name: 'attune_consumer_lag_seconds', help: 'Age of the oldest record of the partition not processed yet (now − its Kafka timestamp), 0 when caught up',
      labelNames: ['topic', 'partition'] as const, registers: [registry],
      collect() {
        this.reset();
        for (const p of consumerLag.snapshot(Date.now())) this.set({ topic: p.topic, partition: String(p.partition) }, p.seconds);
      },
    }),
    freshness: new Histogram({
      name: 'attune_freshness_seconds', help: 'Emit time of a recommendation list − its source event\'s time: since="event_time" (the event\'s own time) or "append_time" (the source record\'s Kafka timestamp)',
      labelNames: ['since'] as const, buckets: FRESHNESS_BUCKETS, registers: [registry],
    }),
    redisSeconds: new Histogram({
      name: 'attune_redis_command_duration_seconds', help: 'One Redis round trip of the worker, from send to reply, by script name or command',
      labelNames: ['command'] as const, buckets: REDIS_BUCKETS, registers: [registry],
    }),
    produceSeconds: new Histogram({
      name: 'attune_produce_duration_seconds', help: 'One producer send until acknowledged, by the kind of topic (recommendations, segments, dead_letters, erasures, ...)',
      labelNames: ['topic'] as const, buckets: PRODUCE_BUCKETS, registers: [registry],
    }),
    lists: new Counter({
      name: 'attune_recommendation_lists_total', help: 'Recommendation lists by outcome: emitted (a new list produced), reemitted (produced for a replayed user: the list an interrupted attempt may not have produced, or its duplicate), unchanged (recomputed, equal to the last emitted list, not produced), tombstone (the user\'s list withdrawn)',
      labelNames: ['outcome'] as const, registers: [registry],
    }),
    onlineInteractions: new Counter({
      name: 'attune_online_interactions_total', help: 'Purchase and click events of users who had a recommendation list emitted, by the list\'s strategy and event type (live HR@K = attune_online_hits_total / this)',
      labelNames: ['strategy', 'type'] as const, registers: [registry],
    }),
    onlineHits: new Counter({
      name: 'attune_online_hits_total', help: 'Purchase and click events whose item was in the last recommendation list emitted to the user, by strategy and event type',
      labelNames: ['strategy', 'type'] as const, registers: [registry],
    }),
    experimentEvents: new Counter({
      name: 'attune_experiment_events_total', help: 'Attributed impressions, clicks and conversions per experiment variant (metric: impression, click, conversion), counted once per event (the exact counts are in Redis: attune experiments report)',
      labelNames: ['experiment', 'variant', 'metric'] as const, registers: [registry],
    }),
    attributionRefused: new Counter({
      name: 'attune_attribution_refused_total', help: 'Impression, click and purchase events whose recommendation id does not verify for the user (malformed, altered, made for another user or under a previous key): counted for no variant',
      registers: [registry],
    }),
    retries: new Counter({
      name: 'attune_retries_total', help: 'Micro-batches retried after a retriable error, by error code',
      labelNames: ['code'] as const, registers: [registry],
    }),
    segmentChanges: new Counter({
      name: 'attune_segment_changes_total', help: 'Segment entries and exits computed (replays not counted), by segment id and change',
      labelNames: ['segment', 'change'] as const, registers: [registry],
    }),
    segmentMembers: new Gauge({
      name: 'attune_segment_members', help: 'Members of each segment across all partitions (every worker reports the same total: aggregate with max)',
      labelNames: ['segment'] as const, registers: [registry],
    }),
    fenced: new Counter({
      name: 'attune_fenced_batches_total', help: 'Micro-batches dropped because a newer owner of the partition had written (this worker was revoked)',
      registers: [registry],
    }),
    stateResets: new Counter({
      name: 'attune_state_restarts_total', help: 'In-process restarts on a lost or rebuilt state, by reason (lost, rebuilt); the registry outlives the restart it counts',
      labelNames: ['reason'] as const, registers: [registry],
    }),
    rightsEvents: new Counter({
      name: 'attune_rights_events_total', help: 'Valid events by what the rights stage did with them: passed (to the per-user stages), no_consent (dropped: the user is not personalized), anonymous (counted in anonymous aggregates only), erased_before (before the user\'s recorded erasure)',
      labelNames: ['outcome'] as const, registers: [registry],
    }),
    erasures: new Counter({
      name: 'attune_erasures_total', help: 'Erasures carried out (ledger entry recorded, the user\'s state swept); a replay redoes them idempotently and counts again',
      registers: [registry],
    }),
    changelogRecords: new Counter({
      name: 'attune_model_changelog_records_total', help: 'Records of the shared model\'s changelog read by this worker, by outcome: applied (other workers\' deltas), held (the model holds them: its own, or a copy), other_epoch (another state), unreadable',
      labelNames: ['outcome'] as const, registers: [registry],
    }),
    changelogDelaySeconds: new Histogram({
      name: 'attune_model_changelog_delay_seconds', help: 'From a changelog record\'s append to its deltas applied in this worker\'s model (the shared model\'s propagation delay)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
    }),
    modelPairs: new Gauge({
      name: 'attune_model_pairs', help: 'Co-occurrence pairs the worker\'s in-memory model holds (bounded by ATTUNE_MAX_PAIRS: at the bound the table is pruned to half of it)',
      registers: [registry],
    }),
    modelPrunes: new Counter({
      name: 'attune_model_prunes_total', help: 'Prunes of the worker\'s in-memory co-occurrence table at ATTUNE_MAX_PAIRS (lossy counting: from the first one on, similarities of rare pairs are approximate; the Redis rows keep exact counts)',
      registers: [registry],
    }),
    modelPairsPruned: new Counter({
      name: 'attune_model_pairs_pruned_total', help: 'Co-occurrence pairs those prunes dropped from the in-memory table (a dropped pair that comes back counts from 0)',
      registers: [registry],
    }),
    identityMerges: new Counter({
      name: 'attune_identity_merges_total', help: 'Anonymous profiles re-keyed to their known user by an identify event (merge records produced); a replay after a crash between the produce and the ledger append counts again (the copy is dropped by the known user\'s dedupe)',
      registers: [registry],
    }),
    ready: new Gauge({ name: 'attune_ready', help: '1 when the worker is consuming and its stores answer', registers: [registry] }),
    info: infoGauge(registry),
  };
  // Exported at 0 from the start: Prometheus' increase() sees the first restart only as a step from a scraped 0.
  for (const reason of STATE_RESTART_REASONS) metrics.stateResets.inc({ reason }, 0);
  return metrics;
}

function infoGauge(registry: Registry): Gauge<'version'> {
  const g = new Gauge({ name: 'attune_worker_info', help: 'Always 1; the version label is the worker\'s package version', labelNames: ['version'] as const, registers: [registry] });
  g.set({ version: packageVersion() }, 1);
  return g;
}

function packageVersion(): string {
  try {
    return String((JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}
export type Metrics = ReturnType<typeof createMetrics>;
