/**
 * (c) Similarity and bounded top-K neighbour lists.
 *
 * Each item keeps at most K neighbours in flat typed arrays (ids/sims at [item·K, item·K + size)). Pruning: a
 * pair only enters a full list by beating its weakest entry, so memory is O(items·K) whatever the number of
 * co-occurring pairs; a list entry is refreshed whenever its pair is touched, and an item's whole list is
 * re-scored when the item itself is interacted with (its norm changed).
 */
import { doubledPast, grownTo } from './grow.js';

/** Cosine on co-occurrence counts: C / √(N_a·N_b). Scale-invariant, so decayed (scaled) counts are fine. */
export function cosineSim(c: number, na: number, nb: number): number {
  if (c <= 0 || na <= 0 || nb <= 0) return 0;
  return c / Math.sqrt(na * nb);
}

/**
 * Asymmetric cosine (Aiolli, 2013): the entry of candidate b in seed a's list is C / (N_a^α · N_b^(1−α)). α = 0.5
 * is the cosine; a larger α penalises a popular candidate less (its N_b weighs less), which suits one-time
 * consumption, where the popular items of a user's taste are the likely next ones.
 */
export function asymmetricCosineSim(c: number, na: number, nb: number, alpha: number): number {
  if (c <= 0 || na <= 0 || nb <= 0) return 0;
  return c / (Math.pow(na, alpha) * Math.pow(nb, 1 - alpha));
}

function xlogx(x: number): number {
  return x <= 0 ? 0 : x * Math.log(x);
}
function entropy(...xs: number[]): number {
  let sum = 0;
  let r = 0;
  for (const x of xs) {
    sum += x;
    r += xlogx(x);
  }
  return xlogx(sum) - r;
}
/** Dunning's log-likelihood ratio of a 2×2 contingency table. */
export function llr(k11: number, k12: number, k21: number, k22: number): number {
  const rowE = entropy(k11 + k12, k21 + k22);
  const colE = entropy(k11 + k21, k12 + k22);
  const matE = entropy(k11, k12, k21, k22);
  return Math.max(0, 2 * (rowE + colE - matE));
}
/** LLR similarity mapped to [0,1) as 1 − 1/(1 + llr) (as Mahout does); counts in true (unscaled) units. */
export function llrSim(c: number, na: number, nb: number, total: number): number {
  if (c <= 0) return 0;
  const k12 = Math.max(0, na - c);
  const k21 = Math.max(0, nb - c);
  const k22 = Math.max(0, total - na - nb + c);
  return 1 - 1 / (1 + llr(c, k12, k21, k22));
}

export class NeighbourIndex {
  private ids: Int32Array;
  private sims: Float32Array;
  private sizes: Int32Array;
  /**
   * Cached weakest entry of each list (its value and first position, as a scan would find it), valid when
   * minOk[a] = 1. Most offers are of pairs that are not in a full list and do not beat its weakest entry: with
   * the cache they cost one id scan instead of an id-and-minimum scan. Every change to a list invalidates it.
   */
  private minSim: Float32Array;
  private minPos: Int32Array;
  private minOk: Uint8Array;

  constructor(
    readonly k: number,
    initialItems = 1024,
  ) {
    this.ids = new Int32Array(initialItems * k);
    this.sims = new Float32Array(initialItems * k);
    this.sizes = new Int32Array(initialItems);
    this.minSim = new Float32Array(initialItems);
    this.minPos = new Int32Array(initialItems);
    this.minOk = new Uint8Array(initialItems);
  }

  private ensure(a: number): void {
    if (a < this.sizes.length) return;
    const n = doubledPast(this.sizes.length, a);
    this.ids = grownTo(this.ids, n * this.k);
    this.sims = grownTo(this.sims, n * this.k);
    this.sizes = grownTo(this.sizes, n);
    this.minSim = grownTo(this.minSim, n);
    this.minPos = grownTo(this.minPos, n);
    this.minOk = grownTo(this.minOk, n);
  }

