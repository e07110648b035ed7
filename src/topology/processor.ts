/**
 * The one Processor interface of the topology (Kafka Streams terms): a stage of a source topic's chain gets the
 * micro-batch being processed, reads what earlier stages left in it, and adds its own output. Each stage declares
 * its node (the stores it keeps and the topics it writes), so the diagram `attune topology` prints is built from
 * the same list the runtime runs.
 */
import type { InboundRecord, OutboundRecord } from '../kafka/port.js';
import type { OffsetEvent } from '../stages/ingest/plan.js';

/** What the topology diagram shows of a stage. */
export interface NodeSpec {
  name: string;
  /** One line: what the stage does. */
  does: string;
  /** Key families of the stores it reads and writes (see stores/keys.ts). */
  stores: string[];
  /** Sink topics it produces to, by their role in TopicNames. */
  sinks: Array<'recommendations' | 'segmentChanges' | 'dlq'>;
}

/** One micro-batch of the events topic as it flows through the chain. */
export interface EventBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: InboundRecord[];
  readonly lastOffset: number;
  /** Wall-clock time at the start of the micro-batch (validation's plausibility checks). */
  readonly now: number;
  /** decode → validate: every decodable record's event, with the record (for its dead letter). */
  decoded: Array<OffsetEvent & { record: InboundRecord }>;
  /**
   * validate → rights: the events that passed validation (raw user ids). The rights stage replaces it with what
   * the per-user stages may see: user ids replaced by pseudonyms, events without consent or before a recorded
   * erasure removed, resets marked (see OffsetEvent).
   */
  valid: OffsetEvent[];
  /**
   * rights → recommend, emit: users (by pseudonym) whose personalization ends with this micro-batch — erased with
   * no later event, or personalization consent withdrawn and not granted again — with their real id (the record
   * key) and the offset of the event that ended it. Recommend computes and stores no list for them; emit sends a
   * tombstone (null value) keyed by the real id, with `attune.source` at that offset, instead of any list.
   */
  withdrawn: Map<string, { userId: string; offset: number }>;
  /** segments → ingest, recommend: the valid events that are not too late. */
  onTime: OffsetEvent[];
  /** segments → recommend: the segments each user of the micro-batch is in after it (experiments' eligibility). */
  segmentsOf: ReadonlyMap<string, readonly string[]>;
  /**
   * decode, validate → dead-letter: the records that can never be processed, with their source offsets; also
   * the records quarantined by failure isolation (PROCESS_FAILED), which no stage processes.
   */
  dead: Array<{ offset: number; record: OutboundRecord }>;
  /** Records dead-lettered by later stages (too late), counted in the result. */
  lateCount: number;
  /** ingest: records new to the state, and replays. */
  applied: number;
  replayed: number;
  /** recommend → emit: the recommendation records to produce. */
  out: OutboundRecord[];
  /** segments → emit: the segment change records, produced with the lists (one round trip for both topics). */
  segmentChanges: OutboundRecord[];
  /**
   * rights → the chain: the micro-batch must be cut before this offset (an identify whose user has an earlier event
   * in it, stages/rights/merge.ts); the stages after rights do not run, and the chain runs both parts anew.
   */
  cutBefore: number | null;
}

export interface Processor<B> {
  readonly node: NodeSpec;
  process(batch: B): Promise<void>;
}

/** A stage as declared in the topology: its node, and how to build its processor from the chain's dependencies. */
export interface StageFactory<D, B> {
  readonly node: NodeSpec;
  create(deps: D): Processor<B>;
}

/**
 * A micro-batch of `records`. `dead` pre-seeds the dead letters (records quarantined by failure isolation, not
 * in `records`: the dead-letter stage writes them with the others); `lastOffset` is the micro-batch's last offset
 * including those, so that the progress goes past them.
 */
export function newEventBatch(
  topic: string, partition: number, records: InboundRecord[], now: number,
  opts: { lastOffset?: number; dead?: Array<{ offset: number; record: OutboundRecord }> } = {},
): EventBatch {
  return {
    topic, partition, records, now,
    lastOffset: opts.lastOffset ?? Number(records[records.length - 1].offset),
    decoded: [], valid: [], withdrawn: new Map(), onTime: [], segmentsOf: new Map(), dead: [...(opts.dead ?? [])], lateCount: 0, applied: 0, replayed: 0, out: [], segmentChanges: [], cutBefore: null,
  };
}
