/**
 * The ranked selection: the blended candidates in a max-heap by (score desc, id asc), built bottom-up in
 * O(candidates), popped lazily — only as far as the diversity step reads (no sort) — and filtered as they are
 * popped (the top M of those that pass the filters are the same as when filtering every candidate first).
 */
import type { CandidateFilters } from './filters.js';

export class Selection {
  /** Heap storage; the ranker writes the candidates into it directly (after `reserve`), then calls `build`. */
  heapIds = new Int32Array(1024);
  heapSc = new Float64Array(1024);
  /** The selection, best first: ids and scores of the popped candidates that passed the filters. */
  ids = new Int32Array(64);
  scores = new Float64Array(64);
  private heapSize = 0;
  private popped = 0;
  private limit = 0;
  private filters: CandidateFilters | null = null;

  /** Room for `n` candidates in the heap storage. */
  reserve(n: number): void {
    if (this.heapIds.length < n) {
      this.heapIds = new Int32Array(n * 2);
      this.heapSc = new Float64Array(n * 2);
    }
  }

  /** Heapifies the first `count` candidates; at most `limit` (M) will be selected. */
  build(count: number, limit: number, filters: CandidateFilters): void {
    const hIds = this.heapIds;
    const hSc = this.heapSc;
    for (let i = (count >> 1) - 1; i >= 0; i--) siftDownMax(hIds, hSc, count, i, hIds[i], hSc[i]);
    this.heapSize = count;
    this.popped = 0;
    this.limit = limit;
    this.filters = filters;
    if (this.ids.length < limit) {
      this.ids = new Int32Array(limit * 2);
      this.scores = new Float64Array(limit * 2);
    }
  }

  /**
   * Makes the selection hold at least `upTo` + 1 entries (best first, each passing the filters) when the top M
   * of the candidates that pass the filters has that many; false if not.
   */
  pull(upTo: number): boolean {
    if (upTo >= this.limit) return false;
    const hIds = this.heapIds;
    const hSc = this.heapSc;
    while (this.popped <= upTo) {
      const size = this.heapSize;
      if (size === 0) {
        this.limit = this.popped;
        return false;
      }
      const c = hIds[0];
      const s = hSc[0];
      this.heapSize = size - 1;
      if (size > 1) siftDownMax(hIds, hSc, size - 1, 0, hIds[size - 1], hSc[size - 1]);
      if (!this.filters!.passes(c)) continue;
      this.ids[this.popped] = c;
      this.scores[this.popped] = s;
      this.popped++;
    }
    return true;
  }
}

/** The k-th largest of xs[0..n) (1 ≤ k ≤ n); reorders xs. */
export function kthLargest(xs: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  const want = k - 1;
  while (lo < hi) {
    const pivot = xs[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (xs[i] > pivot) i++;
      while (xs[j] < pivot) j--;
      if (i <= j) {
        const t = xs[i];
        xs[i] = xs[j];
        xs[j] = t;
        i++;
        j--;
      }
    }
    if (want <= j) hi = j;
    else if (want >= i) lo = i;
    else return xs[want];
  }
  return xs[want];
}

/** Max-heap (root = best by score desc, then id asc) sift-down of (c, s) from position i within [0, size). */
function siftDownMax(ids: Int32Array, sc: Float64Array, size: number, i: number, c: number, s: number): void {
  for (;;) {
    let w = 2 * i + 1;
    if (w >= size) break;
    const r = w + 1;
    // pick the better child
    if (r < size && (sc[r] > sc[w] || (sc[r] === sc[w] && ids[r] < ids[w]))) w = r;
    const ws = sc[w];
    // stop when (c, s) is at least as good as the better child
    if (s > ws || (s === ws && c < ids[w])) break;
    ids[i] = ids[w];
    sc[i] = ws;
    i = w;
  }
  ids[i] = c;
  sc[i] = s;
}
