/**
 * The one retry policy of the worker: how long to wait before attempt n+1 of something that failed with an error
 * that may pass (Redis or the registry away, a broker moving a leader). The three waits the worker has are named
 * parameter sets of one function, so they read side by side and cannot drift apart in form:
 *
 *   TASK_BACKOFF       a partition task retrying a micro-batch    100 ms · 2^n, at most 10 s
 *   STARTUP_BACKOFF    start-up waiting for Redis to answer       200 ms · 2^n, at most 5 s
 *   RECONNECT_BACKOFF  ioredis reconnecting a lost connection     100 ms · n,   at most 2 s (short: Redis is
 *                      usually back within a second and every micro-batch waits on it)
 */
import { isRetriable as isRetriableError } from './errors.js';

export interface BackoffPolicy {
  /** The delay at attempt 1 is `baseMs · 2` when exponential, `baseMs` when linear. */
  baseMs: number;
  /** exponential: baseMs · 2^attempt; linear: baseMs · attempt. */
  growth: 'exponential' | 'linear';
  maxMs: number;
}

export const TASK_BACKOFF: BackoffPolicy = { baseMs: 100, growth: 'exponential', maxMs: 10_000 };
export const STARTUP_BACKOFF: BackoffPolicy = { baseMs: 200, growth: 'exponential', maxMs: 5_000 };
export const RECONNECT_BACKOFF: BackoffPolicy = { baseMs: 100, growth: 'linear', maxMs: 2_000 };

/** The delay in ms before retrying after failed attempt `attempt` (1 for the first failure). */
export function backoffMs(attempt: number, policy: BackoffPolicy = TASK_BACKOFF): number {
  const factor = policy.growth === 'exponential' ? 2 ** attempt : attempt;
  // 2 ** a large attempt is Infinity, which the cap turns back into maxMs.
  return Math.min(policy.maxMs, policy.baseMs * factor);
}

export interface UntilSuccessOptions {
  /** How long after the first call failures are still retried; the failure after that is thrown. */
  deadlineMs: number;
  /** Which failures may pass (default: a retriable AttuneError); any other is thrown at once. */
  isRetriable?: (err: unknown) => boolean;
  /** Called before each wait, e.g. to log that the worker is waiting and why. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  policy?: BackoffPolicy;
}

/**
 * Runs `fn` until it succeeds, retrying retriable failures with backoff until `deadlineMs` has passed; then (or on
 * a failure that is not retriable) throws the failure as it is. For start-up waits, where nothing else can go on
 * until the dependency answers; a running partition retries through its PartitionTask instead.
 */
export async function untilSuccess<T>(fn: () => Promise<T>, opts: UntilSuccessOptions): Promise<T> {
  const { isRetriable = isRetriableError, policy = STARTUP_BACKOFF } = opts;
  const deadline = Date.now() + opts.deadlineMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetriable(err) || Date.now() >= deadline) throw err;
      const delayMs = backoffMs(attempt, policy);
      opts.onRetry?.(err, attempt, delayMs);
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
