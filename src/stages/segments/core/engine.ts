/**
 * Reference per-partition processor (pure, in memory): the exact semantics the worker reproduces with Kafka and
 * Redis. Per event: classify lateness against the partition watermark (too late -> rejected, TOO_LATE); advance
 * the watermark (to the event time, clamped to the record's Kafka timestamp plus the allowed skew) and first fire, in (due time, user id) order, every timer due at or before it; then apply the
 * event to the user's features and evaluate the user's segments at the watermark; finally reschedule the user's
 * timer at nextChangeTime rounded up to the timer resolution. A fired timer evaluates at its due time with cause
 * "time". Since everything happens per event, the output does not depend on how the stream is batched.
 *
 * Users' rights marks (set by the rights stage, src/stages/ingest/plan.ts `OffsetEvent`):
 *  - `anonymous`: the event is absent for this stage: no lateness check, no watermark move, no timers, no features.
 *  - `reset`: never too late (an erasure must not be dropped for lateness) and no watermark move, no timers fired
 *    (it is not activity). The user exits every segment they are in, with cause `erasure` / `consent` and event
 *    time max(watermark, the event's time) (the event's time before any watermark: then the user has no state, so
 *    no exit): the time an ordinary event at that step is evaluated at, a function of the input only. Then the user
 *    is forgotten (features, segments, timer), exactly as if never seen: a later event starts a fresh profile,
 *    and a rules re-evaluation does not evaluate them.
 *  - `merge` (identity stitching: an anonymous profile's copy reaching its known user): never too late, no
 *    watermark move, no timers fired; the profile's features are merged into the user's (features/merge.ts) and the
 *    user's segments are re-evaluated at resetTime(watermark, the event's time), with the merge record's event id
 *    as the cause. A user not seen before starts from an empty state.
 */
import { TimerHeap } from './timer-heap.js';
import type { SegmentChange, UserEvent } from '../../../domain/events.js';
import type { FeatureConfig } from '../features/config.js';
import type { OffsetEvent } from '../../ingest/plan.js';
import { applyEvent, dict, emptyFeatureState, parseFeatureState, type CategoryLookup, type UserFeatureState } from '../features/state.js';
import { mergeFeatureStates } from '../features/merge.js';
import type { ProfileSnapshot } from '../../../domain/profile.js';
import { createFeatureView } from '../features/view.js';
import { clampedWatermark, classifyLateness, TOO_LATE, type Lateness } from '../features/watermark.js';
import type { CompiledSegments } from './compile.js';
import { segmentChanges, TIME_CAUSE, timerDue } from './tracker.js';

export interface UserRecord {
  features: UserFeatureState;
  /** Current segments, sorted. */
  segments: string[];
  /** When the user's next re-evaluation is due (event time), or null. */
  due: number | null;
}

export interface PartitionSnapshot {
  watermark: number | null;
  users: Record<string, UserRecord>;
}

export interface ProcessResult {
  lateness: Lateness;
  rejected: typeof TOO_LATE | null;
  changes: SegmentChange[];
}

export interface EngineOptions {
  features: FeatureConfig;
  segments: CompiledSegments;
  itemCategories?: CategoryLookup;
  snapshot?: PartitionSnapshot;
  /** Wall clock for SegmentChange.emittedAt; defaults to the change's event time (deterministic). */
  clock?: () => number;
}

/** The rights marks of a record (see the header). */
export type RecordMarks = Pick<OffsetEvent, 'reset' | 'anonymous' | 'merge'>;

/** Event time of the exits a reset causes: the time an ordinary event at that step is evaluated at. */
export function resetTime(watermark: number | null, eventTime: number): number {
  return watermark === null ? eventTime : Math.max(watermark, eventTime);
}

export class PartitionEngine {
  private watermark: number | null;
  private readonly users = new Map<string, UserRecord>();
  /** Timers by (due, userId); stale entries (due != user's due) are skipped. */
  private heap = new TimerHeap();

  constructor(private readonly opts: EngineOptions) {
    const snap = opts.snapshot ? (JSON.parse(JSON.stringify(opts.snapshot)) as PartitionSnapshot) : null;
    this.watermark = snap?.watermark ?? null;
    for (const [id, rec] of Object.entries(snap?.users ?? {})) {
      this.users.set(id, rec);
      if (rec.due !== null) this.heap.push(rec.due, id);
    }
  }

  get currentWatermark(): number | null {
    return this.watermark;
  }

  user(userId: string): UserRecord | undefined {
    return this.users.get(userId);
  }

