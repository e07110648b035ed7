/**
 * The pure core of a rules re-evaluation (rules-reevaluation.ts does the I/O): users evaluated again with the
 * worker's rules at the partition watermark, and the member set states the partition script writes.
 */
import type { SegmentChange } from '../../domain/events.js';
import type { FeatureConfig } from './features/config.js';
import { createFeatureView } from './features/view.js';
import type { CompiledSegments } from './core/compile.js';
import { nextSince, segmentChanges, RULES_CAUSE, timerDue } from './core/tracker.js';
import type { StoredUser } from './stored.js';

/**
 * Every given user (with feature state; one a reset left empty, n = 0, is skipped) evaluated at the partition watermark `now` with `rules`. Changes carry
 * cause "rules" and event time `now`, in (user, segment) order.
 * `writes` are the users whose segments or timer changed (offset and pending unchanged); `finals` all users.
 */
export function reevaluateUsers(
  ids: readonly string[], users: readonly StoredUser[], now: number, rules: CompiledSegments, features: FeatureConfig, emittedAt: number,
): { changes: SegmentChange[]; writes: Array<[string, StoredUser]>; finals: Array<[string, StoredUser]> } {
  const changes: SegmentChange[] = [];
  const writes: Array<[string, StoredUser]> = [];
  const finals: Array<[string, StoredUser]> = [];
  ids.forEach((id, i) => {
    const u = users[i]!;
    // A user a reset left empty is forgotten (core/engine.ts): nothing to evaluate, state unchanged.
    if (u.features.n === 0) {
      finals.push([id, u]);
      return;
    }
    const view = createFeatureView(u.features, features);
    const next = [...rules.evaluate(view, now)].sort();
    const nct = rules.nextChangeTime(view, now);
    const due = nct === null ? null : timerDue(nct, features.timerResolutionMs);
    const mine = segmentChanges(id, u.segments, next, now, RULES_CAUSE, emittedAt);
    changes.push(...mine);
    const same = due === u.due && next.length === u.segments.length && next.every((s, k) => s === u.segments[k]);
    const fin = same ? u : { ...u, segments: next, due, since: nextSince(u.since, mine) };
    if (!same) writes.push([id, fin]);
    finals.push([id, fin]);
  });
  return { changes, writes, finals };
}

/** Member set states [segment, user, 1 | 0] of the given users for the segments with member sets. */
export function memberStates(memberSegments: readonly string[], finals: ReadonlyMap<string, readonly string[]>): Array<[string, string, 0 | 1]> {
  const out: Array<[string, string, 0 | 1]> = [];
  if (memberSegments.length === 0) return out;
  for (const [id, segs] of finals) for (const s of memberSegments) out.push([s, id, segs.includes(s) ? 1 : 0]);
  return out;
}

/** Ids of the segments configured with `members: true` (those that keep a member set). */
export function memberSegmentIds(rules: CompiledSegments): string[] {
  return rules.segments.filter((s) => s.members).map((s) => s.id);
}
