/**
 * The ingest processor's pure half: turns a partition's valid records into per-user and per-item deltas
 * that the state store applies with its scripts. Records keep their offsets so the scripts can skip replays.
 */
import { isActivity, type UserEvent } from '../../domain/events.js';
import type { ProfileSnapshot } from '../../domain/profile.js';

/**
 * [offset, type, itemId or false, eventTime]: compact because it travels to Lua as JSON. A reset (see OffsetEvent)
 * travels as type RESET_RECORD: applyUserEvents-4.lua clears the user's counts, recent items and purchases at that
 * offset, in order with the user's other records, and does not count it. A merge travels as type MERGE_RECORD, and
 * its third element is then not an item id but the JSON of the anonymous profile's ActivitySnapshot
 * (domain/profile.ts): the script adds it to the user's counts, recent items and purchases at that offset, in order
 * with the user's other records, and does not count it as an event.
 */
export type UserRecordDelta = [number, string, string | false, number];

/**
 * The type of a reset record in a UserRecordDelta. Not an event type (validation admits only EVENT_TYPES), so no
 * event can be mistaken for a reset, and never a field of the counts hash (a reset is not counted).
 */
export const RESET_RECORD = '!reset';

/**
 * The type of a merge record in a UserRecordDelta (identity stitching, domain/profile.ts): its third element is the
 * JSON of an ActivitySnapshot. Like RESET_RECORD, never an event type and never a field of the counts hash.
 */
export const MERGE_RECORD = '!merge';

/** [offset, itemId, delta]. */
export type PopularityDelta = [number, string, number];

/** Why a user's state is reset at an event (the rights stage sets it; docs/privacy.md). */
export type ResetCause = 'erasure' | 'consent';

/**
 * A valid event at its source offset. After the rights stage (src/stages/rights/), `event.userId` is the user's
 * pseudonym, and:
 *  - `reset` set: the user's per-user state is reset to empty at this offset (erasure, or personalization consent
 *    withdrawn), segments are exited with that cause, and the event is not activity (not counted, not learned);
 *    later events of the user in the micro-batch start a new profile;
 *  - `anonymous` set: the user has no personalization consent, but the deployment lets such events count in
 *    anonymous aggregates (ATTUNE_CONSENT_ANONYMOUS_AGGREGATES): only popularity sees it; per-user stages skip it.
 * Consent and erase events without `reset` never reach the later stages.
 */
export interface OffsetEvent {
  offset: number;
  event: UserEvent;
  reset?: ResetCause;
  anonymous?: true;
  /**
   * Set by the rights stage on a known user's identify record that carries an anonymous profile: per-user stages
   * merge the snapshot at this offset; not activity (not counted, never in popularity).
   */
  merge?: ProfileSnapshot;
}

export interface IngestPlan {
  /**
   * Per user (pseudonym), its records in offset order (users in first-seen order, so the plan is deterministic):
   * activity, resets and merges (MERGE_RECORD, for a merge whose snapshot has activity); no anonymous record (no
   * per-user state without consent).
   */
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
  const userList = (u: string): UserRecordDelta[] => {
    let list = users.get(u);
    if (!list) users.set(u, (list = []));
    return list;
  };
  for (const { offset, event: e, reset, anonymous, merge } of records) {
    if (reset) {
      // A per-user delta like the others (offset-gated in the script, in order with the user's records).
      userList(e.userId).push([offset, RESET_RECORD, false, e.eventTime]);
      continue;
    }
    if (merge) {
      // The anonymous profile's activity, merged like a record (offset-gated, in order); an identify event is no
      // activity, so never popularity. Nothing to merge without activity; nothing per user when anonymous.
      if (merge.activity && !anonymous) userList(e.userId).push([offset, MERGE_RECORD, JSON.stringify(merge.activity), e.eventTime]);
      continue;
    }
    // Rights requests are not counted (as a reset they clear the user's activity; without `reset` the rights stage
    // does not pass them on); impressions are for attribution only (domain/events.ts, isActivity).
    if (!isActivity(e.type)) continue;
    // Anonymous (no personalization consent, anonymous aggregates allowed): popularity only.
    if (!anonymous) userList(e.userId).push([offset, e.type, e.itemId ?? false, e.eventTime]);
    const w = popularityWeight(e);
    if (w !== 0) popularity.push([offset, e.itemId as string, w]);
  }
  return { users, popularity };
}
