/**
 * The stage's state as the replay sees it: plain data, shared by the pure replay (batch.ts, reevaluate-users.ts)
 * and the Redis store (store.ts) that loads and writes it. Kept apart from store.ts so the pure modules need no
 * import of the Redis side, not even for types.
 */
import type { SegmentChange } from '../../domain/events.js';
import type { UserFeatureState } from './features/state.js';

/** A segment change with the source offset of the step that caused it (header attune.source). */
export interface PendingChange extends SegmentChange {
  o: number;
}

export interface StoredUser {
  features: UserFeatureState;
  /** Sorted segment ids. */
  segments: string[];
  due: number | null;
  /** Last partition offset reflected in the state; -1 when none. */
  offset: number;
  pending: PendingChange[];
  /**
   * Since when the user is in each of its segments, and why: segment id → [the partition's event time at the
   * entry, its cause] (the entering event's id, `time`, `rules`, …). Kept by every change (nextSince, core/tracker.ts); a segment entered before the
   * state kept it has no entry (the API says null).
   */
  since: SegmentSince;
}

export type SegmentSince = Record<string, [number, string]>;

/**
 * The stored `since` field (segment id → [entry event time, cause]); absent (a state written before it was kept)
 * reads as {}. Throws unless it is an object of [number, string] pairs.
 */
export function parseSince(json: string | null | undefined): SegmentSince {
  if (!json) return {};
  const v = JSON.parse(json) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object of segment entries');
  // No prototype: a stored key named __proto__ stays an entry (ignored by readers), not a prototype.
  const out: SegmentSince = Object.create(null) as SegmentSince;
  for (const [id, e] of Object.entries(v)) {
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'number' || typeof e[1] !== 'string') throw new Error('not an object of segment entries');
    out[id] = [e[0], e[1]];
  }
  return out;
}
