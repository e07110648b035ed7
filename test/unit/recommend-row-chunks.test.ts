import { describe, it, expect } from 'vitest';
import { rowChunks } from '../../src/stages/recommend/store.js';

const row = (name: string, fields: number): [string, number[]] => [name, Array.from({ length: fields }, (_, i) => i)];

describe('rowChunks (multi-row calls bounded by fields)', () => {
  it('keeps every row whole and in order, each chunk within the bound counting one gate per row', () => {
    const rows = [row('a', 3), row('b', 5), row('c', 1), row('d', 2), row('e', 4)];
    const chunks = rowChunks(rows, 8);
    expect(chunks.map((c) => c.map(([n]) => n))).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
    for (const c of chunks) expect(c.reduce((s, [, f]) => s + f.length + 1, 0)).toBeLessThanOrEqual(8);
    expect(chunks.flat()).toEqual(rows);
  });

  it('puts a row larger than the bound in a chunk of its own, and gives no chunk for no rows', () => {
    expect(rowChunks([row('a', 1), row('big', 20), row('c', 1)], 5).map((c) => c.map(([n]) => n))).toEqual([['a'], ['big'], ['c']]);
    expect(rowChunks([], 5)).toEqual([]);
  });
});
