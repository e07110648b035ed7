/**
 * The ingest processor's pure half: turns a partition's valid records into per-user and per-item deltas
 * that the state store applies with its scripts. Records keep their offsets so the scripts can skip replays.
 */
import type { UserEvent } from '../../domain/events.js';

/** [offset, type, itemId or false, eventTime]: compact because it travels to Lua as JSON. */
export type UserRecordDelta = [number, string, string | false, number];
/** [offset, itemId, delta]. */
export type PopularityDelta = [number, string, number];

export interface OffsetEvent {
  offset: number;
  event: UserEvent;
}

export interface IngestPlan {
  /** Per user, its records in offset order (users in first-seen order, so the plan is deterministic). */
  users: Map<string, UserRecordDelta[]>;
  popularity: PopularityDelta[];
}

/** What counts as popularity: purchases, by default weighted 1 per purchase event. */
export function popularityWeight(e: UserEvent): number {
  return e.type === 'purchase' && e.itemId ? 1 : 0;
}

export function planIngest(records: OffsetEvent[]): IngestPlan {
  const users = new Map<string, UserRecordDelta[]>();
  const popularity: PopularityDelta[] = [];
  for (const { offset, event: e } of records) {
    let list = users.get(e.userId);
    if (!list) users.set(e.userId, (list = []));
    list.push([offset, e.type, e.itemId ?? false, e.eventTime]);
    const w = popularityWeight(e);
    if (w !== 0) popularity.push([offset, e.itemId as string, w]);
  }
  return { users, popularity };
}
