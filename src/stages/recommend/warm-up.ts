/**
 * Loads every stored co-occurrence row into an in-memory recommender and builds its neighbour lists: what a worker
 * does at start-up (RecommendStage.warmUp) and the lookup API for similar items (src/api/similar-items.ts).
 * A row holds only the pairs with greater item ids, so neighbour lists can be built only once every row is in.
 * Past limits.maxItems (ATTUNE_MAX_ITEMS) rows and pairs of further items are not loaded (see model/config.ts), and
 * past limits.maxPairs the table prunes as it loads (model/cooc-state.ts).
 * The rows' applied offsets come back too: the shared model's changelog decides with them which records the loaded
 * rows already hold (changelog.ts, Start-up).
 */
import type { Recommender } from './model/recommender.js';
import type { RecommenderStore } from './store.js';

/** Per source (`o:<topic>:<partition>`), per row item, the row's applied offset: what the shared model's changelog needs. */
export type RowGates = Map<string, Map<string, number>>;

export async function loadStoredRows(rec: Recommender, store: RecommenderStore): Promise<{ rows: number; pairs: number; gates: RowGates }> {
  // The loaded pairs in row order, to build the lists in that order (ties at a full list's weakest entry go to the
  // first offered). Bounded like the table: once the table prunes (the rows hold more pairs than limits.maxPairs)
  // the list is dropped and the lists are built from the table instead, which holds at most the bound.
  const state = rec.collaborative.state;
  const prunesBefore = state.prunes;
  let pairs: number[] | null = [];
  let loaded = 0;
  const gates: RowGates = new Map();
  const rows = await store.forEachRow((itemId, row) => {
    for (const [src, last] of row.gates) {
      let m = gates.get(src);
      if (!m) gates.set(src, (m = new Map()));
      m.set(itemId, last);
    }
    const a = rec.items.tryIntern(itemId);
    if (a < 0) return;
    if (row.norm !== 0) rec.collaborative.state.norm(a, row.norm);
    for (const [other, v] of row.pairs) {
      const b = rec.items.tryIntern(other);
      if (b < 0) continue;
      state.add(a, b, v);
      loaded++;
      if (pairs) pairs.push(a, b);
      if (pairs && state.prunes !== prunesBefore) pairs = null;
    }
  });
  const m = rec.collaborative;
  if (pairs) for (let k = 0; k < pairs.length; k += 2) m.offerPair(pairs[k]!, pairs[k + 1]!);
  else for (const [a, b] of state.entries()) m.offerPair(a, b);
  return { rows, pairs: loaded, gates };
}
