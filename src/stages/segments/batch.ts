/**
 * The pure replay core of the stage: one micro-batch (or one punctuation) of a partition replayed in memory
 * with the semantics of the reference `PartitionEngine` (core/engine.ts), given the state loaded from Redis.
 * It decides everything the processor then writes: users' next states (CAS on their offset), the partition's
 * watermark, offset, too-late offsets and pending changes, the timer index, and the complete change list of the
 * range to emit and count. Why a replay of this kind is exactly-once is argued in the header of processor.ts
 * (frozen users, stored pending changes, timers as hints). No I/O: no Redis, no Kafka.
 *
 * Rights marks, as in the reference engine: an `anonymous` record is skipped entirely (no step of any user: no
 * lateness, watermark, timers or features; its user need not be loaded); a `reset` record is a step of its user
 * only — never too late, no watermark move, no timers — that exits every segment (cause = the reset's cause, event
 * time `resetTime`) and clears the user's features, segments and timer, offset-gated like an event. A `merge` record
 * (identity stitching: the known user's copy of an anonymous profile) is a step of its user only in the same way —
 * never too late, no watermark move — that merges the profile's features into the user's (features/merge.ts) and
 * re-evaluates the user's segments at `resetTime` (cause: the merge record's event id).
 */
import type { SegmentChange } from '../../domain/events.js';
import type { OffsetEvent } from '../ingest/plan.js';
import type { FeatureConfig } from './features/config.js';
import { applyEvent, emptyFeatureState, parseFeatureState, type CategoryLookup } from './features/state.js';
import { mergeFeatureStates } from './features/merge.js';
import { createFeatureView } from './features/view.js';
import { clampedWatermark, classifyLateness } from './features/watermark.js';
import type { CompiledSegments } from './core/compile.js';
import { resetTime } from './core/engine.js';
import { TimerHeap } from './core/timer-heap.js';
import { nextSince, segmentChanges, TIME_CAUSE, timerDue } from './core/tracker.js';
import type { PendingChange, StoredUser } from './stored.js';

export interface BatchPartitionState {
  watermark: number | null;
  /** Last offset whose steps the partition state reflects; -1 when none. */
  offset: number;
  late: number[];
  pending: PendingChange[];
}

export interface BatchOptions {
  features: FeatureConfig;
  segments: CompiledSegments;
  itemCategories?: CategoryLookup;
  /** Wall clock for emittedAt. */
  clock: () => number;
  /**
   * The highest watermark the record may set (`clampedWatermark`); absent: unbounded. Must be a function of the
   * record (its Kafka timestamp), not of when it is processed, so that a replay computes the same watermark.
   */
  watermarkCap?: (r: OffsetEvent) => number;
}

export interface UserWrite {
  expectedOffset: number;
  next: StoredUser;
}

export interface BatchResult {
  /** Every change after progress known so far, canonical order: to emit; count those up to partition.offset. */
  changes: PendingChange[];
  /** The changes computed now (not replayed from storage). */
  fresh: PendingChange[];
  tooLate: OffsetEvent[];
  partition: BatchPartitionState;
  /** Whether the watermark moved. */
  advanced: boolean;
  /** Users with at least one step applied now, to write back (CAS on expectedOffset). */
  writes: Map<string, UserWrite>;
  /** The final due of every loaded user, for the timer index. */
  timers: Array<[string, number | false]>;
}

/**
 * What a micro-batch must load before `runSegmentBatch`: the users of its records after the partition's offset
 * (anonymous records excepted: no step of anyone), the highest watermark the batch can reach (resets do not move
 * it; due timers up to it must be loaded) and the events whose features need item categories (resets apply none).
 */
export function batchInputs(
  records: readonly OffsetEvent[], partition: Pick<BatchPartitionState, 'offset' | 'watermark'>, watermarkCap?: (r: OffsetEvent) => number,
): { users: Set<string>; maxWatermark: number | null; featureEvents: OffsetEvent[] } {
  const users = new Set<string>();
  const featureEvents: OffsetEvent[] = [];
  let maxWatermark = partition.watermark;
  for (const r of records) {
    if (r.offset <= partition.offset || r.anonymous) continue;
    users.add(r.event.userId);
    if (r.reset || r.merge) continue;
    featureEvents.push(r);
    maxWatermark = clampedWatermark(maxWatermark, r.event.eventTime, watermarkCap?.(r));
  }
  return { users, maxWatermark, featureEvents };
}

