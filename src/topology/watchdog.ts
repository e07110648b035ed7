/**
 * The watchdog: a worker that makes no progress for `timeoutMs` while it has work to do exits non-zero, so its
 * supervisor (systemd, Kubernetes) restarts it, instead of hanging silently (kafkajs reconnect loops and hangs,
 * a consumer that crashed and never came back, Redis gone for longer than an outage should last).
 *
 * The core (`WatchdogCore`) is pure: it is fed observations with their time and answers "stalled, because ...".
 *  - progress: a micro-batch finished (its offsets resolved).
 *  - lag: the records waiting on this worker's events partitions (end offset - applied progress - 1), from a
 *    periodic probe; a failed probe keeps the last known value (a broker or Redis that cannot be asked does not
 *    make the work disappear).
 *  - membership: whether the consumer is in the group (joined, not crashed).
 * Stalled when, for `timeoutMs`: lag > 0 and no progress since the lag appeared or since the last progress,
 * whichever is later; or the consumer was out of the group (never joined, or crashed) all that time.
 */
export interface WatchdogVerdict {
  stalled: boolean;
  reason: string;
}

export class WatchdogCore {
  private lastProgress: number;
  private lag = 0;
  private lagSince: number | null = null;
  private outOfGroupSince: number | null;
  private outReason = 'has not joined the consumer group yet';

  constructor(readonly timeoutMs: number, now: number) {
    this.lastProgress = now;
    this.outOfGroupSince = now;
  }

  progress(now: number): void {
    this.lastProgress = Math.max(this.lastProgress, now);
  }

  /** The lag probe's answer; `null` when the probe failed (the last known lag stays). */
  observeLag(now: number, lag: number | null): void {
    if (lag === null) return;
    if (lag > 0 && this.lag <= 0) this.lagSince = now;
    if (lag <= 0) this.lagSince = null;
    this.lag = lag;
  }

  joined(): void {
    this.outOfGroupSince = null;
  }

  left(now: number, reason: string): void {
    if (this.outOfGroupSince === null) this.outOfGroupSince = now;
    this.outReason = reason;
  }

  check(now: number): WatchdogVerdict {
    if (this.timeoutMs <= 0) return { stalled: false, reason: '' };
    if (this.outOfGroupSince !== null && now - this.outOfGroupSince >= this.timeoutMs) {
      return { stalled: true, reason: `the consumer ${this.outReason} and has been out of the group for ${now - this.outOfGroupSince} ms (limit ${this.timeoutMs} ms)` };
    }
    if (this.lag > 0 && this.lagSince !== null) {
      const since = Math.max(this.lastProgress, this.lagSince);
      if (now - since >= this.timeoutMs) {
        return { stalled: true, reason: `no micro-batch finished for ${now - since} ms while ${this.lag} records wait on this worker's partitions (limit ${this.timeoutMs} ms)` };
      }
    }
    return { stalled: false, reason: '' };
  }
}

/**
 * Runs the core on a timer: every `everyMs` asks `probeLag` (null when the probe fails) and checks; on a stall
 * calls `onStall` once with the reason (the worker logs it and exits non-zero).
 */
export function runWatchdog(core: WatchdogCore, opts: {
  everyMs: number;
  probeLag: () => Promise<number | null>;
  onStall: (reason: string) => void;
  now?: () => number;
}): { stop(): void } {
  const now = opts.now ?? Date.now;
  let busy = false;
  let fired = false;
  const timer = setInterval(() => {
    if (busy || fired) return;
    busy = true;
    opts.probeLag()
      .catch(() => null)
      .then((lag) => {
        core.observeLag(now(), lag);
        const v = core.check(now());
        if (v.stalled && !fired) {
          fired = true;
          opts.onStall(v.reason);
        }
      })
      .finally(() => { busy = false; });
  }, opts.everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
