/**
 * Per-user state, kept small and bounded so it can live in one Redis hash per user later:
 * the co-occurrence history (last H distinct items), a bounded purchase log for buy-again and the
 * purchased-within-window filter, and the last seen country.
 */
import { EMPTY_HISTORY, type UserHistory } from './deltas.js';

export interface PurchaseEntry {
  count: number;
  last: number;
}

export interface UserState {
  history: UserHistory;
  /** item → purchases; insertion order = least recently purchased first (LRU, at most maxItems). */
  purchases: Map<number, PurchaseEntry>;
  country: string | null;
  lastTime: number;
}

export function newUserState(): UserState {
  return { history: EMPTY_HISTORY, purchases: new Map(), country: null, lastTime: 0 };
}

/** Records a repurchasable interaction in the bounded LRU purchase log (mutates `log`). */
export function recordPurchase(log: Map<number, PurchaseEntry>, item: number, time: number, maxItems: number): void {
  const prev = log.get(item);
  if (prev) log.delete(item);
  log.set(item, { count: (prev?.count ?? 0) + 1, last: time });
  if (log.size > maxItems) {
    const oldest = log.keys().next().value;
    if (oldest !== undefined) log.delete(oldest);
  }
}

/**
 * Merges another user's purchase log into `log` (identity stitching: a known user absorbs an anonymous user's;
 * mutates `log`, not `other`). Per item: count = the sum, last = the latest. The result's insertion order is
 * ascending `last` (ties: `log`'s order, then `other`'s), so it stays least recently purchased first; beyond
 * `maxItems` the least recently purchased drop out.
 */
export function mergePurchases(log: Map<number, PurchaseEntry>, other: Iterable<readonly [number, PurchaseEntry]>, maxItems: number): void {
  const all = new Map<number, PurchaseEntry>();
  for (const [item, e] of log) all.set(item, { count: e.count, last: e.last });
  for (const [item, e] of other) {
    const prev = all.get(item);
    if (prev) {
      prev.count += e.count;
      prev.last = Math.max(prev.last, e.last);
    } else all.set(item, { count: e.count, last: e.last });
  }
  // Array.prototype.sort is stable: equal times keep the union's order.
  const sorted = [...all].sort((a, b) => a[1].last - b[1].last);
  log.clear();
  for (const [item, e] of sorted.slice(Math.max(0, sorted.length - maxItems))) log.set(item, e);
}
