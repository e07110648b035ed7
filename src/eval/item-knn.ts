/**
 * The plain incremental item-kNN baseline of `attune eval`, defined exactly so its figures compare with other
 * systems' (the quality issue's definition):
 *
 *   score(u, i) = Σ over the user's last 20 distinct items h of C[h,i] / sqrt(n_h · n_i)
 *
 * C counts co-occurrences in users' last-20 histories: each new event of item i pairs i with every other item of
 * the user's current history (C[h,i] and C[i,h] + 1; symmetric, no decay, no pruning, a repeated item pairs
 * again). n counts each item's events. Ties by popularity (n, then the earlier seen item); a list shorter than
 * asked is filled with the most popular items not in it. Every event with an item counts, whatever its type.
 *
 * Exact, and fast enough to run next to Attune on every eval: the sum over 20 full rows is what costs, so the
 * model keeps S[j] = Σ_h C[h,j] / sqrt(n_h) for the user who was asked last, and while that user's own events
 * follow (an order's lines, a viewing session: consecutive in the stream) updates it by the rows that changed
 * instead of recomputing it. Any other user's event invalidates it (it changes C and n). The incremental sums
 * differ from a fresh sum only by rounding, so scores are compared at 1e-9: closer scores are ties.
 */
import { IdInterner } from '../stages/recommend/model/interner.js';
import { CountRanking } from './count-ranking.js';
import type { PrequentialModel } from './prequential.js';

/** The definition's history length. */
export const KNN_HISTORY = 20;
/** Scores closer than this are ties (rounding of the incremental sums stays far below it). */
const TIE = 1e-9;
/** Below this an incrementally updated S[j] is zero (a real contribution is ≥ 1/sqrt(n_h) ≫ this). */
const ZERO = 1e-9;

/** A sparse row of C: neighbour ids and counts, in first-paired order, with an index for updates. */
class Row {
  ids = new Int32Array(4);
  counts = new Int32Array(4);
  len = 0;
  private readonly at = new Map<number, number>();

  inc(j: number): void {
    const p = this.at.get(j);
    if (p !== undefined) {
      this.counts[p]++;
      return;
    }
    if (this.len === this.ids.length) {
      const ids = new Int32Array(this.len * 2);
      ids.set(this.ids);
      this.ids = ids;
      const counts = new Int32Array(this.len * 2);
      counts.set(this.counts);
      this.counts = counts;
    }
    this.at.set(j, this.len);
    this.ids[this.len] = j;
    this.counts[this.len] = 1;
    this.len++;
  }

  get(j: number): number {
    const p = this.at.get(j);
    return p === undefined ? 0 : this.counts[p];
  }
}

export interface ItemKnnModel extends PrequentialModel {
  /** C[a,b] by item name (0 when never paired); for tests. */
  cooccurrence(a: string, b: string): number;
  /** The definition's score of item i for the user, recomputed from scratch; for tests. */
  naiveScore(userId: string, itemId: string): number;
}

