import type { SegmentChange } from '../../../domain/events.js';
import type { SegmentSince } from '../stored.js';

/** Cause of a re-evaluation that no event triggered (a timer fired). */
export const TIME_CAUSE = 'time';
/** Cause of a re-evaluation after the rule file changed (a worker restarted with other rules). */
export const RULES_CAUSE = 'rules';

/**
 * Pure SegmentTracker step: the entries and exits between two memberships, sorted by segment id
 * (ids are unique, so the order is total and deterministic).
 */
export function segmentChanges(
  userId: string,
  previous: Iterable<string>,
  next: Iterable<string>,
  eventTime: number,
  cause: string,
  emittedAt: number = eventTime,
): SegmentChange[] {
  const prev = new Set(previous);
  const cur = new Set(next);
  const out: SegmentChange[] = [];
  for (const id of prev) if (!cur.has(id)) out.push({ userId, segmentId: id, change: 'exit', eventTime, cause, emittedAt });
  for (const id of cur) if (!prev.has(id)) out.push({ userId, segmentId: id, change: 'enter', eventTime, cause, emittedAt });
  out.sort((a, b) => (a.segmentId < b.segmentId ? -1 : a.segmentId > b.segmentId ? 1 : 0));
  return out;
}

/**
 * Pure: `since` after `changes` (one user's, in order): an entry records its event time and cause, an exit
 * forgets the segment. Returns a new object when anything changed, else `since` itself.
 */
export function nextSince(since: SegmentSince, changes: readonly SegmentChange[]): SegmentSince {
  if (changes.length === 0) return since;
  const out: SegmentSince = { ...since };
  for (const c of changes) {
    if (c.change === 'enter') out[c.segmentId] = [c.eventTime, c.cause];
    else delete out[c.segmentId];
  }
  return out;
}

/** Rounds a next-change time up to the timer resolution: the time to schedule the re-evaluation at. */
export function timerDue(nextChangeTime: number, resolutionMs: number): number {
  return Math.ceil(nextChangeTime / resolutionMs) * resolutionMs;
}
