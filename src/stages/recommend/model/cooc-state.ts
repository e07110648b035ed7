/**
 * (b) In-memory co-occurrence state: applies deltas. Each unordered pair (a < b) is stored once — half the
 * lookups of symmetric rows; `storedRowDeltas` (../store.ts) gives the row shape Redis stores. Counts
 * are stored scaled by the decay clock (see decay.ts), so ratios need no rescaling.
 *
 * Storage (the learn hot path does ~20 pair updates and, through list refreshes, ~50 lookups per event in a
 * table of millions of pairs): one open-addressing hash table (linear probing, power-of-two capacity, load ≤ 0.5)
 * whose slots hold the pair key (a·2^26 + b, an exact double; 0 = empty) next to its count in one Float64Array —
 * one cache line per probe, no boxed keys, no per-pair allocation.
 *
 * Bounded (limits.maxPairs, #12's memory bound): the pairs grow with the events (~5 new pairs per event on a
 * power-law shop, 103M at 20M events: a 4 GB table), almost all of them seen once or twice. When a new pair would
 * exceed the bound, the table is pruned to half of it, as lossy counting does (Manku & Motwani, 2002): the pairs
 * that some neighbour list holds stay (the caller names them, `protectedPairs`), and of the others the strongest,
 * by a threshold read off a sample of the counts, so that the prune costs O(table) and no sort of it. A pruned pair
 * that comes back starts from 0 again: its count is then low by at most the prune's threshold. Deterministic (the
 * sample is every n-th slot), so a replay of the same events prunes the same pairs. The stored rows in Redis are
 * not pruned: they are written from the events' deltas, not from this table.
 */
import type { CoocBatchDelta, CoocDeltaSink } from './deltas.js';
import { doubledPast, grownTo } from './grow.js';

const PAIR_BASE = 67_108_864;

function slotOf(lo: number, hi: number, mask: number): number {
  return ((Math.imul(lo, 0x9e3779b1) ^ Math.imul(hi + 0x7f4a7c15, 0x85ebca77)) >>> 0) & mask;
}

/** Counts read to choose a prune's threshold. */
const PRUNE_SAMPLE = 65_536;

export class CoocState implements CoocDeltaSink {
  /**
   * @param maxPairs the most pairs the table holds (limits.maxPairs); Infinity: unbounded.
   * @param protectedPairs visits the pairs a prune must keep (the neighbour lists' entries, either direction).
   */
  constructor(
    readonly maxPairs = Infinity,
    private readonly protectedPairs?: (visit: (a: number, b: number) => void) => void,
  ) {
    if (!(maxPairs >= 2)) throw new RangeError(`maxPairs must be at least 2, got ${maxPairs}`);
  }
  /**
   * Prunes so far, the pairs they dropped, and the last prune's count threshold (unprotected pairs at or below it
   * went). The worker exports them (attune_model_prunes_total, attune_model_pairs_pruned_total) and logs each prune.
   */
  prunes = 0;
  prunedPairs = 0;
  lastPruneThreshold = NaN;

  /** [key, count] per slot. */
  private table = new Float64Array(2 << 16);
  private mask = (1 << 16) - 1;
  private count = 0;
  private norms = new Float64Array(1024);
  /** Σ of all norm increments (the "total mass", for LLR). */
  total = 0;

  get pairCount(): number {
    return this.count;
  }

  private ensure(a: number): void {
    if (a < this.norms.length) return;
    this.norms = grownTo(this.norms, doubledPast(this.norms.length, a));
  }

  /** Rebuilds the table with `slots` slots (a power of two), keeping the pairs `keep` accepts. */
  private rebuild(slots: number, keep: (lo: number, hi: number, count: number) => boolean = () => true): void {
    const old = this.table;
    const table = new Float64Array(slots * 2);
    const mask = slots - 1;
    let count = 0;
    for (let i = 0; i < old.length; i += 2) {
      const key = old[i];
      if (key === 0) continue;
      const lo = Math.floor(key / PAIR_BASE);
      const hi = key - lo * PAIR_BASE;
      if (!keep(lo, hi, old[i + 1])) continue;
      let s = slotOf(lo, hi, mask);
      while (table[s * 2] !== 0) s = (s + 1) & mask;
      table[s * 2] = key;
      table[s * 2 + 1] = old[i + 1];
      count++;
    }
    this.table = table;
    this.mask = mask;
    this.count = count;
  }

  /** The slot holding the pair (lo < hi), or the empty slot where it would go (linear probing). */
  private slotFor(lo: number, hi: number): number {
    const key = lo * PAIR_BASE + hi;
    const table = this.table;
    const mask = this.mask;
    let s = slotOf(lo, hi, mask);
    for (;;) {
      const k = table[s * 2];
      if (k === key || k === 0) return s;
      s = (s + 1) & mask;
    }
  }