  /**
   * `cap`: the highest watermark this event may set (its record's Kafka timestamp plus the allowed skew, see
   * `clampedWatermark`); the event is still evaluated at max(watermark, its time).
   */
  process(event: UserEvent, cap = Infinity, marks: RecordMarks = {}): ProcessResult {
    if (marks.anonymous) return { lateness: 'on_time', rejected: null, changes: [] };
    if (marks.reset) return { lateness: 'on_time', rejected: null, changes: this.reset(event.userId, marks.reset, event.eventTime) };
    if (marks.merge) return { lateness: 'on_time', rejected: null, changes: this.merge(event, marks.merge) };
    const lateness = classifyLateness(event.eventTime, this.watermark, this.opts.features.allowedLatenessMs);
    if (lateness === 'too_late') return { lateness, rejected: TOO_LATE, changes: [] };
    const now = this.watermark === null ? event.eventTime : Math.max(this.watermark, event.eventTime);
    const changes = this.fireDue(clampedWatermark(this.watermark, event.eventTime, cap));
    this.watermark = clampedWatermark(this.watermark, event.eventTime, cap);
    const rec = this.users.get(event.userId) ?? { features: emptyFeatureState(), segments: [], due: null };
    this.users.set(event.userId, rec);
    applyEvent(rec.features, event, this.opts.features, this.opts.itemCategories);
    changes.push(...this.reevaluate(event.userId, rec, now, event.eventId));
    return { lateness, rejected: null, changes };
  }

  /**
   * Resets the user at a `reset` event (see the header): exits of every segment with `cause` at
   * resetTime(watermark, eventTime), then the user is forgotten. A user in no segment yields no change.
   */
  reset(userId: string, cause: string, eventTime: number): SegmentChange[] {
    const rec = this.users.get(userId);
    if (!rec) return [];
    const now = resetTime(this.watermark, eventTime);
    const changes = segmentChanges(userId, rec.segments, [], now, cause, this.opts.clock?.() ?? now);
    this.users.delete(userId); // its timer entry in the heap goes stale: fireDue skips users it does not know
    return changes;
  }

  /** Merges an anonymous profile's features into the user's at a `merge` record (see the header). */
  merge(event: UserEvent, profile: ProfileSnapshot): SegmentChange[] {
    const rec = this.users.get(event.userId) ?? { features: emptyFeatureState(), segments: [], due: null };
    this.users.set(event.userId, rec);
    // The stored form, as the worker reads it (a damaged one throws, as there).
    if (profile.features) mergeFeatureStates(rec.features, parseFeatureState(JSON.stringify(profile.features)), this.opts.features);
    return this.reevaluate(event.userId, rec, resetTime(this.watermark, event.eventTime), event.eventId);
  }

  /** Punctuation (e.g. wall-clock fallback on an idle partition): advances the watermark, fires due timers. */
  advanceTo(time: number): SegmentChange[] {
    if (this.watermark !== null && time <= this.watermark) return this.fireDue(this.watermark);
    const changes = this.fireDue(time);
    this.watermark = time;
    return changes;
  }

  /** Re-evaluates every known user at the watermark (e.g. after the rule file changed), user id order. */
  reevaluateAll(cause = 'rules'): SegmentChange[] {
    if (this.watermark === null) return [];
    const out: SegmentChange[] = [];
    for (const id of [...this.users.keys()].sort()) out.push(...this.reevaluate(id, this.users.get(id)!, this.watermark, cause));
    return out;
  }

  snapshot(): PartitionSnapshot {
    // User ids are input: a prototype-less object keeps `__proto__` or `constructor` an ordinary user.
    const users = dict<UserRecord>();
    for (const id of [...this.users.keys()].sort()) users[id] = this.users.get(id)!;
    return JSON.parse(JSON.stringify({ watermark: this.watermark, users })) as PartitionSnapshot;
  }

  private reevaluate(userId: string, rec: UserRecord, now: number, cause: string): SegmentChange[] {
    const view = createFeatureView(rec.features, this.opts.features);
    const next = [...this.opts.segments.evaluate(view, now)].sort();
    const emittedAt = this.opts.clock?.();
    const changes = segmentChanges(userId, rec.segments, next, now, cause, emittedAt ?? now);
    rec.segments = next;
    const nct = this.opts.segments.nextChangeTime(view, now);
    const due = nct === null ? null : timerDue(nct, this.opts.features.timerResolutionMs);
    if (due !== rec.due) {
      rec.due = due;
      if (due !== null) this.heap.push(due, userId);
    }
    return changes;
  }

  private fireDue(upTo: number): SegmentChange[] {
    const out: SegmentChange[] = [];
    while (this.heap.size > 0 && this.heap.peek()![0] <= upTo) {
      const [due, id] = this.heap.pop()!;
      const rec = this.users.get(id);
      if (!rec || rec.due !== due) continue;
      rec.due = null;
      out.push(...this.reevaluate(id, rec, due, TIME_CAUSE));
    }
    return out;
  }
}