export function itemKnnModel(): ItemKnnModel {
  const ids = new IdInterner();
  const pop = new CountRanking();
  const rows: Row[] = [];
  const histories = new Map<string, number[]>();

  // the cache: S of one user, dense over items, with the list of the entries ever written since the last
  // recomputation (a generation stamp marks membership)
  let cacheUser: string | null = null;
  let S = new Float64Array(1024);
  let stamp = new Int32Array(1024);
  let gen = 1;
  let touched = new Int32Array(1024);
  let nTouched = 0;

  const grow = (n: number): void => {
    if (n <= S.length) return;
    let len = S.length;
    while (len < n) len *= 2;
    const s = new Float64Array(len);
    s.set(S);
    S = s;
    const st = new Int32Array(len);
    st.set(stamp);
    stamp = st;
  };
  const touch = (j: number): void => {
    if (stamp[j] === gen) return;
    stamp[j] = gen;
    S[j] = 0;
    if (nTouched === touched.length) {
      const t = new Int32Array(touched.length * 2);
      t.set(touched);
      touched = t;
    }
    touched[nTouched++] = j;
  };
  /** S += sign · row h / sqrt(n_h). */
  const addRow = (h: number, sign: number): void => {
    const row = rows[h];
    if (!row || row.len === 0) return;
    const w = sign / Math.sqrt(pop.count(h));
    const { ids: rIds, counts } = row;
    for (let p = 0; p < row.len; p++) {
      const j = rIds[p];
      touch(j);
      S[j] += counts[p] * w;
    }
  };
  const recompute = (user: string): void => {
    cacheUser = user;
    gen++;
    nTouched = 0;
    grow(ids.size);
    for (const h of histories.get(user) ?? []) addRow(h, 1);
  };

  // top-n by (score desc, n desc, id asc), scores within TIE equal
  const topIds = new Int32Array(64);
  const topSc = new Float64Array(64);
  const better = (s: number, j: number, k: number): boolean => {
    const d = s - topSc[k];
    if (d > TIE) return true;
    if (d < -TIE) return false;
    return pop.before(j, topIds[k]);
  };
  let out: number[] = [];

  return {
    name: 'item-knn',
    idOf: (itemId) => ids.lookup(itemId),
    top: (e, n, exclude) => {
      if (cacheUser !== e.userId) recompute(e.userId);
      let len = 0;
      for (let t = 0; t < nTouched; t++) {
        const j = touched[t];
        const sj = S[j];
        if (!(sj > ZERO) || (exclude && exclude(j))) continue;
        const s = sj / Math.sqrt(pop.count(j));
        if (len === n && !better(s, j, len - 1)) continue;
        let k = len < n ? len++ : n - 1;
        while (k > 0 && better(s, j, k - 1)) {
          topIds[k] = topIds[k - 1];
          topSc[k] = topSc[k - 1];
          k--;
        }
        topIds[k] = j;
        topSc[k] = s;
      }
      out = Array.from(topIds.subarray(0, len));
      if (len < n) {
        const inList = new Set(out);
        const fill = new Int32Array(n - len);
        const k = pop.top(fill, n - len, exclude, (j) => inList.has(j));
        for (let x = 0; x < k; x++) out.push(fill[x]);
      }
      return out;
    },
    learn: (e) => {
      if (e.itemId === null) return;
      const i = ids.intern(e.itemId);
      if (i === rows.length) rows.push(new Row());
      let hist = histories.get(e.userId);
      if (!hist) histories.set(e.userId, (hist = []));
      const cached = cacheUser === e.userId;
      if (!cached) cacheUser = null; // another user's event changes C and n under the cached sums
      const wasAt = hist.indexOf(i);
      const evicted = wasAt < 0 && hist.length === KNN_HISTORY ? hist[KNN_HISTORY - 1] : -1;
      if (cached) {
        grow(ids.size);
        // the rows whose weight or membership changes leave the sums with their old values …
        if (wasAt >= 0) addRow(i, -1);
        if (evicted >= 0) addRow(evicted, -1);
      }
      const row = rows[i];
      for (const h of hist) {
        if (h === i) continue;
        rows[h].inc(i);
        row.inc(h);
      }
      pop.add(i);
      if (wasAt >= 0) hist.splice(wasAt, 1);
      else if (evicted >= 0) hist.pop();
      hist.unshift(i);
      if (cached) {
        // … and come back with their new ones: every other history row gained C[h,i] + 1, and row i is re-added
        // (new counts, new n_i)
        touch(i);
        for (let k = 1; k < hist.length; k++) S[i] += 1 / Math.sqrt(pop.count(hist[k]));
        addRow(i, 1);
      }
    },
    cooccurrence: (a, b) => {
      const ia = ids.lookup(a);
      const ib = ids.lookup(b);
      return ia < 0 || ib < 0 ? 0 : rows[ia].get(ib);
    },
    naiveScore: (userId, itemId) => {
      const j = ids.lookup(itemId);
      if (j < 0) return 0;
      let s = 0;
      for (const h of histories.get(userId) ?? []) s += rows[h].get(j) / Math.sqrt(pop.count(h) * pop.count(j));
      return s;
    },
  };
}
