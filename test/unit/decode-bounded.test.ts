/** The decoder's bounded structures: the unknown-id LRU and the lookup token bucket. */
import { describe, it, expect } from 'vitest';
import { ExpiringLru, TokenBucket } from '../../src/stages/decode/bounded.js';

describe('ExpiringLru', () => {
  it('keeps at most its capacity, dropping the least recently used', () => {
    const lru = new ExpiringLru<number, string>(3, 60_000);
    for (let i = 0; i < 10; i++) lru.set(i, `v${i}`);
    expect(lru.size).toBe(3);
    expect(lru.get(6)).toBeUndefined();
    expect(lru.get(7)).toBe('v7'); // 7 is now the most recent
    lru.set(10, 'v10');
    expect(lru.get(8)).toBeUndefined();
    expect(lru.get(7)).toBe('v7');
    expect(lru.size).toBe(3);
  });
  it('forgets entries after their time to live', () => {
    let t = 0;
    const lru = new ExpiringLru<string, number>(10, 1_000, () => t);
    lru.set('a', 1);
    t = 999;
    expect(lru.get('a')).toBe(1);
    t = 1_000;
    expect(lru.get('a')).toBeUndefined();
    expect(lru.size).toBe(0);
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then the rate', () => {
    let t = 0;
    const b = new TokenBucket(10, 3, () => t);
    expect([b.tryTake(), b.tryTake(), b.tryTake(), b.tryTake()]).toEqual([true, true, true, false]);
    expect(b.waitMs()).toBe(100);
    t = 50;
    expect(b.tryTake()).toBe(false);
    t = 100;
    expect(b.tryTake()).toBe(true);
    t = 10_000; // a long pause saves up at most the burst
    expect([b.tryTake(), b.tryTake(), b.tryTake(), b.tryTake()]).toEqual([true, true, true, false]);
  });
  it('take() waits for a token instead of failing', async () => {
    const b = new TokenBucket(20, 1);
    await b.take();
    const t0 = performance.now();
    await b.take();
    await b.take();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(80); // two tokens at 20/s ≈ 100 ms
  });
  it('take(maxWaitMs) gives up when no token comes in time, so a micro-batch never waits past a heartbeat', async () => {
    const b = new TokenBucket(2, 1);
    expect(await b.take(100)).toBe(true);
    const t0 = performance.now();
    expect(await b.take(100)).toBe(false); // the next token is 500 ms away
    expect(performance.now() - t0).toBeLessThan(100);
    expect(await b.take(1_000)).toBe(true);
  });
});