  /** Inserts or updates b in a's list with `sim`; a non-positive sim removes it. Returns whether a's list changed. */
  offer(a: number, b: number, sim: number): boolean {
    this.ensure(a);
    const base = a * this.k;
    const size = this.sizes[a];
    const ids = this.ids;
    const sims = this.sims;
    const end = base + size;
    let i = base;
    while (i < end && ids[i] !== b) i++;
    if (i < end) {
      if (sim <= 0) {
        // remove: move the last entry here
        const last = end - 1;
        ids[i] = ids[last];
        sims[i] = sims[last];
        this.sizes[a] = size - 1;
        this.minOk[a] = 0;
        return true;
      }
      const changed = sims[i] !== Math.fround(sim);
      if (changed) {
        sims[i] = sim;
        this.minOk[a] = 0;
      }
      return changed;
    }
    if (sim <= 0) return false;
    if (size < this.k) {
      ids[end] = b;
      sims[end] = sim;
      this.sizes[a] = size + 1;
      this.minOk[a] = 0;
      return true;
    }
    // b is not in the full list: it replaces the first weakest entry if it beats it
    if (this.minOk[a] === 0) {
      let min = Infinity;
      let minAt = -1;
      for (let j = base; j < end; j++) {
        if (sims[j] < min) {
          min = sims[j];
          minAt = j;
        }
      }
      this.minSim[a] = min;
      this.minPos[a] = minAt;
      this.minOk[a] = 1;
    }
    if (sim > this.minSim[a]) {
      const at = this.minPos[a];
      ids[at] = b;
      sims[at] = sim;
      this.minOk[a] = 0;
      return true;
    }
    return false;
  }

  /** Recomputes every entry of a's list with `simOf` (e.g. after a's norm changed). */
  refresh(a: number, simOf: (b: number) => number): void {
    if (a >= this.sizes.length) return;
    const base = a * this.k;
    let size = this.sizes[a];
    for (let i = base; i < base + size; ) {
      const s = simOf(this.ids[i]);
      if (s > 0) {
        this.sims[i] = s;
        i++;
      } else {
        size--;
        this.ids[i] = this.ids[base + size];
        this.sims[i] = this.sims[base + size];
      }
    }
    this.sizes[a] = size;
    this.minOk[a] = 0;
  }

  size(a: number): number {
    return a < this.sizes.length ? this.sizes[a] : 0;
  }

  /** Calls fn(b, sim) for each neighbour of a (unordered). */
  forEach(a: number, fn: (b: number, sim: number) => void): void {
    if (a >= this.sizes.length) return;
    const base = a * this.k;
    for (let i = base, end = base + this.sizes[a]; i < end; i++) fn(this.ids[i], this.sims[i]);
  }

  /** Calls fn(a, b) for every entry of every list. */
  forEachEntry(fn: (a: number, b: number) => void): void {
    for (let a = 0; a < this.sizes.length; a++) {
      const base = a * this.k;
      for (let i = base, end = base + this.sizes[a]; i < end; i++) fn(a, this.ids[i]);
    }
  }

  /** Raw access for hot loops: entries live at [offset, offset + size). */
  raw(a: number): { ids: Int32Array; sims: Float32Array; offset: number; size: number } {
    const size = this.size(a);
    return { ids: this.ids, sims: this.sims, offset: a * this.k, size };
  }

  /** a's neighbours sorted by similarity, descending (ties by id). */
  sorted(a: number): Array<{ item: number; sim: number }> {
    const out: Array<{ item: number; sim: number }> = [];
    this.forEach(a, (item, sim) => out.push({ item, sim }));
    return out.sort((x, y) => y.sim - x.sim || x.item - y.item);
  }

  /** Removes b from a's list. */
  remove(a: number, b: number): void {
    this.offer(a, b, 0);
  }

  /** Empties a's list. */
  clear(a: number): void {
    if (a < this.sizes.length) {
      this.sizes[a] = 0;
      this.minOk[a] = 0;
    }
  }
}
