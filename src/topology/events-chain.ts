/**
 * The processor chain of the events topic, run once per micro-batch by the partition's task:
 *   decode → validate → dedupe → dead-letter → rights → segments → ingest → recommend → emit → erase
 * between a write-ahead in-flight cut and the partition's progress. The rights stage may ask for the micro-batch
 * to be cut before an identify event (`cut` below). The stages are declared once
 * (`EVENT_STAGES`); the topology diagram is built from the same list. Every step is idempotent, so the task may
 * retry a whole micro-batch after a retriable error, and failure isolation (isolation.ts) may run its halves.
 *
 * Why the in-flight marker is a set of cuts. Co-occurrence rows and popularity are written with batch-level gates
 * (includes/offset-gate.lua `applyBatchOnce`): a row stores the last offset of the micro-batch it applied, and a
 * call whose batchLast is at or below it is skipped. Claim: with the rules below, a replay applies to a row
 * exactly the records the row does not hold.
 *   (1) every attempt [s..e] — a micro-batch, a retry, a half of a bisection — adds e to the partition's cuts
 *       before it writes anything (markInflight), and cuts below s are pruned (everything before s is applied);
 *   (2) a micro-batch never crosses a cut: it ends at the first cut at or above its start (microBatch);
 *   (3) a row write is atomic (one script call holds all of an attempt's deltas for that row).
 * Take a replayed micro-batch [s'..e'] and a row whose gate is g. If e' ≤ g the row is skipped: it holds the
 * records of the attempt that set g, which ended at g ≥ e'; [s'..e'] ⊆ [.., g] since attempts start at the
 * progress + 1 ≤ s' — so nothing is lost. If e' > g, suppose the row held a record of [s'..e']: some attempt
 * [sA..eA] with eA ≤ g wrote it, so eA ≥ s' (it holds a record ≥ s'), and eA is a cut above the progress by (1);
 * by (2) the replay ends at or before the first cut at or above s', so e' ≤ eA ≤ g: a contradiction. So the row
 * holds none of [s'..e'] and applying all of it is exact. A single marker (the highest cut) breaks (2) once a
 * bisection ran: attempt [a..z] fails, half [a..m] writes rows with gate m, a crash; a replay cut only at z
 * re-applies [a..m] to those rows. Bisection makes only sub-intervals of the failing attempt, so the cuts stay
 * laminar and the replay's micro-batches are exactly the intervals between consecutive cuts.
 * test/unit/inflight-cuts.test.ts checks the claim by brute force over crash schedules.
 */
import type { InboundRecord, OutboundRecord } from '../kafka/port.js';
import { processFailed } from '../stages/dead-letter/record.js';
import type { Quarantine } from './isolation.js';
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
import { eraseStage, rightsStage, type RightsRuntime } from '../stages/rights/stage.js';
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
  /** Users' rights (stages/rights/): pseudonyms, the erasure ledger, the subjects, identities. */
  rights: RightsRuntime;
  now?: () => number;
}

/** The events topic's stages, in order. */
export const EVENT_STAGES: ReadonlyArray<StageFactory<EventsChainDeps, EventBatch>> = [
  decodeStage, validateStage, dedupeStage, deadLetterStage, rightsStage, segmentsStage, ingestStage, recommendStage, emitStage, eraseStage,
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

  /** Runs one micro-batch; records in `quarantine` are dead-lettered (PROCESS_FAILED) instead of processed. */
  async process(topic: string, partition: number, records: InboundRecord[], quarantine?: Quarantine): Promise<MicroBatchResult> {
    const { d } = this;
    const now = this.now();
    const dead: Array<{ offset: number; record: OutboundRecord }> = [];
    const todo = quarantine?.size ? records.filter((r) => !quarantine.has(r.offset)) : records;
    for (const r of quarantine?.size ? records : []) {
      if (quarantine!.has(r.offset)) dead.push({ offset: Number(r.offset), record: processFailed(r, quarantine!.get(r.offset), { topic, partition, groupId: d.cfg.groupId }, now) });
    }
    const b = newEventBatch(topic, partition, todo, now, { lastOffset: Number(records[records.length - 1].offset), dead });
    const timed = stageTimer(d.metrics);
    // Write-ahead cut: if this attempt is cut short by a crash, the replay after it is cut at the same offset, so
    // that per-row "batch applied" checks stay exact (the argument above).
    await d.recommendStore.markInflight(topic, partition, b.lastOffset, Number(records[0].offset));
    timed('inflight');
    for (const stage of this.stages) {
      await stage.process(b);
      timed(stage.node.name);
      if (b.cutBefore !== null) return this.cut(topic, partition, records, b.cutBefore, quarantine);
    }
    const key = `${topic}:${partition}`;
    await d.store.writeProgress(topic, partition, b.lastOffset, this.progressWritten.get(key) ?? -1);
    this.progressWritten.set(key, b.lastOffset);
    timed('progress');
    return { applied: b.applied, replayed: b.replayed, deadLettered: b.dead.length + b.lateCount, usersEmitted: b.out.length };
  }

  /**
   * The rights stage asked for a cut before `at` (an identify whose user has an earlier event in the micro-batch:
   * its snapshot must be the state before the identify, stages/rights/merge.ts): the records before it, then the
   * rest, each as an attempt of its own. What ran of this attempt wrote nothing a re-run decides differently
   * (dedupe and dead letters answer a re-run from their bookkeeping); each part marks its own in-flight cut, a
   * sub-interval of this attempt's, so the cut set stays laminar (the header's argument) and a replay after a crash
   * has the same boundaries.
   */
  private async cut(topic: string, partition: number, records: InboundRecord[], at: number, quarantine?: Quarantine): Promise<MicroBatchResult> {
    const before = records.filter((r) => Number(r.offset) < at);
    const rest = records.filter((r) => Number(r.offset) >= at);
    if (before.length === 0) throw new Error(`cut before offset ${at} at the start of the micro-batch: nothing to run before it`);
    const a = await this.process(topic, partition, before, quarantine);
    const b = await this.process(topic, partition, rest, quarantine);
    return { applied: a.applied + b.applied, replayed: a.replayed + b.replayed, deadLettered: a.deadLettered + b.deadLettered, usersEmitted: a.usersEmitted + b.usersEmitted };
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