  /** Adds inc to C(a,b) (a ≠ b) and returns the new value. */
  add(a: number, b: number, inc: number): number {
    const lo = a < b ? a : b;
    const hi = a < b ? b : a;
    const s = this.slotFor(lo, hi);
    const table = this.table;
    if (table[s * 2] !== 0) {
      const v = table[s * 2 + 1] + inc;
      table[s * 2 + 1] = v;
      return v;
    }
    // a new pair: 0 + inc (as the former Map-based `(get ?? 0) + inc`)
    const v = 0 + inc;
    if (this.count + 1 > this.maxPairs) {
      this.prune();
      return this.add(a, b, inc);
    }
    if ((this.count + 1) * 2 > this.mask + 1) {
      this.rebuild((this.mask + 1) * 2);
      return this.add(a, b, inc);
    }
    table[s * 2] = lo * PAIR_BASE + hi;
    table[s * 2 + 1] = v;
    this.count++;
    return v;
  }

  /**
   * Drops pairs until at most half of maxPairs remain: the protected ones (marked by a negative count while the
   * prune runs: counts are always positive), then the unprotected ones above a threshold chosen so that they fill
   * the rest of the half. When the protected pairs alone are more than the half, they are not protected (the
   * bound holds whatever the neighbour lists hold).
   */
  private prune(): void {
    const table = this.table;
    const target = Math.floor(this.maxPairs / 2);
    let marked = 0;
    this.protectedPairs?.((a, b) => {
      if (a === b) return;
      const s = this.slotFor(a < b ? a : b, a < b ? b : a);
      if (table[s * 2] !== 0 && table[s * 2 + 1] > 0) {
        table[s * 2 + 1] = -table[s * 2 + 1];
        marked++;
      }
    });
    if (marked > target) {
      for (let i = 1; i < table.length; i += 2) if (table[i] < 0) table[i] = -table[i];
      marked = 0;
    }
    const others = this.count - marked;
    const keep = target - marked;
    let threshold = Infinity; // keep none of the others
    if (keep >= others) threshold = -Infinity;
    else if (keep > 0) {
      const step = Math.max(1, Math.floor(table.length / 2 / PRUNE_SAMPLE));
      const sample: number[] = [];
      for (let i = 0; i < table.length; i += 2 * step) if (table[i] !== 0 && table[i + 1] > 0) sample.push(table[i + 1]);
      sample.sort((x, y) => x - y);
      // Keep those strictly above the (1 − keep/others) quantile: ties at the threshold go, so at most ~keep stay.
      threshold = sample[Math.min(sample.length - 1, Math.floor((1 - keep / others) * sample.length))] ?? Infinity;
    }
    const before = this.count;
    this.rebuild(this.mask + 1, (_lo, _hi, c) => c < 0 || c > threshold);
    const t = this.table;
    for (let i = 1; i < t.length; i += 2) if (t[i] < 0) t[i] = -t[i];
    this.prunes++;
    this.prunedPairs += before - this.count;
    this.lastPruneThreshold = threshold;
  }

  /**
   * Reads the home slots of the pairs (a, others[i]) without using them: independent loads the CPU overlaps, so
   * the dependent update chain that follows finds them in cache (the table is far larger than the caches).
   * Changes nothing.
   */
  prefetch(a: number, others: ArrayLike<number>, n: number): void {
    const table = this.table;
    const mask = this.mask;
    let x = 0;
    for (let i = 0; i < n; i++) {
      const b = others[i];
      x += table[slotOf(a < b ? a : b, a < b ? b : a, mask) * 2];
    }
    this.sink += x;
  }
  /** Keeps `prefetch` reads alive (never read otherwise). */
  private sink = 0;

  pair(a: number, b: number, inc: number): void {
    this.add(a, b, inc);
  }

  norm(a: number, inc: number): void {
    this.ensure(a);
    this.norms[a] += inc;
    this.total += inc;
  }

  /** Applies a combined micro-batch. */
  applyBatch(delta: CoocBatchDelta): void {
    for (const [a, inc] of delta.norms) this.norm(a, inc);
    for (const [k, inc] of delta.pairs) {
      const a = Math.floor(k / PAIR_BASE);
      this.add(a, k - a * PAIR_BASE, inc);
    }
  }

  cooc(a: number, b: number): number {
    const s = this.slotFor(a < b ? a : b, a < b ? b : a);
    return this.table[s * 2 + 1]; // 0 in an empty slot
  }


  normOf(a: number): number {
    return a < this.norms.length ? this.norms[a] : 0;
  }

  /** Every stored pair (a < b) with its count (table order); O(state) — tests, export, erasure. */
  *entries(): IterableIterator<[number, number, number]> {
    const table = this.table;
    for (let i = 0; i < table.length; i += 2) {
      const key = table[i];
      if (key === 0) continue;
      const a = Math.floor(key / PAIR_BASE);
      yield [a, key - a * PAIR_BASE, table[i + 1]];
    }
  }

  /** Removes an item's pairs and norm (erasure). O(state): rare by design (rebuilds the table). */
  dropItem(item: number): void {
    this.rebuild(this.mask + 1, (lo, hi) => lo !== item && hi !== item);
    if (item < this.norms.length) {
      this.total -= this.norms[item];
      this.norms[item] = 0;
    }
  }

  /** Multiplies every stored count (decay rebase). O(state), rare. */
  rescale(f: number): void {
    const table = this.table;
    for (let i = 0; i < table.length; i += 2) if (table[i] !== 0) table[i + 1] *= f;
    for (let i = 0; i < this.norms.length; i++) this.norms[i] *= f;
    this.total *= f;
  }
}
