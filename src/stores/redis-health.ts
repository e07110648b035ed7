/**
 * A background PING of every Redis master (one for a single Redis), so that /readyz reports Redis unreachable
 * even while no micro-batch is running. A PING that fails or takes longer than `timeoutMs` marks Redis down
 * until the next one succeeds.
 */
import { masters, type RedisClient } from './redis-client.js';
import { redisReason } from './redis-errors.js';

export class RedisHealth {
  ok = true;
  lastError = '';
  /** Wall-clock ms when Redis was first seen down in the current outage (null while up). */
  downSince: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly redis: RedisClient, private readonly opts: { everyMs: number; timeoutMs: number; onChange?: (ok: boolean, why: string) => void }) {}

  start(): void {
    this.timer = setInterval(() => void this.probe(), this.opts.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async probe(): Promise<boolean> {
    if (this.running) return this.ok;
    this.running = true;
    try {
      const nodes = masters(this.redis);
      if (nodes.length === 0) throw new Error('no Redis Cluster master known');
      await withTimeout(Promise.all(nodes.map((n) => n.ping())), this.opts.timeoutMs);
      this.set(true, '');
    } catch (err) {
      // /readyz says "Redis unreachable: <reason>": the reason is what Redis said, not the mapping's wording.
      this.set(false, redisReason(err));
    } finally {
      this.running = false;
    }
    return this.ok;
  }

  private set(ok: boolean, why: string) {
    this.lastError = why;
    if (ok === this.ok) return;
    this.ok = ok;
    this.downSince = ok ? null : Date.now();
    this.opts.onChange?.(ok, why);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => { t = setTimeout(() => reject(new Error(`PING took longer than ${ms} ms`)), ms); }),
  ]);
}
