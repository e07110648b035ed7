/**
 * The worker's tasks, one per partition it has seen (Kafka Streams' task model), and the ownership state each
 * task holds for the current assignment generation: whether it is assigned, its fence token, whether a newer
 * owner fenced it out, where it must start, where crashed micro-batches were cut, and how far it got. Nothing of
 * this lives in worker-level maps; a new assignment starts a new generation of every task.
 */
import type { TopicPartitions } from '../kafka/port.js';
import { FencedError } from '../errors.js';
import { fenceField, runFenced } from '../stores/guard.js';
import { NO_RETRY, PartitionTask } from './partition-task.js';

export class Ownership {
  assigned = false;
  /** This worker's fence token, taken at the partition's first job after the assignment. */
  fence: number | undefined;
  /** A newer owner's token refused this worker: batches are dropped until the next assignment. */
  fencedOut = false;
  /**
   * Where the partition must start (its progress + 1, or the earliest retained offset). kafkajs may fetch a
   * batch from the committed offset before the seek lands; such a batch is dropped unprocessed, because applying
   * a later offset first would make the per-key offset checks skip the earlier ones.
   */
  startAt: string | undefined;
  /**
   * The in-flight cuts above the progress, ascending: attempts (micro-batches, or sub-batches of a bisection)
   * that a crash may have cut short ended at these offsets. No micro-batch of the replay crosses one.
   */
  recoveryCuts: number[] = [];
  /** The last offset this worker finished since the assignment (the watchdog's lag, known without Redis). */
  processedUpTo: number | undefined;
  /** Whether a micro-batch of this generation committed yet (the first commits at once: batch-handler.ts). */
  committed = false;

  /** A new generation: every partition takes a new token before it writes. The recovery cuts are positioning's. */
  reset(assigned: boolean): void {
    this.assigned = assigned;
    this.fence = undefined;
    this.fencedOut = false;
    this.startAt = undefined;
    this.processedUpTo = undefined;
    this.committed = false;
  }
}

export class Task extends PartitionTask<unknown> {
  readonly owner = new Ownership();
  get key(): string {
    return `${this.topic}:${this.partition}`;
  }
}

/** Takes a fence token for a partition (acquireFence-1.lua). */
export type AcquireFence = (topic: string, partition: number) => Promise<number>;

export class Tasks {
  private readonly all = new Map<string, Task>();
  constructor(private readonly acquireFence: AcquireFence) {}

  get(topic: string, partition: number): Task {
    const key = `${topic}:${partition}`;
    let task = this.all.get(key);
    if (!task) this.all.set(key, (task = new Task(topic, partition)));
    return task;
  }

  /** A new assignment generation: only the given partitions are assigned, and none holds a token yet. */
  assign(assigned: TopicPartitions[]): void {
    for (const t of this.all.values()) t.owner.reset(false);
    for (const { topic, partitions } of assigned) for (const p of partitions) this.get(topic, p).owner.reset(true);
  }

  /** The assigned partitions of a topic. */
  assignedPartitions(topic: string): number[] {
    const out: number[] = [];
    for (const t of this.all.values()) if (t.topic === topic && t.owner.assigned) out.push(t.partition);
    return out.sort((a, b) => a - b);
  }

  /**
   * Runs a job of the partition under this worker's fence token for it (every script it calls checks the
   * token). The token is taken at the partition's first job after an assignment; a partition no longer assigned
   * gets none, so a revoked worker's late job cannot take a new token and fence out the new owner.
   */
  async fenced<T>(task: Task, job: () => Promise<T>): Promise<T> {
    const { owner } = task;
    if (owner.fence === undefined) {
      if (!owner.assigned) throw new FencedError(`${task.key} is not assigned to this worker any more`);
      owner.fence = await this.acquireFence(task.topic, task.partition);
    }
    return runFenced({ field: fenceField(task.topic, task.partition), token: owner.fence }, job);
  }

  /** A side job of a partition (punctuation, rules re-evaluation): queued behind its micro-batches, fenced, not retried. */
  sideJob(topic: string, partition: number, job: () => Promise<unknown>): Promise<unknown> {
    const task = this.get(topic, partition);
    return task.submit(() => this.fenced(task, job), NO_RETRY);
  }

  closeAll(): void {
    for (const t of this.all.values()) t.close();
  }
}
