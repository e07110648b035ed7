/**
 * Failure isolation: a partition never stops on one record. A micro-batch that fails with a non-retriable error
 * that is not a record's own (those are dead-lettered by decode and validate) — a Lua script error, a RangeError
 * from an out-of-range date, a corrupt stored JSON blob, an output record the broker refuses — is
 *
 *   1. retried a few times with the task backoff (src/retry.ts), in case it was not deterministic;
 *   2. bisected: each half runs on its own, a failing half is bisected again, down to single records;
 *   3. a single record that still fails alone is quarantined: the chain runs it with the record marked
 *      (offset → error), dead-letters it with code PROCESS_FAILED (stage `process`, the error's class and a
 *      truncated, user-id-free message) and moves the partition's progress past it.
 *
 * Errors that are not the records' — retriable ones (the task retries those itself), a fence refusal, a lost or
 * rebuilt state — and stopping or a revocation are passed to the batch handler unchanged, at any depth.
 *
 * Exactly once. Every run (the micro-batch, a retry, each half) is an ordinary micro-batch of the chain: it adds
 * its last offset to the partition's in-flight cuts before it writes, its per-record gates skip what an earlier
 * attempt applied, and its batch-level gates are exact because halves are sub-intervals of the failed attempt and
 * run in offset order (the laminar argument in events-chain.ts). A quarantined record's dead letter goes through
 * the DeadLetterSink like every other, so it is written once across crashes. What a lone failing record changed
 * before the step that failed (e.g. its counts, written by ingest before recommend threw) stays applied; its dead
 * letter names the error so that it can be replayed after a fix.
 *
 * A systemic failure (every record fails alone: a script bug, Redis refusing a command) dead-letters every record
 * it meets, each logged at error level with the running count, and costs about two runs per record. We still
 * prefer that to a stalled partition: a stalled partition stops every user of it (and, with kafkajs's crash loop,
 * the whole group), while dead letters keep the records and their reasons for a replay once the cause is fixed,
 * and the error logs and attune_isolated_records_total make it loud.
 */
import type { InboundRecord, PartitionBatch } from '../kafka/port.js';
import type { Metrics } from '../metrics/metrics.js';
import { FencedError, isRetriable } from '../errors.js';
import { log } from '../log.js';
import { backoffMs } from '../retry.js';
import { safeMessage } from '../stages/dead-letter/record.js';
import { isStateError } from './state-loss.js';
import { markBisection } from './crash-points.js';

/** Records a chain must dead-letter instead of processing: offset → the error the record failed with alone. */
export type Quarantine = ReadonlyMap<string, unknown>;

export type RunRecords = (records: InboundRecord[], quarantine?: Quarantine) => Promise<unknown>;

export interface IsolationDeps {
  metrics: Metrics;
  /** Retries of the whole micro-batch before bisecting (default 2). */
  retries?: number;
  sleep?: (ms: number) => Promise<void>;
}

export class Isolation {
  private readonly retries: number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Records isolated per partition since this worker started (logged with each, so a systemic failure is loud). */
  private readonly isolated = new Map<string, number>();

  constructor(private readonly d: IsolationDeps) {
    this.retries = d.retries ?? 2;
    this.sleep = d.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** Runs the micro-batch; on a failure that is not an outage, fence or state loss, isolates the failing records. */
  async run(batch: PartitionBatch, chunk: InboundRecord[], run: RunRecords): Promise<void> {
    let failure: unknown;
    try {
      return void (await run(chunk));
    } catch (err) {
      if (!this.isolatable(batch, err)) throw err;
      failure = err;
    }
    for (let attempt = 1; attempt <= this.retries; attempt++) {
      const ms = backoffMs(attempt);
      log.warn({ topic: batch.topic, partition: batch.partition, from: chunk[0].offset, to: chunk[chunk.length - 1].offset, attempt, retryInMs: ms, err: errorClass(failure) }, 'micro-batch failed with a non-retriable error; retrying before isolating the failing records');
      await batch.heartbeat().catch(() => {});
      await this.sleep(ms);
      try {
        return void (await run(chunk));
      } catch (err) {
        if (!this.isolatable(batch, err)) throw err;
        failure = err;
      }
    }
    markBisection(true);
    try {
      await this.bisect(batch, chunk, failure, run);
    } finally {
      markBisection(false);
    }
  }

  private async bisect(batch: PartitionBatch, records: InboundRecord[], failure: unknown, run: RunRecords): Promise<void> {
    if (records.length === 1) return this.quarantine(batch, records[0], failure, run);
    const mid = Math.ceil(records.length / 2);
    for (const half of [records.slice(0, mid), records.slice(mid)]) {
      await batch.heartbeat().catch(() => {});
      try {
        await run(half);
      } catch (err) {
        if (!this.isolatable(batch, err)) throw err;
        await this.bisect(batch, half, err, run);
      }
    }
  }

  private async quarantine(batch: PartitionBatch, record: InboundRecord, failure: unknown, run: RunRecords): Promise<void> {
    const key = `${batch.topic}:${batch.partition}`;
    const count = (this.isolated.get(key) ?? 0) + 1;
    this.isolated.set(key, count);
    this.d.metrics.isolated.inc({ topic: batch.topic });
    // No user id: the offset finds the record, the message is cleaned of the key and of quoted input.
    log.error(
      { topic: batch.topic, partition: batch.partition, offset: record.offset, errClass: errorClass(failure), err: safeMessage(failure, record), at: codeFrames(failure), isolatedOnPartition: count },
      'a record fails alone with a non-retriable error: dead-lettered with code PROCESS_FAILED, the rest of its micro-batch is applied',
    );
    await run([record], new Map([[record.offset, failure]]));
  }

  private isolatable(batch: PartitionBatch, err: unknown): boolean {
    if (isRetriable(err) || err instanceof FencedError || isStateError(err)) return false;
    return batch.isRunning() && !batch.isStale();
  }
}

function errorClass(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

/**
 * Where a failure was thrown: the first stack frames (code locations only, never the message, which may quote
 * input), so an isolated record's log line says which step failed.
 */
function codeFrames(err: unknown, n = 6): string[] {
  const stack = err instanceof Error ? err.stack ?? '' : '';
  return stack.split('\n').filter((l) => l.startsWith('    at ')).slice(0, n).map((l) => l.trim());
}
