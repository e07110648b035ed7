/**
 * (b) In-memory co-occurrence state: applies deltas. Each unordered pair (a < b) is stored once — half the
 * lookups of symmetric rows; `CoocBatchDelta.rows()` gives the per-item row shape a Redis writer owns. Counts
 * are stored scaled by the decay clock (see decay.ts), so ratios need no rescaling.
 *
 * Storage (the learn hot path does ~20 pair updates per event in a table of millions of pairs): a dense
 * insertion-ordered entry list (Int32 a, Int32 b, Float64 count) indexed by an open-addressing hash table
 * (linear probing, power-of-two capacity, load ≤ 0.5) — no boxed double keys, no per-pair allocation.
 */
import type { CoocBatchDelta, CoocDeltaSink } from './deltas.js';

const PAIR_BASE = 67_108_864;

export class CoocState implements CoocDeltaSink {
  /** slot → entry index + 1 (0 = empty). */
  private slots = new Int32Array(1 << 16);
  private mask = (1 << 16) - 1;
  private ea = new Int32Array(1 << 15);
  private eb = new Int32Array(1 << 15);
  private ev = new Float64Array(1 << 15);
  private count = 0;
  private norms = new Float64Array(1024);
  /** Σ of all norm increments (the "total mass", for LLR). */
  total = 0;

  get pairCount(): number {
    return this.count;
  }

  private ensure(a: number): void {
    if (a < this.norms.length) return;
    let n = this.norms.length;
    while (n <= a) n *= 2;
    const next = new Float64Array(n);
    next.set(this.norms);
    this.norms = next;
  }

  private static hash(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> 0;
  }

  /** Entry index of (lo, hi), lo < hi, or -1. */
  private find(lo: number, hi: number): number {
    const slots = this.slots;
    const mask = this.mask;
    let s = CoocState.hash(lo, hi) & mask;
    for (;;) {
      const e = slots[s];
      if (e === 0) return -1;
      if (this.ea[e - 1] === lo && this.eb[e - 1] === hi) return e - 1;
      s = (s + 1) & mask;
    }
  }

  private grow(): void {
    const cap = this.ea.length * 2;
    const ea = new Int32Array(cap);
    ea.set(this.ea);
    const eb = new Int32Array(cap);
    eb.set(this.eb);
    const ev = new Float64Array(cap);
    ev.set(this.ev);
    this.ea = ea;
    this.eb = eb;
    this.ev = ev;
    this.rehash(cap * 2);
  }

  private rehash(slotCount: number): void {
    const slots = new Int32Array(slotCount);
    const mask = slotCount - 1;
    for (let e = 0; e < this.count; e++) {
      let s = CoocState.hash(this.ea[e], this.eb[e]) & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = e + 1;
    }
    this.slots = slots;
    this.mask = mask;
  }

  /** Adds inc to C(a,b) (a ≠ b) and returns the new value. */
  add(a: number, b: number, inc: number): number {
    const lo = a < b ? a : b;
    const hi = a < b ? b : a;
    const slots = this.slots;
    const mask = this.mask;
    const ea = this.ea;
    const eb = this.eb;
    let s = CoocState.hash(lo, hi) & mask;
    for (;;) {
      const e = slots[s];
      if (e === 0) break;
      if (ea[e - 1] === lo && eb[e - 1] === hi) {
        const v = this.ev[e - 1] + inc;
        this.ev[e - 1] = v;
        return v;
      }
      s = (s + 1) & mask;
    }
    // new pair (0 + inc, as the former Map-based `(get ?? 0) + inc`)
    const v = 0 + inc;
    if (this.count === this.ea.length) {
      this.grow();
      return this.add(a, b, inc);
    }
    const e = this.count++;
    this.ea[e] = lo;
    this.eb[e] = hi;
    this.ev[e] = v;
    slots[s] = e + 1;
    return v;
  }

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
    const e = a < b ? this.find(a, b) : this.find(b, a);
    return e < 0 ? 0 : this.ev[e];
  }

  normOf(a: number): number {
    return a < this.norms.length ? this.norms[a] : 0;
  }

  /** Every stored pair (a < b) with its count, in insertion order; O(state) — tests, export, erasure. */
  *entries(): IterableIterator<[number, number, number]> {
    for (let e = 0; e < this.count; e++) yield [this.ea[e], this.eb[e], this.ev[e]];
  }

  /** Removes an item's pairs and norm (erasure). O(state): rare by design (compacts and rebuilds the index). */
  dropItem(item: number): void {
    let w = 0;
    for (let e = 0; e < this.count; e++) {
      if (this.ea[e] === item || this.eb[e] === item) continue;
      this.ea[w] = this.ea[e];
      this.eb[w] = this.eb[e];
      this.ev[w] = this.ev[e];
      w++;
    }
    if (w !== this.count) {
      this.count = w;
      this.rehash(this.slots.length);
    }
    if (item < this.norms.length) {
      this.total -= this.norms[item];
      this.norms[item] = 0;
    }
  }

  /** Multiplies every stored count (decay rebase). O(state), rare. */
  rescale(f: number): void {
    for (let e = 0; e < this.count; e++) this.ev[e] *= f;
    for (let i = 0; i < this.norms.length; i++) this.norms[i] *= f;
    this.total *= f;
  }
}
