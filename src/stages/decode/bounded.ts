/** Small bounded structures: an LRU with expiry (the decoder's schema lookups; with no expiry, the pseudonymizer's memo) and a token bucket. */

/** At most `capacity` entries, each forgotten `ttlMs` after it was set; the least recently used goes first. */
export class ExpiringLru<K, V> {
  private readonly map = new Map<K, { value: V; at: number }>();
  constructor(readonly capacity: number, private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    if (this.now() - e.at >= this.ttlMs) return undefined;
    this.map.set(key, e); // most recently used goes last
    return e.value;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, { value, at: this.now() });
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }

  get size(): number {
    return this.map.size;
  }
}

/**
 * `ratePerSecond` tokens a second, at most `burst` saved up. `take()` waits for a token instead of failing, so a
 * record whose lookup is throttled is delayed, never dead-lettered.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(private readonly ratePerSecond: number, private readonly burst: number, private readonly now: () => number = Date.now) {
    this.tokens = burst;
    this.last = now();
  }

  /** Milliseconds until a token is available (0: one is available now), without taking it. */
  waitMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }

  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Takes a token, waiting for it at most `maxWaitMs`; false when none came in time. Bounded because the caller
   * is a micro-batch: a wait longer than the group's session timeout without a heartbeat would cost the partitions.
   */
  async take(maxWaitMs = Infinity): Promise<boolean> {
    const deadline = this.now() + maxWaitMs;
    for (;;) {
      if (this.tryTake()) return true;
      const wait = Math.max(1, this.waitMs());
      if (this.now() + wait > deadline) return false;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSecond);
    this.last = t;
  }
}
