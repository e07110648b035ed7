/**
 * Writes a partition's dead letters exactly once per source record, across crashes and replays: the offsets
 * already dead-lettered are kept with the state (`{p}:dlq`, markDeadLetters-1.lua), and when a worker died between
 * announcing a produce and recording it done, the dead-letter topic is read back — from the time the produce
 * began, not from its start — to see which records landed. The read-back happens only in that window's aftermath,
 * so the normal cost is two small scripts per micro-batch that has dead letters, and nothing for the others.
 *
 * Every copy is cut to fit a produce request (fitDeadLetter: value first, header `attune.value.truncated`), and
 * the producer cuts the produce into requests by bytes, so a burst of oversized records cannot make a produce the
 * broker refuses.
 */
import type { OutboundRecord, StreamProducer } from '../../kafka/port.js';
import type { StateStore } from '../../stores/state-store.js';
import type { ReadRecord } from '../../output/read-topic.js';
import { log } from '../../log.js';
import { crashPoint } from '../../topology/crash-points.js';
import { dropValue, fitDeadLetter } from './record.js';

/**
 * The stage that dead-lettered a record (a record is dead-lettered by one stage only). Each keeps its own marks,
 * because each writes its records in offset order: decode (decode and validate), late (segments' too-late
 * events), process (records isolated by bisection: a bisection revisits offsets below ones decode already wrote).
 */
export type DeadLetterStage = 'decode' | 'late' | 'process';

/** How far before the recorded begin time the read-back starts: the record timestamps are the producer's clock
 *  too, so this only covers the time between taking the timestamp and the client stamping the records. */
export const READ_BACK_MARGIN_MS = 5_000;

export interface DeadLetterSinkDeps {
  store: StateStore;
  producer: StreamProducer;
  dlqTopic: string;
  /**
   * Reads the dead-letter topic from the records timestamped at or after `sinceMs` (all of it when undefined) to
   * its end (recovery only); rejects with a retriable error on a timeout.
   */
  readBack: (sinceMs?: number) => Promise<ReadRecord[]>;
  /** The largest dead-letter record produced (kafka/chunk.ts maxRecordBytes of the request cap). */
  maxRecordBytes: number;
  /** ATTUNE_DLQ_VALUES=drop: copies without the original key and value (record.ts dropValue). */
  dropValues?: boolean;
  now?: () => number;
}

export class DeadLetterSink {
  constructor(private readonly d: DeadLetterSinkDeps) {}

  /** Produces what was not produced before of `records` (built by deadLetter()); returns what it produced. */
  async send(topic: string, partition: number, stage: DeadLetterStage, records: OutboundRecord[]): Promise<OutboundRecord[]> {
    if (records.length === 0) return [];
    const { d } = this;
    const marks = await d.store.deadLetterMarks(topic, partition, stage);
    let todo = records.filter((r) => sourceOffset(r) > marks.done);
    const last = Math.max(...records.map(sourceOffset));
    if (marks.pending !== null && todo.some((r) => sourceOffset(r) <= marks.pending!)) {
      // The previous attempt died between announcing and recording its produce: keep only what did not land.
      const since = marks.pendingAt === null ? undefined : marks.pendingAt - READ_BACK_MARGIN_MS;
      const landed = new Set(
        (await d.readBack(since))
          .filter((r) => r.headers['attune.source.topic'] === topic && r.headers['attune.source.partition'] === String(partition))
          .map((r) => Number(r.headers['attune.source.offset'])),
      );
      const before = todo.length;
      todo = todo.filter((r) => !landed.has(sourceOffset(r)));
      log.info({ topic, partition, stage, alreadyWritten: before - todo.length }, 'dead letters read back after a crash');
    }
    if (last <= marks.done) return [];
    if (todo.length) {
      todo = todo.map((r) => fitDeadLetter(d.dropValues ? dropValue(r) : r, d.maxRecordBytes));
      await d.store.markDeadLetters(topic, partition, 'begin', stage, last, (d.now ?? Date.now)());
      await d.producer.send(d.dlqTopic, todo);
      crashPoint('after-dlq');
    }
    await d.store.markDeadLetters(topic, partition, 'end', stage, last);
    return todo;
  }
}

function sourceOffset(r: OutboundRecord): number {
  return Number(r.headers?.['attune.source.offset']);
}
