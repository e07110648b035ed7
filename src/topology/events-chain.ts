/**
 * The processor chain of the events topic, run once per micro-batch by the partition's task:
 *   decode → validate → dead-letter → segments → ingest → recommend → emit
 * between a write-ahead in-flight marker and the partition's progress. The stages are declared once
 * (`EVENT_STAGES`); the topology diagram is built from the same list. Every step is idempotent, so the task may
 * retry a whole micro-batch after a retriable error.
 */
import type { InboundRecord } from '../kafka/port.js';
import type { Metrics } from '../metrics/metrics.js';
import type { StateStore } from '../stores/state-store.js';
import type { RecommenderStore } from '../stages/recommend/store.js';
import { decodeStage, type DecodeDeps } from '../stages/decode/stage.js';
import { validateStage } from '../stages/validate/stage.js';
import { dedupeStage } from '../stages/dedupe/stage.js';
import { deadLetterStage } from '../stages/dead-letter/stage.js';
import { segmentsStage } from '../stages/segments/stage.js';
import { ingestStage } from '../stages/ingest/stage.js';
import { recommendStage } from '../stages/recommend/stage.js';
import { emitStage } from '../stages/emit/stage.js';
import { newEventBatch, type EventBatch, type Processor, type StageFactory } from './processor.js';
import type { DeadLetterSink } from '../stages/dead-letter/sink.js';
import type { SegmentProcessor } from '../stages/segments/processor.js';
import type { RecommendStage } from '../stages/recommend/processor.js';
import type { TopicNames } from '../config/config.js';
import type { StreamProducer } from '../kafka/port.js';

export interface EventsChainDeps extends DecodeDeps {
  topics: TopicNames;
  store: StateStore;
  producer: StreamProducer;
  /** Dead letters, written exactly once per source record. */
  deadLetters: DeadLetterSink;
  metrics: Metrics;
  segments: SegmentProcessor;
  recommend: RecommendStage;
  recommendStore: RecommenderStore;
  now?: () => number;
}

/** The events topic's stages, in order. */
export const EVENT_STAGES: ReadonlyArray<StageFactory<EventsChainDeps, EventBatch>> = [
  decodeStage, validateStage, dedupeStage, deadLetterStage, segmentsStage, ingestStage, recommendStage, emitStage,
];

export interface MicroBatchResult {
  applied: number;
  replayed: number;
  deadLettered: number;
  usersEmitted: number;
}

export class EventsChain {
  private readonly stages: Processor<EventBatch>[];
  private readonly now: () => number;
  /** The progress this worker wrote last per partition: Redis losing it means the state was lost. */
  private readonly progressWritten = new Map<string, number>();

  constructor(private readonly d: EventsChainDeps, stages = EVENT_STAGES) {
    this.stages = stages.map((s) => s.create(d));
    this.now = d.now ?? Date.now;
  }

  async process(topic: string, partition: number, records: InboundRecord[]): Promise<MicroBatchResult> {
    const { d } = this;
    const b = newEventBatch(topic, partition, records, this.now());
    const timed = stageTimer(d.metrics);
    // Write-ahead marker: if this micro-batch is cut short by a crash, the replay after it is cut at the same
    // offset, so that per-row "batch applied" checks stay exact (see stages/recommend/processor.ts).
    await d.recommendStore.markInflight(topic, partition, b.lastOffset);
    timed('inflight');
    for (const stage of this.stages) {
      await stage.process(b);
      timed(stage.node.name);
    }
    const key = `${topic}:${partition}`;
    await d.store.writeProgress(topic, partition, b.lastOffset, this.progressWritten.get(key) ?? -1);
    this.progressWritten.set(key, b.lastOffset);
    timed('progress');
    return { applied: b.applied, replayed: b.replayed, deadLettered: b.dead.length + b.lateCount, usersEmitted: b.out.length };
  }
}

/** Times consecutive steps of one micro-batch into attune_stage_duration_seconds{stage}. */
function stageTimer(metrics: Metrics): (name: string) => void {
  let last = process.hrtime.bigint();
  return (name) => {
    const now = process.hrtime.bigint();
    metrics.stageSeconds.observe({ stage: name }, Number(now - last) / 1e9);
    last = now;
  };
}
