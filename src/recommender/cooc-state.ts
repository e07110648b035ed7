/**
 * (b) In-memory co-occurrence state: applies deltas. Each unordered pair is stored once (key a·2^26 + b with
 * a < b) in one integer-keyed Map — half the Map operations of symmetric rows; `CoocBatchDelta.rows()` gives
 * the per-item row shape a Redis writer owns. Counts are stored scaled by the decay clock (see decay.ts), so
 * ratios need no rescaling.
 */
import { pairFromKey, pairKey, type CoocBatchDelta, type CoocDeltaSink } from './deltas.js';

export class CoocState implements CoocDeltaSink {
  private readonly pairs = new Map<number, number>();
  private norms = new Float64Array(1024);
  /** Σ of all norm increments (the "total mass", for LLR). */
  total = 0;

  get pairCount(): number {
    return this.pairs.size;
  }

  private ensure(a: number): void {
    if (a < this.norms.length) return;
    let n = this.norms.length;
    while (n <= a) n *= 2;
    const next = new Float64Array(n);
    next.set(this.norms);
    this.norms = next;
  }

  /** Adds inc to C(a,b) and returns the new value. */
  add(a: number, b: number, inc: number): number {
    const k = pairKey(a, b);
    const v = (this.pairs.get(k) ?? 0) + inc;
    this.pairs.set(k, v);
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
    for (const [k, inc] of delta.pairs) this.pairs.set(k, (this.pairs.get(k) ?? 0) + inc);
  }

  cooc(a: number, b: number): number {
    return this.pairs.get(pairKey(a, b)) ?? 0;
  }

  normOf(a: number): number {
    return a < this.norms.length ? this.norms[a] : 0;
  }

  /** Every stored pair (a < b) with its count; O(state) — tests, export, erasure. */
  *entries(): IterableIterator<[number, number, number]> {
    for (const [k, v] of this.pairs) {
      const [a, b] = pairFromKey(k);
      yield [a, b, v];
    }
  }

  /** Removes an item's pairs and norm (erasure). O(state): rare by design. */
  dropItem(item: number): void {
    for (const k of [...this.pairs.keys()]) {
      const [a, b] = pairFromKey(k);
      if (a === item || b === item) this.pairs.delete(k);
    }
    if (item < this.norms.length) {
      this.total -= this.norms[item];
      this.norms[item] = 0;
    }
  }

  /** Multiplies every stored count (decay rebase). O(state), rare. */
  rescale(f: number): void {
    for (const [k, v] of this.pairs) this.pairs.set(k, v * f);
    for (let i = 0; i < this.norms.length; i++) this.norms[i] *= f;
    this.total *= f;
  }
}
