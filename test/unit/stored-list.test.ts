import { describe, expect, it } from 'vitest';
import type { Recommendations } from '../../src/domain/events.js';
import { decodeStoredList, encodeStoredList } from '../../src/stores/stored-list.js';

function list(): Recommendations {
  return {
    userId: 'p'.repeat(43),
    items: Array.from({ length: 10 }, (_, i) => ({
      itemId: String(22_400 + i),
      score: 1 / (i + 1),
      reasons: [
        { kind: 'bought_together', text: `bought together with HEART OF WICKER SMALL ${i}`, relatedItemId: '22469' },
        { kind: 'trending', text: 'trending in GB', relatedItemId: null },
      ],
    })),
    strategy: 'hybrid', sourceEventId: 'e-1', sourceEventTime: 1_700_000_000_000, generatedAt: 1_700_000_000_500,
    recommendationId: 'r'.repeat(40), assignments: [{ experiment: 'x', variant: 'a' }],
  };
}

describe('the stored list ({u}:recs)', () => {
  it('reads back what was stored', () => {
    expect(decodeStoredList(encodeStoredList(list()))).toEqual(list());
  });

  it('still reads a list stored as plain JSON (written before the deflated form)', () => {
    expect(decodeStoredList(Buffer.from(JSON.stringify(list())))).toEqual(list());
  });

  it('is a fraction of the JSON it holds, and never looks like plain JSON', () => {
    const stored = encodeStoredList(list());
    expect(stored.length * 3).toBeLessThan(Buffer.byteLength(JSON.stringify(list())));
    expect(stored[0]).not.toBe('{'.charCodeAt(0));
  });

  it('throws on a value that is neither form', () => {
    expect(() => decodeStoredList(Buffer.from([1, 2, 3]))).toThrow();
    expect(() => decodeStoredList(Buffer.from('not json'))).toThrow();
  });
});
