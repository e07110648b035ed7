/**
 * The consumer's batch handler: one fetched batch of one partition is cut into micro-batches, each run as a job
 * of the partition's task under its fence token. Only offsets whose micro-batch finished are resolved and
 * committed (after each micro-batch, as often as the commit interval allows). A lost or rebuilt state stops
 * everything (state-loss.ts); a fence refusal drops the rest of the batch unresolved (the new owner replays it);
 * stopping or a revocation leaves the rest for the next owner.
 *
 * A micro-batch that fails with any other non-retriable error (a script bug, a RangeError, a corrupt stored JSON
 * blob, an output the broker refuses) is isolated (isolation.ts): retried a few times, then bisected down to the
 * records that fail alone, which are dead-lettered with code PROCESS_FAILED while the rest is applied. A partition
 * never stops on one record.
 */
import type { BatchHandler, InboundRecord, PartitionBatch } from '../kafka/port.js';
import type { Metrics } from '../metrics/metrics.js';
import { errorMessage, FencedError } from '../errors.js';
import { log } from '../log.js';
import type { TaskHooks } from './partition-task.js';
import { isStateError } from './state-loss.js';
import type { StateLostError, StateRebuiltError } from '../errors.js';
import type { Task, Tasks } from './tasks.js';
import { Isolation, type Quarantine } from './isolation.js';
import { partitionLagAt } from '../kafka/lag.js';

export type { Quarantine } from './isolation.js';

/**
 * Runs one micro-batch of a topic's records (the topic's processor chain). Records in `quarantine` (offset →
 * the error they failed with alone) are not processed: the chain dead-letters them (PROCESS_FAILED) and its
 * progress still goes past them.
 */
export type ChainRunner = (topic: string, partition: number, records: InboundRecord[], quarantine?: Quarantine) => Promise<unknown>;

export interface BatchHandlerDeps {
  tasks: Tasks;
  /** The processor chain of each source topic. */
  chains: ReadonlyMap<string, ChainRunner>;
  microBatchSize: number;
  metrics: Metrics;
  /** Resolves when the latest assignment's seeks are done. */
  positioned(): Promise<void>;
  /** False when the batch must be dropped because it does not start where the partition must (positioning.ts). */
  atStart(batch: PartitionBatch): Promise<boolean>;
  retryHooks(batch: PartitionBatch): TaskHooks;
  onStateError(err: StateLostError | StateRebuiltError, where: string): void;
  /** A micro-batch finished (the watchdog's progress). */
  onProgress(task: Task, lastOffset: number): void;
  /** Wait of a fenced-out partition between heartbeats (ms). */
  fencedPauseMs?: number;
  /** Retries of a micro-batch that failed with a non-retriable error before it is bisected (default 2). */
  isolationRetries?: number;
  /** Waits between those retries (tests shorten it). */
  sleep?: (ms: number) => Promise<void>;
}

export function createBatchHandler(d: BatchHandlerDeps): BatchHandler {
  const isolation = new Isolation({ metrics: d.metrics, retries: d.isolationRetries, sleep: d.sleep });
  return async (batch) => {
    const task = d.tasks.get(batch.topic, batch.partition);
    const chain = d.chains.get(batch.topic);
    if (!chain) throw new Error(`no processor chain for topic ${batch.topic}`);
    const hooks = d.retryHooks(batch);
    await d.positioned();
    if (task.owner.fencedOut) {
      // Revoked, and the coordinator has not told this worker yet: heartbeat (which brings the rebalance) and
      // wait a little rather than fetch, drop and fetch the same records in a tight loop.
      await batch.heartbeat().catch(() => {});
      await new Promise((r) => setTimeout(r, d.fencedPauseMs ?? 250));
      return;
    }
    if (!(await d.atStart(batch))) return;
    const reportLag = (next: number) => {
      // A revoked partition's series went with the assignment (its new owner reports it): do not bring it back.
      if (!task.owner.assigned) return;
      const at = partitionLagAt(batch.records, next, batch.highWatermark);
      d.metrics.consumerLag.update(batch.topic, batch.partition, at.records, at.oldestMs);
    };
    reportLag(0);
    const run = (records: InboundRecord[], quarantine?: Quarantine) =>
      task.submit(() => d.tasks.fenced(task, () => chain(batch.topic, batch.partition, records, quarantine)), hooks);
    for (let i = 0; i < batch.records.length; ) {
      if (!batch.isRunning() || batch.isStale()) break;
      const chunk = microBatch(batch.records, i, d.microBatchSize, task.owner.recoveryCuts);
      i += chunk.length;
      const started = process.hrtime.bigint();
      try {
        await isolation.run(batch, chunk, run);
      } catch (err) {
        if (isStateError(err)) {
          d.onStateError(err, task.key);
          return; // nothing more is applied, resolved or committed by this worker
        }
        if (err instanceof FencedError) {
          // A newer owner wrote: this worker was revoked. Drop the rest unresolved; the owner replays it.
          d.metrics.fenced.inc();
          task.owner.fencedOut = true;
          log.warn({ topic: batch.topic, partition: batch.partition, err: errorMessage(err) }, 'fenced: dropping the rest of the batch');
          break;
        }
        if (!batch.isRunning() || batch.isStale()) break; // stopping: leave the rest for the next owner
        throw err; // isolation gave up: even the dead letter of a lone failing record could not be written
      }
      const last = chunk[chunk.length - 1].offset;
      task.owner.recoveryCuts = cutsAfter(task.owner.recoveryCuts, Number(last));
      batch.resolveOffset(last);
      d.onProgress(task, Number(last));
      d.metrics.batchSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      d.metrics.batchRecords.observe(chunk.length);
      reportLag(i);
      await batch.heartbeat();
      // Commit as the micro-batches finish (when the commit interval is due), not only after the whole fetched
      // batch: a fetch brings up to 2 MB per partition, minutes of work in a backlog, during which the group's
      // committed lag (attune lag, the ops page, a bench's "first commit") would otherwise stand still, and a
      // crash would make the next owner fetch all of it again (positioning skips what is applied, but the
      // records are read and decoded anew). The first micro-batch of an assignment commits at once, so that the
      // new owner shows progress right after it starts; the last micro-batch's is the commit after the loop.
      const first = !task.owner.committed;
      task.owner.committed = true;
      if (first || i < batch.records.length) await batch.commit(first);
    }
    await batch.commit();
  };
}

/**
 * The next micro-batch from `start`: at most `size` records, and never across a recovery cut (a record at the
 * first cut at or above the start offset ends the micro-batch), so a replay after a crash has the boundaries of
 * the cut-short attempts. `cuts` ascending; a single number is one cut.
 */
export function microBatch<T extends { offset: string }>(records: T[], start: number, size: number, cuts?: readonly number[] | number): T[] {
  let end = Math.min(records.length, start + size);
  const list = cuts === undefined ? [] : typeof cuts === 'number' ? [cuts] : cuts;
  const from = start < records.length ? Number(records[start].offset) : Infinity;
  const cut = list.find((c) => c >= from);
  if (cut !== undefined) {
    for (let k = start; k < end; k++) {
      if (Number(records[k].offset) >= cut) { end = k + 1; break; }
    }
  }
  return records.slice(start, end);
}

/** The recovery cuts still ahead once everything up to `last` is applied. */
export function cutsAfter(cuts: readonly number[], last: number): number[] {
  return cuts.filter((c) => c > last);
}
