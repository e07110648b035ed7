/**
 * Where each partition starts after an assignment. Redis holds the true position: every partition is sought to
 * the offset after its last applied micro-batch, or to the earliest retained offset when there is none (a new or
 * rebuilt state). Kafka's committed offset is only a hint. Attempts cut short by a crash (in-flight cuts above the
 * progress) make the replay cut its micro-batches at the same offsets.
 */
import type { PartitionBatch, StreamAdmin, StreamConsumer, TopicPartitions } from '../kafka/port.js';
import { errorMessage } from '../errors.js';
import { log } from '../log.js';
import type { Tasks } from './tasks.js';

export interface PositioningDeps {
  tasks: Tasks;
  eventsTopic: string;
  readProgress(topic: string, partition: number): Promise<number | null>;
  /** The in-flight cuts above the progress, ascending (RecommenderStore.readInflight). */
  readInflight(topic: string, partition: number, progress: number): Promise<number[]>;
  admin: Pick<StreamAdmin, 'startOffsets'>;
  consumer: Pick<StreamConsumer, 'seek'>;
}

export class Positioning {
  constructor(private readonly d: PositioningDeps) {}

  /** Seeks every assigned partition (call after `tasks.assign`). */
  async position(assigned: TopicPartitions[]): Promise<void> {
    const { d } = this;
    for (const { topic, partitions } of assigned) {
      let earliest: Map<number, string> | undefined; // asked only when a partition has no progress
      for (const p of partitions) {
        const owner = d.tasks.get(topic, p).owner;
        try {
          const progress = await d.readProgress(topic, p);
          if (topic === d.eventsTopic) {
            owner.recoveryCuts = await d.readInflight(topic, p, progress ?? -1);
          }
          const from = progress !== null
            ? String(progress + 1)
            : (earliest ??= await d.admin.startOffsets(topic).catch(() => new Map<number, string>())).get(p);
          if (from === undefined) continue;
          d.consumer.seek(topic, p, from);
          if (topic === d.eventsTopic) owner.startAt = from;
        } catch (err) {
          log.warn({ topic, partition: p, err: errorMessage(err) }, 'could not read partition progress; using the committed offset');
        }
      }
    }
  }

  /**
   * Whether the batch starts where its partition must start after the assignment. A batch fetched before the
   * seek landed is dropped (and the seek repeated); when retention deleted input that was never applied, the
   * partition goes on from the earliest retained offset, loudly.
   */
  async atStart(batch: PartitionBatch): Promise<boolean> {
    const { d } = this;
    if (batch.topic !== d.eventsTopic) return true;
    const owner = d.tasks.get(batch.topic, batch.partition).owner;
    const want = owner.startAt;
    const first = batch.records[0]?.offset;
    if (want === undefined || first === undefined || first === want) {
      owner.startAt = undefined;
      return true;
    }
    const low = (await d.admin.startOffsets(batch.topic)).get(batch.partition);
    if (low !== undefined && Number(low) > Number(want)) {
      log.error({ partition: batch.partition, from: want, earliest: low, lost: Number(low) - Number(want) }, 'input deleted by retention before it was applied: starting at the earliest retained offset');
      owner.startAt = low;
      d.consumer.seek(batch.topic, batch.partition, low);
      return false;
    }
    log.debug({ partition: batch.partition, first, want }, 'dropping a batch fetched before the seek landed');
    d.consumer.seek(batch.topic, batch.partition, want);
    return false;
  }
}
