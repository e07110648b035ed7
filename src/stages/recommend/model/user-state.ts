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
