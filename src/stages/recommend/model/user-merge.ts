/**
 * Identity stitching in the model: the known user `userId` absorbs an anonymous user's recommender state, at its
 * place in a micro-batch. History: mergeHistories (union by item, strongest weight, latest time, newest H); purchase
 * log: per item the summed count and latest time, least recently purchased first, the newest buyAgain.maxItems;
 * country: the known user's, else the snapshot's; lastTime: the later. A merge adds nothing to co-occurrence (the
 * anonymous user's events were counted when they happened) nor to trending, and is not counted in `learned`.
 * Items the model refuses (past limits.maxItems) drop out, and so do history entries of weight ≤ 0 and purchase
 * entries of count ≤ 0 (a state never holds them: a hostile snapshot could).
 */
import type { UserHistory } from './deltas.js';
import type { ItemTable } from './item-table.js';
import { mergePurchases, type PurchaseEntry, type UserState } from './user-state.js';

export interface UserMerge {
  readonly merge: true;
  readonly userId: string;
  /** The anonymous profile's recommender state, item ids as strings (domain/profile.ts RecommenderSnapshot). */
  readonly state: MergedState;
}

export interface MergedState {
  h: { i: string[]; w: number[]; t: number[] };
  p: Array<[string, number, number]>;
  c: string | null;
  lt: number;
}

/** A snapshot's history with interned ids; refused items and entries of weight ≤ 0 drop out. */
export function internHistory(h: MergedState['h'], items: ItemTable): UserHistory {
  const ids: number[] = [];
  const weights: number[] = [];
  const times: number[] = [];
  for (let k = 0; k < h.i.length; k++) {
    if (!(h.w[k] > 0)) continue;
    const item = items.intern(h.i[k]);
    if (item < 0) continue; // past limits.maxItems
    ids.push(item);
    weights.push(h.w[k]);
    times.push(h.t[k]);
  }
  return { items: ids, weights, times };
}

/** A snapshot's purchase log with interned ids; refused items and entries of count ≤ 0 drop out. */
export function internPurchases(p: MergedState['p'], items: ItemTable): Array<[number, PurchaseEntry]> {
  const out: Array<[number, PurchaseEntry]> = [];
  for (const [id, count, last] of p) {
    if (!(count > 0)) continue;
    const item = items.intern(id);
    if (item < 0) continue; // past limits.maxItems
    out.push([item, { count, last }]);
  }
  return out;
}

/** A merge's purchase log (interned), country and lastTime, into the known user's state (the caller merges the history). */
export function mergeRest(u: UserState, state: MergedState, purchases: Array<[number, PurchaseEntry]>, maxPurchases: number): void {
  mergePurchases(u.purchases, purchases, maxPurchases);
  if (!u.country && state.c) u.country = state.c;
  u.lastTime = Math.max(u.lastTime, state.lt);
}
