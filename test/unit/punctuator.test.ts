import { describe, it, expect } from 'vitest';
import { Punctuator } from '../../src/topology/punctuator.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('punctuator', () => {
  it('punctuates every partition once per tick, and skips a partition whose punctuation is still in flight', async () => {
    const runs: number[] = [];
    const release = new Map<number, () => void>();
    const p = new Punctuator({
      everyMs: 1_000,
      partitions: () => [0, 1],
      submit: (n) => { runs.push(n); return new Promise<void>((r) => release.set(n, r)); },
      onError: () => {},
      isStopping: () => false,
    });
    p.tick();
    p.tick(); // both still in flight
    expect(runs).toEqual([0, 1]);
    release.get(0)!();
    await tick();
    p.tick();
    expect(runs).toEqual([0, 1, 0]);
  });

  it('hands a failure to onError and tries the partition again at the next tick', async () => {
    const errors: string[] = [];
    let calls = 0;
    const p = new Punctuator({
      everyMs: 1_000,
      partitions: () => [4],
      submit: async () => { calls++; throw new Error('redis away'); },
      onError: (err, n) => errors.push(`${n}: ${(err as Error).message}`),
      isStopping: () => false,
    });
    p.tick();
    await tick();
    p.tick();
    await tick();
    expect(calls).toBe(2);
    expect(errors).toEqual(['4: redis away', '4: redis away']);
  });

  it('does nothing while the worker is stopping, and its timer stops', async () => {
    let stopping = false;
    let calls = 0;
    const p = new Punctuator({ everyMs: 5, partitions: () => [0], submit: async () => { calls++; }, onError: () => {}, isStopping: () => stopping }).start();
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBeGreaterThan(0);
    stopping = true;
    const before = calls;
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(before);
    p.stop();
    stopping = false;
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(before);
  });
});
