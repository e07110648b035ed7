/**
 * (a) Pure co-occurrence deltas. An interaction (user, item, weight, time) against the user's current
 * history (last H distinct items) yields:
 *   - pair increments  C(item, j) += Δw · w_j · recency(j) · scale(t)   for every j in the history,
 *   - a norm increment N(item) += (w² − w0²) · scale(t),
 *   - the user's new history.
 * Semantics: within the window, the user-item matrix A holds the strongest interaction weight A[u,i] = max w,
 * C = AᵀA off the diagonal and N = diag(AᵀA); so with recency 'none', no decay and H ≥ the user's distinct
 * items, cosine C(a,b)/√(N(a)N(b)) is exactly the batch cosine of A's columns (see the property test).
 * A repeated interaction of no greater weight only refreshes the item's place in the history; an upgrade
 * (view → purchase) adds the difference. An item that fell out of the window and comes back counts afresh.
 * Work per event: O(H), whatever the user's or the item's popularity.
 *
 * Identity stitching (`mergeHistories`, a merge record in `batchDeltas`) unions an anonymous user's history into
 * a known user's and emits nothing: the anonymous user's interactions were counted in C and N when they happened,
 * and pairing them again with the known user's history would count them twice. Only the known user's later
 * interactions pair with the merged history.
 *
 * Nothing here touches state: results go to a `CoocDeltaSink` — the in-memory state applies them directly,
 * `CoocBatchDelta` combines a micro-batch per item key for a remote store (Redis).
 */

export interface UserHistory {
  /** Interned item ids, oldest first, distinct, at most H. */
  readonly items: readonly number[];
  /** Strongest interaction weight per item (parallel to items). */
  readonly weights: readonly number[];
  /** Last interaction time per item, epoch ms (parallel to items). */
  readonly times: readonly number[];
}

export const EMPTY_HISTORY: UserHistory = { items: [], weights: [], times: [] };

export interface CoocDeltaSink {
  /** Symmetric increment of C(a, b), a ≠ b, already scaled by the decay clock. */
  pair(a: number, b: number, inc: number): void;
  /** Increment of N(a), already scaled. */
  norm(a: number, inc: number): void;
}

export interface DeltaParams {
  historySize: number;
  recency: 'none' | 'position' | 'time';
  positionDecay: number;
  timeHalfLifeMs: number;
}

/**
 * Emits the deltas of one interaction into `sink` and returns the user's new history (a fresh object; the
 * input is not modified). `scale` is the decay clock's factor at `time` (1 without decay).
 */
export function interactionDeltas(
  history: UserHistory,
  item: number,
  weight: number,
  time: number,
  scale: number,
  p: DeltaParams,
  sink: CoocDeltaSink,
): UserHistory {
  const { items, weights, times } = history;
  const n = items.length;
  const at = items.indexOf(item);
  const w0 = at >= 0 ? weights[at] : 0;
  const dw = weight - w0;
  if (dw > 0) {
    sink.norm(item, (weight * weight - w0 * w0) * scale);
    for (let k = n - 1, rank = 0; k >= 0; k--) {
      const j = items[k];
      if (j === item) continue;
      let rec = 1;
      if (p.recency === 'time') {
        const dt = time - times[k];
        // same time stamp (same order): exp(-0) = 1 exactly, skip the call
        if (dt !== 0) rec = Math.exp((-Math.LN2 * Math.max(0, dt)) / p.timeHalfLifeMs);
      } else if (p.recency === 'position') rec = Math.pow(p.positionDecay, rank);
      rank++;
      sink.pair(item, j, dw * weights[k] * rec * scale);
    }
  }
  // New history: item moves to the newest end with max weight; the oldest falls out beyond H.
  const newW = Math.max(weight, w0);
  const outItems: number[] = [];
  const outWeights: number[] = [];
  const outTimes: number[] = [];
  // the old items without `item`, then `item`; the oldest `drop` fall out beyond H
  let drop = n - (at >= 0 ? 1 : 0) + 1 - p.historySize;
  for (let k = 0; k < n; k++) {
    if (k === at) continue;
    if (drop > 0) {
      drop--;
      continue;
    }
    outItems.push(items[k]);
    outWeights.push(weights[k]);
    outTimes.push(times[k]);
  }
  if (drop > 0) return { items: [], weights: [], times: [] };
  outItems.push(item);
  outWeights.push(newW);
  outTimes.push(time);
  return { items: outItems, weights: outWeights, times: outTimes };
}

