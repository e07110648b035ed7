/**
 * One task per assigned partition (the Kafka Streams model). A task is an RxJS pipeline over micro-batches:
 * `concatMap` keeps them in offset order with at most one in flight, and a retriable failure (Redis or the
 * registry away, a produce timing out) retries the same micro-batch with exponential backoff — safe because
 * every step is idempotent. A non-retriable failure surfaces to the runner.
 */
import { Subject, concatMap, defer, retry, timer, throwError, type Subscription } from 'rxjs';
import { isRetriable } from '../errors.js';
import { backoffMs } from '../retry.js';

export interface TaskHooks {
  /** Called while waiting to retry (keep the group membership alive, flag not-ready). */
  onRetry(err: unknown, attempt: number, delayMs: number): void | Promise<void>;
  /** Retrying stops when this turns false (the consumer is stopping or the partition was revoked). */
  shouldContinue(): boolean;
  onRecovered(): void;
}

/** Hooks of a side job (punctuation, rules re-evaluation): no retry; it is tried again later. */
export const NO_RETRY: TaskHooks = { shouldContinue: () => false, onRetry: () => {}, onRecovered: () => {} };

interface Job<R> {
  run: () => Promise<R>;
  hooks: TaskHooks;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

// The one backoff function (src/retry.ts); a task retries with its TASK_BACKOFF policy, the default.
export { backoffMs };

export class PartitionTask<R> {
  private readonly jobs = new Subject<Job<R>>();
  private readonly sub: Subscription;

  constructor(readonly topic: string, readonly partition: number) {
    this.sub = this.jobs
      .pipe(
        concatMap(
          (job) =>
            // Settle the caller's promise; one job's error never ends the task's stream.
            new Promise<void>((done) => {
              let failed = false;
              defer(job.run)
                .pipe(
                  retry({
                    delay: (err, attempt) => {
                      if (!isRetriable(err) || !job.hooks.shouldContinue()) return throwError(() => err);
                      failed = true;
                      const ms = backoffMs(attempt);
                      void job.hooks.onRetry(err, attempt, ms);
                      return timer(ms);
                    },
                  }),
                )
                .subscribe({
                  next: (r) => {
                    if (failed) job.hooks.onRecovered();
                    job.resolve(r);
                  },
                  error: (e) => {
                    job.reject(e);
                    done();
                  },
                  complete: () => done(),
                });
            }),
        ),
      )
      .subscribe();
  }

  /** Queues a micro-batch; resolves when it is done (or rejects with a non-retriable error). */
  submit(run: () => Promise<R>, hooks: TaskHooks): Promise<R> {
    return new Promise<R>((resolve, reject) => this.jobs.next({ run, hooks, resolve, reject }));
  }

  close(): void {
    this.jobs.complete();
    this.sub.unsubscribe();
  }
}
