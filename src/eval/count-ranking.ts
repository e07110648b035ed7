/**
 * Items ranked by an event count (most first, ties by the smaller id: the earlier seen), kept sorted as counts
 * grow one at a time. The popularity baseline reads it, and the item-kNN baseline uses it for n_i, for its
 * tie-break ("ties by popularity") and to fill short lists.
 *
 * One increment moves the item to its new place: its current and new positions are found by binary search
 * (the order is sorted by (count desc, id asc), and the item's own key is known), and the items in between
 * shift by one with a native copyWithin. O(log items + distance) per event, no per-item position array.
 */
export class CountRanking {
  /** counts[id]: events of the item so far. */
  counts = new Int32Array(1024);
  /** Item ids, best first. */
  private order = new Int32Array(1024);
  size = 0;

  count(id: number): number {
    return id < this.size ? this.counts[id] : 0;
  }

  /** Whether a ranks before b (count desc, id asc). */
  before(a: number, b: number): boolean {
    const ca = this.counts[a];
    const cb = this.counts[b];
    return ca > cb || (ca === cb && a < b);
  }

  /** One more event of item `id` (ids are dense: a new one is `size`). */
  add(id: number): void {
    if (id > this.size) throw new Error(`CountRanking: ids must be dense (got ${id}, next is ${this.size})`);
    if (id === this.size) this.append(id);
    const c = this.counts[id];
    const order = this.order;
    // current position: the first entry not ranked before (c, id) — the item itself
    const at = this.lowerBound(c, id, 0, this.size);
    this.counts[id] = c + 1;
    // new position: the first entry in [0, at) not ranked before (c + 1, id)
    const to = this.lowerBound(c + 1, id, 0, at);
    if (to < at) {
      order.copyWithin(to + 1, to, at);
      order[to] = id;
    }
  }

  /** The best `n` items not excluded, written into `out`; returns how many (stops early at `n` or the end). */
  top(out: Int32Array | number[], n: number, exclude?: (id: number) => boolean, skip?: (id: number) => boolean): number {
    let k = 0;
    const order = this.order;
    for (let p = 0; p < this.size && k < n; p++) {
      const id = order[p];
      if ((exclude && exclude(id)) || (skip && skip(id))) continue;
      out[k++] = id;
    }
    return k;
  }

  /** First position in [lo, hi) whose entry does not rank before the key (count, id). */
  private lowerBound(count: number, id: number, lo: number, hi: number): number {
    const order = this.order;
    const counts = this.counts;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = order[mid];
      const cm = counts[m];
      if (cm > count || (cm === count && m < id)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private append(id: number): void {
    if (id >= this.counts.length) {
      const c = new Int32Array(this.counts.length * 2);
      c.set(this.counts);
      this.counts = c;
      const o = new Int32Array(this.order.length * 2);
      o.set(this.order);
      this.order = o;
    }
    // a new item has count 0 and the largest id: last
    this.counts[id] = 0;
    this.order[id] = id;
    this.size = id + 1;
  }
}
