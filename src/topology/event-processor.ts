/**
 * The processor chain of the events topic for one micro-batch:
 *   decode → validate → (dead-letter the bad ones) → apply to the state store → recommend → emit.
 * It is pure orchestration: each stage's logic lives in src/processors (pure) or src/stores (I/O).
 * Every step is idempotent, so the runner may retry a whole micro-batch after a retriable error.
 */
import type { InboundRecord, OutboundRecord, StreamProducer } from '../kafka/port.js';
import type { Codec } from '../stages/decode/codec.js';
import type { StateStore } from '../stores/state-store.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Config, TopicNames } from '../config/config.js';
import { validateEvent, DEFAULT_LIMITS, type ValidationLimits } from '../stages/validate/validate.js';
import { planIngest, type OffsetEvent } from '../stages/ingest/plan.js';
import { Keys } from '../stores/keys.js';
import { RecordError, isRetriable } from '../errors.js';
import { deadLetter } from '../stages/dead-letter/record.js';
import { crashPoint } from './crash-points.js';
import type { DeadLetterSink } from '../stages/dead-letter/sink.js';
import type { SegmentProcessor } from '../stages/segments/processor.js';
import type { RecommendStage } from '../stages/recommend/processor.js';
import type { RecommenderStore } from '../stages/recommend/store.js';

export interface ProcessorDeps {
  cfg: Config;
  topics: TopicNames;
  codec: Codec;
  store: StateStore;
  producer: StreamProducer;
  /** Dead letters, written exactly once per source record. */
  deadLetters: DeadLetterSink;
  metrics: Metrics;
  now?: () => number;
  /** Rolling features and segments: runs first because it decides which events are too late to apply. */
  segments: SegmentProcessor;
  recommend: RecommendStage;
  recommendStore: RecommenderStore;
}

export interface MicroBatchResult {
  applied: number;
  replayed: number;
  deadLettered: number;
  usersEmitted: number;
}

export class EventProcessor {
  private readonly limits: ValidationLimits;
  private readonly now: () => number;
  /** The progress this worker wrote last per partition: Redis losing it means the state was lost. */
  private readonly progressWritten = new Map<string, number>();
  constructor(private readonly d: ProcessorDeps) {
    this.limits = { ...DEFAULT_LIMITS, maxIdLength: d.cfg.maxIdLength, maxFutureMs: d.cfg.maxFutureMs, minEventTime: d.cfg.minEventTime };
    this.now = d.now ?? Date.now;
  }

  async process(topic: string, partition: number, records: InboundRecord[]): Promise<MicroBatchResult> {
    const { d } = this;
    const valid: OffsetEvent[] = [];
    const dead: OutboundRecord[] = [];
    const now = this.now();
    // Write-ahead marker: if this micro-batch is cut short by a crash, the replay after it is cut at the same
    // offset, so that per-row "batch applied" checks stay exact (see recommend-stage.ts).
    const stage = stageTimer(d.metrics);
    await d.recommendStore.markInflight(topic, partition, Number(records[records.length - 1].offset));
    for (const r of records) {
      try {
        const e = await d.codec.decodeEvent(r.value, d.cfg.maxMessageBytes);
        valid.push({ offset: Number(r.offset), event: validateEvent(e, this.limits, now) });
      } catch (err) {
        if (isRetriable(err) || !(err instanceof RecordError)) throw err;
        dead.push(deadLetter(r, err, { topic, partition, groupId: d.cfg.groupId }));
      }
    }
    stage('decode');
    // Dead letters go out before anything is resolved, so a bad record is never just dropped.
    for (const r of await d.deadLetters.send(topic, partition, 'decode', dead)) {
      d.metrics.dlq.inc({ stage: r.headers!['attune.error.stage'], code: r.headers!['attune.error.code'] });
      d.metrics.eventsIn.inc({ type: 'unknown', outcome: 'dead_lettered' });
    }

    // Features and segments first: they classify lateness against the partition's watermark, dead-letter the
    // events that are too late (TOO_LATE), and those must not reach the other state either.
    const { tooLate } = await d.segments.process(topic, partition, valid, records);
    stage('segments');
    const late = new Set(tooLate.map((r) => r.offset));
    const onTime = late.size ? valid.filter((r) => !late.has(r.offset)) : valid;

    const plan = planIngest(onTime);
    const field = Keys.partitionField(topic, partition);
    const lastOffset = Number(records[records.length - 1].offset);
    const users = [...plan.users.entries()];
    const appliedPerUser = await Promise.all(users.map(([u, recs]) => d.store.applyUser(u, field, d.cfg.recentItems, recs)));
    await d.store.applyPopularity(field, lastOffset, plan.popularity);
    stage('ingest');

    const applied = appliedPerUser.reduce((a, b) => a + b, 0);
    const replayed = onTime.length - applied;
    for (const { event } of onTime) d.metrics.eventsIn.inc({ type: event.type, outcome: 'valid' });
    if (replayed > 0) d.metrics.eventsIn.inc({ type: 'any', outcome: 'replayed' }, replayed);

    // Lists that changed, and every list of a replayed user (a crash may have come between apply and
    // produce); the source header lets consumers drop a duplicate.
    const out = await d.recommend.process(topic, partition, onTime, lastOffset);
    stage('recommend');
    crashPoint('after-apply');
    out.sort((a, b) => srcOffset(a) - srcOffset(b));
    await d.producer.send(d.topics.recommendations, out);
    stage('emit');
    crashPoint('after-produce');
    d.metrics.recommendationsOut.inc(out.length);
    const usersEmitted = out.length;
    const key = `${topic}:${partition}`;
    await d.store.writeProgress(topic, partition, lastOffset, this.progressWritten.get(key) ?? -1);
    this.progressWritten.set(key, lastOffset);
    stage('progress');
    return { applied, replayed, deadLettered: dead.length + late.size, usersEmitted };
  }
}

/** Times consecutive stages of one micro-batch into attune_stage_duration_seconds{stage}. */
function stageTimer(metrics: Metrics): (name: string) => void {
  let last = process.hrtime.bigint();
  return (name) => {
    const now = process.hrtime.bigint();
    metrics.stageSeconds.observe({ stage: name }, Number(now - last) / 1e9);
    last = now;
  };
}

function srcOffset(r: OutboundRecord): number {
  const h = r.headers?.['attune.source'] ?? '';
  return Number(h.slice(h.lastIndexOf(':') + 1));
}