/**
 * The history of a known user who absorbs an anonymous user's (identity stitching), a fresh object; neither input
 * is modified. Union by item: the strongest weight and the latest time of each; oldest first by time (ties keep
 * known's relative order, then anon's); the newest `historySize` items. Pure: no deltas — the caller emits none
 * for a merge (see the module comment).
 */
export function mergeHistories(known: UserHistory, anon: UserHistory, historySize: number): UserHistory {
  // Position in the union: known's items in known's order, then anon's new items in anon's order.
  const at = new Map<number, number>();
  const items: number[] = [];
  const weights: number[] = [];
  const times: number[] = [];
  const add = (h: UserHistory) => {
    for (let k = 0; k < h.items.length; k++) {
      const item = h.items[k];
      const j = at.get(item);
      if (j === undefined) {
        at.set(item, items.length);
        items.push(item);
        weights.push(h.weights[k]);
        times.push(h.times[k]);
      } else {
        weights[j] = Math.max(weights[j], h.weights[k]);
        times[j] = Math.max(times[j], h.times[k]);
      }
    }
  };
  add(known);
  add(anon);
  // Array.prototype.sort is stable: equal times keep the union's order.
  const order = items.map((_, k) => k).sort((a, b) => times[a] - times[b]);
  const kept = order.slice(Math.max(0, order.length - historySize));
  return { items: kept.map((k) => items[k]), weights: kept.map((k) => weights[k]), times: kept.map((k) => times[k]) };
}

/** Pair key for combining: both ids < 2^26, so a·2^26 + b is an exact double. Stored with a < b. */
export function pairKey(a: number, b: number): number {
  return a < b ? a * 67_108_864 + b : b * 67_108_864 + a;
}
export function pairFromKey(key: number): [number, number] {
  const a = Math.floor(key / 67_108_864);
  return [a, key - a * 67_108_864];
}

/** A micro-batch of deltas combined per key: what a remote store needs to write (one row per touched item). */
export class CoocBatchDelta implements CoocDeltaSink {
  /** pairKey(a,b) (a < b) → summed increment. */
  readonly pairs = new Map<number, number>();
  readonly norms = new Map<number, number>();
  /** userId → history after the batch. */
  readonly histories = new Map<string, UserHistory>();
  /** Items whose norm or pairs changed. */
  readonly touched = new Set<number>();

  pair(a: number, b: number, inc: number): void {
    const k = pairKey(a, b);
    this.pairs.set(k, (this.pairs.get(k) ?? 0) + inc);
    this.touched.add(a);
    this.touched.add(b);
  }
  norm(a: number, inc: number): void {
    this.norms.set(a, (this.norms.get(a) ?? 0) + inc);
    this.touched.add(a);
  }
}

export interface InternedInteraction {
  userId: string;
  item: number;
  weight: number;
  time: number;
  /**
   * A reset of the user's history at this place (users' rights: erasure, consent withdrawn); item, weight and
   * time are ignored. Later interactions of the user start from the empty history.
   */
  reset?: true;
  /**
   * A merge at this place (identity stitching): the user's history becomes mergeHistories(history, merge, H);
   * item, weight and time are ignored, and the merge emits no pair or norm delta. Later interactions of the user
   * pair with the merged history.
   */
  merge?: UserHistory;
}

/**
 * Pure: the combined deltas of a micro-batch, given each user's history before the batch. A user appearing
 * several times in the batch sees their own earlier events of the batch (up to a reset, which empties the
 * history: `histories` then holds the history after it, empty when nothing followed; and up to a merge, which
 * unions the merged history into it and emits nothing). Events with weight ≤ 0 are skipped.
 */
export function batchDeltas(
  events: readonly InternedInteraction[],
  historyOf: (userId: string) => UserHistory | undefined,
  scaleAt: (time: number) => number,
  p: DeltaParams,
): CoocBatchDelta {
  const out = new CoocBatchDelta();
  for (const e of events) {
    if (e.reset) {
      out.histories.set(e.userId, EMPTY_HISTORY);
      continue;
    }
    if (e.merge) {
      const h = out.histories.get(e.userId) ?? historyOf(e.userId) ?? EMPTY_HISTORY;
      out.histories.set(e.userId, mergeHistories(h, e.merge, p.historySize));
      continue;
    }
    if (!(e.weight > 0)) continue;
    const h = out.histories.get(e.userId) ?? historyOf(e.userId) ?? EMPTY_HISTORY;
    out.histories.set(e.userId, interactionDeltas(h, e.item, e.weight, e.time, scaleAt(e.time), p, out));
  }
  return out;
}