const changeKey = (c: PendingChange) => `${c.o}\u0000${c.userId}\u0000${c.segmentId}\u0000${c.change}\u0000${c.eventTime}`;

/** Canonical order = the reference engine's: by step, then time, timers before the event, user, segment. */
export function compareChanges(a: PendingChange, b: PendingChange): number {
  return a.o - b.o || a.eventTime - b.eventTime || rank(a) - rank(b) || cmp(a.userId, b.userId) || cmp(a.segmentId, b.segmentId);
}
const rank = (c: SegmentChange) => (c.cause === TIME_CAUSE ? 0 : 1);
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Replays `records` (valid events in offset order) for one partition given the loaded state. `users` must hold
 * every user of a record with offset > partition.offset (anonymous records excepted: they are skipped) and every
 * user whose timer may fall due (it is not
 * mutated). `progress` is the events processor's progress offset (-1 when none). With `advanceTo` and no
 * records it is a punctuation: the watermark moves to `advanceTo` and due timers fire.
 */
export function runSegmentBatch(
  records: readonly OffsetEvent[],
  partition: BatchPartitionState,
  users: ReadonlyMap<string, StoredUser>,
  progress: number,
  opts: BatchOptions,
  advanceTo?: number,
): BatchResult {
  const P = partition.offset;
  const punctuation = advanceTo !== undefined;
  const batchLast = records.length ? records[records.length - 1]!.offset : P;
  const L = Math.max(P, batchLast);
  const mem = new Map<string, StoredUser>();
  for (const [id, u] of users) mem.set(id, structuredClone(u));
  const heap = new TimerHeap();
  for (const [id, u] of mem) if (u.due !== null) heap.push(u.due, id);

  let wm = partition.watermark;
  const fresh: PendingChange[] = [];
  const freshByUser = new Map<string, PendingChange[]>();
  const active = new Set<string>();
  const lateOffsets: number[] = partition.late.filter((o) => o > progress && o <= P);
  const storedLate = new Set(lateOffsets);
  const tooLate: OffsetEvent[] = [];

  const record = (id: string, u: StoredUser, next: string[], now: number, cause: string, step: number) => {
    const emittedAt = opts.clock();
    const changes = segmentChanges(id, u.segments, next, now, cause, emittedAt);
    u.since = nextSince(u.since, changes);
    for (const c of changes) {
      const pc: PendingChange = { ...c, o: step };
      fresh.push(pc);
      let list = freshByUser.get(id);
      if (!list) freshByUser.set(id, (list = []));
      list.push(pc);
    }
    u.segments = next;
    active.add(id);
  };

  const reevaluate = (id: string, u: StoredUser, now: number, cause: string, step: number) => {
    const view = createFeatureView(u.features, opts.features);
    record(id, u, [...opts.segments.evaluate(view, now)].sort(), now, cause, step);
    const nct = opts.segments.nextChangeTime(view, now);
    const due = nct === null ? null : timerDue(nct, opts.features.timerResolutionMs);
    if (due !== u.due) {
      u.due = due;
      if (due !== null) heap.push(due, id);
    }
  };

  const fireDue = (upTo: number, step: number) => {
    while (heap.size > 0 && heap.peek()![0] <= upTo) {
      const [due, id] = heap.pop()!;
      const u = mem.get(id)!;
      if (u.due !== due) continue;
      if (!punctuation && step <= u.offset) continue; // frozen (cannot happen: see the header of processor.ts)
      u.due = null;
      reevaluate(id, u, due, TIME_CAUSE, step);
    }
  };

  for (const r of records) {
    const k = r.offset;
    if (k <= P) {
      if (storedLate.has(k)) tooLate.push(r);
      continue; // the partition state already reflects this step
    }
    const e = r.event;
    if (r.anonymous) continue; // absent for this stage (only popularity counts it, in ingest)
    if (r.reset) {
      const u = mem.get(e.userId);
      if (!u) throw new Error(`runSegmentBatch: user of offset ${k} was not loaded`);
      if (k <= u.offset) continue; // frozen: the user's state already reflects this reset
      record(e.userId, u, [], resetTime(wm, e.eventTime), r.reset, k);
      // Forgotten as if never seen; its heap entry goes stale (fireDue skips a due that is not the user's).
      u.features = emptyFeatureState();
      u.due = null;
      continue;
    }
    if (r.merge) {
      const u = mem.get(e.userId);
      if (!u) throw new Error(`runSegmentBatch: user of offset ${k} was not loaded`);
      if (k <= u.offset) continue; // frozen: the user's state already reflects this merge
      // The stored form of a feature state (a damaged one throws: isolation dead-letters the merge record).
      if (r.merge.features) mergeFeatureStates(u.features, parseFeatureState(JSON.stringify(r.merge.features)), opts.features);
      reevaluate(e.userId, u, resetTime(wm, e.eventTime), e.eventId, k);
      continue;
    }
    if (classifyLateness(e.eventTime, wm, opts.features.allowedLatenessMs) === 'too_late') {
      tooLate.push(r);
      lateOffsets.push(k);
      continue;
    }
    // The event is evaluated at its own time (or the watermark's), but moves the watermark at most to its cap.
    const now = wm === null ? e.eventTime : Math.max(wm, e.eventTime);
    const next = clampedWatermark(wm, e.eventTime, opts.watermarkCap?.(r));
    fireDue(next, k);
    wm = next;
    let u = mem.get(e.userId);
    if (!u) throw new Error(`runSegmentBatch: user of offset ${k} was not loaded`);
    if (k <= u.offset) continue; // frozen: the user's state already reflects this step
    applyEvent(u.features, e, opts.features, opts.itemCategories);
    reevaluate(e.userId, u, now, e.eventId, k);
  }
  if (punctuation && advanceTo !== undefined && (wm === null || advanceTo > wm)) {
    if (wm !== null) {
      fireDue(advanceTo, P);
      wm = advanceTo;
    }
  }

  // The complete change list of (progress, L]: committed partition steps, steps only some users reflect, fresh.
  const seen = new Set<string>();
  const changes: PendingChange[] = [];
  const add = (c: PendingChange) => {
    const key = changeKey(c);
    if (!seen.has(key)) {
      seen.add(key);
      changes.push(c);
    }
  };
  // A replay split finer than the crashed attempt may meet users that reflect steps beyond L: their stored
  // changes after L are carried in the partition's pending list (emitted early, counted once L reaches them).
  if (!punctuation) {
    for (const c of partition.pending) if (c.o > progress) add(c);
    for (const u of users.values()) for (const c of u.pending) if (c.o > progress) add(c);
  }
  for (const c of fresh) add(c);
  changes.sort(compareChanges);

  const writes = new Map<string, UserWrite>();
  for (const id of active) {
    const before = users.get(id)!;
    const u = mem.get(id)!;
    const keep = before.pending.filter((c) => c.o > progress);
    u.pending = punctuation ? keep : [...keep, ...(freshByUser.get(id) ?? [])];
    u.offset = Math.max(before.offset, punctuation ? P : batchLast);
    writes.set(id, { expectedOffset: before.offset, next: u });
  }
  const timers: Array<[string, number | false]> = [...mem.entries()].map(([id, u]) => [id, u.due === null ? false : u.due]);
  timers.sort((a, b) => cmp(a[0], b[0]));

  return {
    changes: punctuation ? fresh.slice().sort(compareChanges) : changes,
    fresh,
    tooLate,
    partition: {
      watermark: wm,
      offset: L,
      late: punctuation ? partition.late : lateOffsets,
      pending: punctuation ? partition.pending : changes,
    },
    advanced: wm !== partition.watermark,
    writes,
    timers,
  };
}
