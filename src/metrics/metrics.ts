/**
 * Prometheus metrics (prom-client). Labels are bounded: event types, outcomes, error codes, topics and
 * partitions — never user or item ids.
 */
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'attune_process_' });
  return {
    registry,
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
    lag: new Gauge({
      name: 'attune_consumer_lag', help: 'Records between the last processed offset and the high watermark',
      labelNames: ['topic', 'partition'] as const, registers: [registry],
    }),
    recommendationsOut: new Counter({
      name: 'attune_recommendations_emitted_total', help: 'Recommendation records produced to the output topic', registers: [registry],
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
      name: 'attune_state_restarts_total', help: 'In-process restarts on a lost or rebuilt state, by reason (lost, rebuilt)',
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
    ready: new Gauge({ name: 'attune_ready', help: '1 when the worker is consuming and its stores answer', registers: [registry] }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
