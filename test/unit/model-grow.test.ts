// The model's per-item typed arrays grow by doubling and keep what they held; new slots get the fill value.
import { describe, expect, it } from 'vitest';
import { doubledPast, grownTo } from '../../src/stages/recommend/model/grow.js';

describe('grow', () => {
  it('doubles the length until it passes the index', () => {
    expect(doubledPast(4, 3)).toBe(4);
    expect(doubledPast(4, 4)).toBe(8);
    expect(doubledPast(4, 100)).toBe(128);
    expect(doubledPast(0, 0)).toBe(1);
  });

  it('keeps the values and the array type, and fills only the new slots', () => {
    const a = Int32Array.from([5, -1, 7]);
    const b = grownTo(a, 6, -1);
    expect(b).toBeInstanceOf(Int32Array);
    expect([...b]).toEqual([5, -1, 7, -1, -1, -1]);
    const f = grownTo(Float64Array.from([0.5]), 3);
    expect(f).toBeInstanceOf(Float64Array);
    expect([...f]).toEqual([0.5, 0, 0]);
  });
});
