/**
 * (b) In-memory co-occurrence state: applies deltas. Rows are per item (row a holds C(a,·)), the shape a
 * per-item writer in Redis would own (one hash per item). Counts are stored scaled by the decay clock
 * (see decay.ts), so ratios need no rescaling.
 */
import { pairFromKey, type CoocBatchDelta, type CoocDeltaSink } from './deltas.js';

export class CoocState implements CoocDeltaSink {
  private rows: Map<number, number>[] = [];
  private norms = new Float64Array(1024);
  /** Σ of all norm increments (the "total mass", for LLR). */
  total = 0;
  /** Number of distinct stored pairs (each counted once). */
  pairCount = 0;

  private ensure(a: number): void {
    if (a >= this.norms.length) {
      let n = this.norms.length;
      while (n <= a) n *= 2;
      const next = new Float64Array(n);
      next.set(this.norms);
      this.norms = next;
    }
    while (this.rows.length <= a) this.rows.push(new Map());
  }

  pair(a: number, b: number, inc: number): void {
    this.ensure(a > b ? a : b);
    const ra = this.rows[a];
    const prev = ra.get(b);
    if (prev === undefined) this.pairCount++;
    ra.set(b, (prev ?? 0) + inc);
    const rb = this.rows[b];
    rb.set(a, (rb.get(a) ?? 0) + inc);
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
      const [a, b] = pairFromKey(k);
      this.pair(a, b, inc);
    }
  }

  cooc(a: number, b: number): number {
    return this.rows[a]?.get(b) ?? 0;
  }

  normOf(a: number): number {
    return a < this.norms.length ? this.norms[a] : 0;
  }

  row(a: number): ReadonlyMap<number, number> | undefined {
    return this.rows[a];
  }

  /** Removes an item's row and its column entries (erasure / catalog deletion). O(row size). */
  dropItem(a: number): void {
    const r = this.rows[a];
    if (!r) return;
    for (const b of r.keys()) {
      this.rows[b]?.delete(a);
      this.pairCount--;
    }
    r.clear();
    this.total -= this.norms[a];
    this.norms[a] = 0;
  }

  /** Multiplies every stored count (decay rebase). O(state), rare. */
  rescale(f: number): void {
    for (const r of this.rows) for (const [b, v] of r) r.set(b, v * f);
    for (let i = 0; i < this.norms.length; i++) this.norms[i] *= f;
    this.total *= f;
  }
}
