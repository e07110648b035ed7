/**
 * Live recommendation quality (attune_online_interactions_total / attune_online_hits_total): for each purchase or
 * click of a user who had a list emitted, whether its item was in that list — the list the user was shown when
 * acting, i.e. the last one emitted before the event. Lists are recomputed once per micro-batch, so for every
 * event of a user in a micro-batch that is the list stored before it; a reset (erasure, consent withdrawn) in the
 * micro-batch withdraws it for the user's later events. Live HR@K by strategy is hits / interactions. Pure; the
 * work is one set lookup per event.
 */
import type { OffsetEvent } from '../ingest/plan.js';

export const ONLINE_TYPES = ['purchase', 'click'] as const;
export type OnlineType = (typeof ONLINE_TYPES)[number];

export interface OnlineInteraction {
  type: OnlineType;
  hit: boolean;
}

const isOnlineType = (t: string): t is OnlineType => (ONLINE_TYPES as readonly string[]).includes(t);

/**
 * The interactions among one user's `records` (offset order, those not yet reflected in the user's state) given
 * the items of the user's last emitted list (null: no list emitted, or none since the last reset).
 */
export function onlineInteractions(records: readonly OffsetEvent[], lastList: readonly string[] | null): OnlineInteraction[] {
  let shown = lastList === null ? null : new Set(lastList);
  const out: OnlineInteraction[] = [];
  for (const r of records) {
    if (r.reset !== undefined) { shown = null; continue; }
    const { type, itemId } = r.event;
    if (shown === null || !isOnlineType(type) || !itemId) continue;
    out.push({ type, hit: shown.has(itemId) });
  }
  return out;
}
