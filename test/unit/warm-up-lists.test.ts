/**
 * Warm-up builds the neighbour lists from stored rows, each in its own direction: with the asymmetric cosine
 * (media preset) b's entry in a's list is not a's entry in b's. The rows come from a stand-in for the store's
 * row scan (the Redis side of forEachRow is covered by the functional layer); what is checked is the list building.
 */
import { describe, expect, it } from 'vitest';
import { Recommender } from '../../src/stages/recommend/model/recommender.js';
import type { CoocRow, RecommenderStore } from '../../src/stages/recommend/store.js';
import { loadStoredRows } from '../../src/stages/recommend/warm-up.js';

function storeOf(rows: Record<string, CoocRow>): RecommenderStore {
  return {
    async forEachRow(fn: (itemId: string, row: CoocRow) => void) {
      for (const [id, row] of Object.entries(rows)) fn(id, row);
      return Object.keys(rows).length;
    },
  } as unknown as RecommenderStore;
}

describe('warm-up from stored rows', () => {
  // N: a 5, b 9, c 2; C(a, b) = 3, C(a, c) = 2 (a row holds the pairs with greater item ids)
  const rows: Record<string, CoocRow> = {
    a: { norm: 5, pairs: [['b', 3], ['c', 2]], gates: [] },
    b: { norm: 9, pairs: [], gates: [] },
    c: { norm: 2, pairs: [], gates: [] },
  };

  for (const alpha of [0.5, 0.8]) {
    it(`lists hold C / (N_seed^α · N_candidate^(1−α)) in both directions (α = ${alpha})`, async () => {
      const rec = new Recommender({ collaborative: { asymmetry: alpha, decayHalfLifeMs: 0 } });
      await loadStoredRows(rec, storeOf(rows));
      const id = (x: string) => rec.items.lookup(x);
      const entry = (seed: string, cand: string) => rec.collaborative.neighbours.sorted(id(seed)).find((e) => e.item === id(cand))?.sim;
      const sim = (c: number, ns: number, nc: number) => c / (ns ** alpha * nc ** (1 - alpha));
      expect(entry('a', 'b')).toBeCloseTo(sim(3, 5, 9), 6);
      expect(entry('b', 'a')).toBeCloseTo(sim(3, 9, 5), 6);
      expect(entry('a', 'c')).toBeCloseTo(sim(2, 5, 2), 6);
      expect(entry('c', 'a')).toBeCloseTo(sim(2, 2, 5), 6);
    });
  }

  it('past the pair bound, loads into a bounded table and builds the lists from what it holds', async () => {
    const many: Record<string, CoocRow> = {};
    for (let a = 0; a < 60; a++) {
      const pairs: Array<[string, number]> = [];
      for (let b = a + 1; b < 60; b++) pairs.push([`i${String(b).padStart(2, '0')}`, 1 + ((a * b) % 5)]);
      many[`i${String(a).padStart(2, '0')}`] = { norm: 50, pairs, gates: [] };
    }
    const rec = new Recommender({ collaborative: { decayHalfLifeMs: 0, neighbours: 3 }, limits: { maxPairs: 400 } });
    const out = await loadStoredRows(rec, storeOf(many));
    const st = rec.collaborative.state;
    expect(out.pairs).toBe(60 * 59 / 2);
    expect(st.prunes).toBeGreaterThan(0);
    expect(st.pairCount).toBeLessThanOrEqual(400);
    let entries = 0;
    rec.collaborative.neighbours.forEachEntry((a, b) => {
      entries++;
      expect(st.cooc(a, b)).toBeGreaterThan(0);
    });
    expect(entries).toBeGreaterThan(0);
  });
});

