import { describe, it, expect, vi, afterEach } from 'vitest';
import { RECONNECT_BACKOFF, STARTUP_BACKOFF, TASK_BACKOFF, backoffMs, untilSuccess } from '../../src/retry.js';
import { ConfigError, StateStoreUnavailableError } from '../../src/errors.js';

describe('backoffMs', () => {
  it('keeps the three waits the worker had: task 100·2^n ≤ 10 s, start-up 200·2^n ≤ 5 s, reconnect 100·n ≤ 2 s', () => {
    for (let n = 0; n <= 1100; n++) {
      expect(backoffMs(n, TASK_BACKOFF)).toBe(Math.min(10_000, 100 * 2 ** Math.min(n, 10)));
      expect(backoffMs(n, STARTUP_BACKOFF)).toBe(Math.min(200 * 2 ** n, 5_000));
      expect(backoffMs(n, RECONNECT_BACKOFF)).toBe(Math.min(100 * n, 2_000));
    }
    expect([1, 2, 3, 7, 8].map((n) => backoffMs(n))).toEqual([200, 400, 800, 10_000, 10_000]); // the task's is the default
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, STARTUP_BACKOFF))).toEqual([400, 800, 1_600, 3_200, 5_000]);
    expect([1, 2, 19, 20, 500].map((n) => backoffMs(n, RECONNECT_BACKOFF))).toEqual([100, 200, 1_900, 2_000, 2_000]);
  });
});

describe('untilSuccess', () => {
  afterEach(() => vi.useRealTimers());
  const down = () => new StateStoreUnavailableError('Redis unavailable: connect ECONNREFUSED');

  it('retries retriable failures with the start-up backoff until the call succeeds', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const retries: Array<[number, number]> = [];
    const done = untilSuccess(async () => {
      if (++calls < 4) throw down();
      return 'answered';
    }, { deadlineMs: 60_000, onRetry: (_err, attempt, delayMs) => retries.push([attempt, delayMs]) });
    await vi.advanceTimersByTimeAsync(400 + 800 + 1_600);
    await expect(done).resolves.toBe('answered');
    expect(calls).toBe(4);
    expect(retries).toEqual([[1, 400], [2, 800], [3, 1_600]]);
  });

  it('throws a failure that is not retriable at once', async () => {
    const bad = new ConfigError('Redis maxmemory-policy must be noeviction', 'REDIS_EVICTION_POLICY');
    const onRetry = vi.fn();
    let calls = 0;
    await expect(untilSuccess(async () => { calls++; throw bad; }, { deadlineMs: 60_000, onRetry })).rejects.toBe(bad);
    expect(calls).toBe(1);
    expect(onRetry).not.toHaveBeenCalled();
  });

  it('throws the last failure as it is once the deadline has passed', async () => {
    vi.useFakeTimers();
    const errors: Error[] = [];
    const done = untilSuccess(async () => { const e = down(); errors.push(e); throw e; }, { deadlineMs: 1_000 });
    const settled = done.catch((e: unknown) => e);
    // Calls at 0 and 400 ms are retried; the one at 1 200 ms fails after the deadline (1 000 ms) and is thrown.
    await vi.advanceTimersByTimeAsync(400 + 800);
    expect(errors).toHaveLength(3);
    expect(await settled).toBe(errors[2]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(errors).toHaveLength(3);
  });

  it('takes its own test of what may pass and its own policy', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const delays: number[] = [];
    const done = untilSuccess(async () => { if (++calls < 3) throw new Error('Cluster isn\'t ready'); return calls; }, {
      deadlineMs: 10_000, isRetriable: (e) => e instanceof Error, policy: RECONNECT_BACKOFF, onRetry: (_e, _a, ms) => delays.push(ms),
    });
    await vi.advanceTimersByTimeAsync(300);
    await expect(done).resolves.toBe(3);
    expect(delays).toEqual([100, 200]);
  });
});
