/**
 * Rolling features and real-time segments on the events topic: called by the events processor once per
 * micro-batch (valid events in offset order), and by a wall-clock punctuator when a partition is idle.
 *
 * Semantics: exactly those of the pure reference `PartitionEngine` (src/segments/engine.ts), replayed in memory
 * over the micro-batch (`runSegmentBatch`, pure) between one load and one write-back of the Redis state.
 *
 * Redis design and why it is exactly-once (keys in src/stores/keys.ts, scripts in src/stores/commands):
 *  - A "step" is the processing of one source offset k (lateness, watermark, timers due, the event). Each user's
 *    hash `{u:<id>}:features` carries `o:<topic>:<partition>` = the last offset whose steps its state reflects
 *    (written as the batch's last offset). Replaying step k for a user with k <= o is skipped: the user is
 *    "frozen" up to o. A user's state only changes at steps that touch it, so state + o is a faithful snapshot.
 *  - The partition hash `{p:<topic>:<partition>}:segstate` carries the watermark and `o` (last offset), written
 *    AFTER every user write of the batch succeeded; steps k <= its o are skipped entirely (their too-late offsets
 *    and changes are stored next to it: `late`, `pending`). Watermark and timers of steps after it are recomputed
 *    deterministically from the stored watermark and the records.
 *  - Every write is a compare-and-set against what was read (user: its o; partition: o and wm): a concurrent or
 *    zombie writer makes the script return a negative code → retriable error → the micro-batch is retried from a
 *    fresh read. A crash between slot writes leaves some users ahead of the partition; the replay freezes them
 *    for the steps they already reflect and completes the rest, so the final state equals one clean run.
 *  - A due timer never fires for a frozen user: a due is always > the watermark when it is set, and the
 *    watermark only grows, so a user's stored due cannot be reached at a step it already reflects.
 *  - The timer index `{p:...}:timers` is a hint: the authority is each user's `due`. Loaded users are pushed on
 *    the in-memory heap with their stored due; the partition script rewrites the zset entry of every loaded
 *    user (repairing entries a crash left stale). A user written by a failed attempt is always reloaded by the
 *    replay: through its event in the batch, or through its old (not yet rewritten) zset entry.
 *  - Changes not yet known to be emitted (offset > the events processor's progress) are kept with the state:
 *    per user (`lc:<topic>:<partition>`, for steps where the user is ahead of the partition) and per partition
 *    (`pending`, for steps the partition already reflects). A replay re-assembles the complete change list of
 *    the range (progress, o], re-emits it (downstream dedupes by the attune.source header) and never emits a
 *    change that did not happen: every stored or recomputed change comes from a committed or deterministic step.
 *  - Member counts: the count key lives in `{g}`, another slot than the users, so it cannot join the user's CAS.
 *    Instead every change carries its source offset, and `applySegmentCounts` adds the complete change list of
 *    the range with `{g}:segapplied[o:<topic>:<partition>]`, skipping offsets at or below the stored one (the
 *    applyPopularity pattern). Since the list of a range is complete and deduplicated on every replay, each
 *    enter/exit is counted exactly once.
 *  - Punctuation (idle partition, wall clock) is not an offset: it fires users with the partition's last offset
 *    as source, and counts them under `t:<topic>:<partition>` with the new watermark as sequence. A crash in the
 *    middle of a punctuation can lose its emitted records and count deltas (the membership stays right).
 *  - Known users and member sets: the partition script adds every loaded user with feature state to
 *    `{p:...}:users` (the index a rules re-evaluation walks) and writes, for segments with `members: true`, the
 *    loaded users' final membership into `{p:...}:members:<segment>`. Both are state (SADD/SREM of what the users
 *    hold), not deltas, so a replay rewrites the same values: exactly-once by idempotence, in the partition's slot.
 *  - Rules re-evaluation (`ensureRules`, "changing the rule file and restarting re-evaluates every known user"):
 *    the segstate hash stores `rules`, the fingerprint of the rules its users were evaluated with. Before the
 *    first micro-batch or punctuation of a partition (and as a job at assignment, on the partition's task), a
 *    worker whose fingerprint differs re-evaluates every known user at the partition's watermark W: changes with
 *    cause "rules", event time W and source offset o (the partition's last offset), new timers, member sets; then
 *    it stores the fingerprint (and increments `rgen`). It is deferred (nothing written) while the state is not
 *    at rest: progress < o, or a user ahead of the partition (a crashed batch is replayed first). Per chunk of
 *    users (sorted ids, stable since no batch runs until it completes): produce the changes → count them under
 *    `r:<topic>:<partition>` with sequence rgen·1e9 + the user's index (so a re-run skips deltas already
 *    counted) → CAS-write the users (offset unchanged) → timers and member sets through the partition script
 *    (CAS on o and wm). A crash re-runs it from the start at the next assignment / batch: users already written
 *    yield no change, the others recompute the same changes (re-emitted, counted once). Only a restart with yet
 *    other rules between the crash and the re-run can leave an emitted change that its re-run does not confirm.
 */
import type { DeadLetterSink } from '../dead-letter/sink.js';
import { TimerHeap } from './core/timer-heap.js';
import type { InboundRecord, OutboundRecord, StreamProducer } from '../../kafka/port.js';
import type { Codec } from '../decode/codec.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { Config, TopicNames } from '../../config/config.js';
import type { OffsetEvent } from '../ingest/plan.js';
import type { SegmentChange } from '../../domain/events.js';
import { FeatureStore, type PartitionExtras, type PendingChange, type StoredUser } from './store.js';
import { log } from '../../log.js';
import { Keys } from '../../stores/keys.js';
import { resolveFeatureConfig, type FeatureConfig } from './features/config.js';
import { applyEvent, eventCategories, type CategoryLookup } from './features/state.js';
import { createFeatureView } from './features/view.js';
import { classifyLateness, TOO_LATE } from './features/watermark.js';
import { compileRules, type CompiledSegments } from './core/compile.js';
import { loadSegmentRulesFile, SegmentRulesError } from './core/rules.js';
import { segmentChanges, TIME_CAUSE, RULES_CAUSE, timerDue } from './core/tracker.js';
import { ConfigError, RecordError } from '../../errors.js';
import { deadLetter } from '../dead-letter/record.js';

// ---------------------------------------------------------------------------------------------------------------
// Set-up: feature configuration and rules from the config, validated at start-up.

export interface SegmentSetup {
  featureConfig: FeatureConfig;
  rules: CompiledSegments;
}

/** Builds the feature configuration and compiles the rule file; a bad file is a ConfigError naming rule and line:col. */
export function loadSegmentSetup(cfg: Pick<Config, 'segmentRules' | 'featureWindows' | 'sessionGapMs' | 'allowedLatenessMs' | 'timerResolutionMs' | 'affinityHalfLifeMs'>): SegmentSetup {
  let featureConfig: FeatureConfig;
  try {
    featureConfig = resolveFeatureConfig({
      windows: cfg.featureWindows,
      sessionGapMs: cfg.sessionGapMs,
      allowedLatenessMs: cfg.allowedLatenessMs,
      timerResolutionMs: cfg.timerResolutionMs,
      affinityHalfLifeMs: cfg.affinityHalfLifeMs,
    });
  } catch (err) {
    throw new ConfigError(`ATTUNE_FEATURE_WINDOWS: ${(err as Error).message}`);
  }
  try {
    return { featureConfig, rules: compileRules(loadSegmentRulesFile(cfg.segmentRules, featureConfig), featureConfig) };
  } catch (err) {
    if (err instanceof SegmentRulesError) throw new ConfigError(`${err.message}\n  (fix the file or point ATTUNE_SEGMENT_RULES elsewhere)`);
    throw new ConfigError(`ATTUNE_SEGMENT_RULES=${cfg.segmentRules}: cannot read the rule file: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The pure core: one micro-batch (or one punctuation) replayed in memory with PartitionEngine semantics.

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

const changeKey = (c: PendingChange) => `${c.o}\u0000${c.userId}\u0000${c.segmentId}\u0000${c.change}\u0000${c.eventTime}`;

/** Canonical order = the reference engine's: by step, then time, timers before the event, user, segment. */
export function compareChanges(a: PendingChange, b: PendingChange): number {
  return a.o - b.o || a.eventTime - b.eventTime || rank(a) - rank(b) || cmp(a.userId, b.userId) || cmp(a.segmentId, b.segmentId);
}
const rank = (c: SegmentChange) => (c.cause === TIME_CAUSE ? 0 : 1);
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Replays `records` (valid events in offset order) for one partition given the loaded state. `users` must hold
 * every user of a record with offset > partition.offset and every user whose timer may fall due (it is not
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

  const reevaluate = (id: string, u: StoredUser, now: number, cause: string, step: number) => {
    const view = createFeatureView(u.features, opts.features);
    const next = [...opts.segments.evaluate(view, now)].sort();
    const emittedAt = opts.clock();
    for (const c of segmentChanges(id, u.segments, next, now, cause, emittedAt)) {
      const pc: PendingChange = { ...c, o: step };
      fresh.push(pc);
      let list = freshByUser.get(id);
      if (!list) freshByUser.set(id, (list = []));
      list.push(pc);
    }
    u.segments = next;
    const nct = opts.segments.nextChangeTime(view, now);
    const due = nct === null ? null : timerDue(nct, opts.features.timerResolutionMs);
    if (due !== u.due) {
      u.due = due;
      if (due !== null) heap.push(due, id);
    }
    active.add(id);
  };

  const fireDue = (upTo: number, step: number) => {
    while (heap.size > 0 && heap.peek()![0] <= upTo) {
      const [due, id] = heap.pop()!;
      const u = mem.get(id)!;
      if (u.due !== due) continue;
      if (!punctuation && step <= u.offset) continue; // frozen (cannot happen: see the header)
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
    if (classifyLateness(e.eventTime, wm, opts.features.allowedLatenessMs) === 'too_late') {
      tooLate.push(r);
      lateOffsets.push(k);
      continue;
    }
    const now = wm === null ? e.eventTime : Math.max(wm, e.eventTime);
    fireDue(now, k);
    wm = now;
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

/**
 * Pure core of a rules re-evaluation: every given user (with feature state) evaluated at the partition
 * watermark `now` with `rules`. Changes carry cause "rules" and event time `now`, in (user, segment) order.
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
    const view = createFeatureView(u.features, features);
    const next = [...rules.evaluate(view, now)].sort();
    const nct = rules.nextChangeTime(view, now);
    const due = nct === null ? null : timerDue(nct, features.timerResolutionMs);
    changes.push(...segmentChanges(id, u.segments, next, now, RULES_CAUSE, emittedAt));
    const same = due === u.due && next.length === u.segments.length && next.every((s, k) => s === u.segments[k]);
    const fin = same ? u : { ...u, segments: next, due };
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


// ---------------------------------------------------------------------------------------------------------------
// The processor: load → runSegmentBatch → CAS writes (users, then partition) → counts → produce.

export interface SegmentProcessorDeps {
  cfg: Config;
  topics: TopicNames;
  codec: Codec;
  store: FeatureStore;
  producer: StreamProducer;
  /** Dead letters of events too late to apply, written exactly once. */
  deadLetters: DeadLetterSink;
  metrics: Metrics;
  rules: CompiledSegments;
  featureConfig: FeatureConfig;
  now?: () => number;
  /** The worker's in-memory catalog (every worker reads all of it); without it categories come from Redis. */
  catalog?: CategoryLookup;
}

export class SegmentProcessor {
  private readonly now: () => number;
  constructor(private readonly d: SegmentProcessorDeps) {
    this.now = d.now ?? Date.now;
  }

  /**
   * Applies a micro-batch. Returns the number of changes emitted and the too-late events (not applied here).
   * When `raw` (the micro-batch's inbound records) is given, too-late events are dead-lettered here with code
   * TOO_LATE; otherwise the caller must dead-letter them.
   */
  async process(topic: string, partition: number, records: OffsetEvent[], raw?: InboundRecord[]): Promise<{ changes: number; tooLate: OffsetEvent[] }> {
    const { d } = this;
    await this.ensureRules(topic, partition);
    if (records.length === 0) return { changes: 0, tooLate: [] };
    const [stored, progress] = await Promise.all([d.store.loadPartition(topic, partition), d.store.readProgress(topic, partition)]);
    const todo = records.filter((r) => r.offset > stored.offset);
    let maxWm = stored.watermark;
    for (const r of todo) maxWm = maxWm === null ? r.event.eventTime : Math.max(maxWm, r.event.eventTime);
    const due = maxWm === null ? [] : await d.store.dueTimers(topic, partition, maxWm);
    const ids = [...new Set([...todo.map((r) => r.event.userId), ...due])];
    const users = new Map<string, StoredUser>();
    const loaded = await Promise.all(ids.map((id) => d.store.loadUser(id, topic, partition)));
    ids.forEach((id, i) => users.set(id, loaded[i]!));
    const lookup = await this.categoryLookup(todo);

    const res = runSegmentBatch(records, stored, users, progress, {
      features: d.featureConfig, segments: d.rules, itemCategories: lookup, clock: this.now,
    });

    await Promise.all([...res.writes].map(([id, w]) => d.store.commitUser(id, topic, partition, w.expectedOffset, w.next.offset, w.next)));
    await d.store.commitPartition(topic, partition, stored.raw, {
      ...res.partition, wall: res.advanced || stored.wall === null ? this.now() : stored.wall,
    }, res.timers, this.extras(users, res.writes));
    await this.countAndEmit(topic, partition, Keys.partitionField(topic, partition), res.partition.offset, res.changes, res.fresh, (c) => c.o);

    if (raw && res.tooLate.length) {
      const late = new Set(res.tooLate.map((r) => r.offset));
      const err = new RecordError(TOO_LATE, 'process', `event time is more than ${d.featureConfig.allowedLatenessMs} ms behind the partition watermark (ATTUNE_ALLOWED_LATENESS_MS)`);
      const dead = raw.filter((r) => late.has(Number(r.offset))).map((r) => deadLetter(r, err, { topic, partition, groupId: d.cfg.groupId }));
      const sent = await d.deadLetters.send(topic, partition, 'late', dead);
      if (sent.length) d.metrics.dlq.inc({ stage: 'process', code: TOO_LATE }, sent.length);
    }
    return { changes: res.changes.length, tooLate: res.tooLate };
  }

  /**
   * Wall-clock fallback for an idle partition: when the watermark has not moved for ATTUNE_SEGMENT_IDLE_MS of
   * wall time, it moves forward by the wall time elapsed since it last moved, and due timers fire. Must run on
   * the partition's task (never concurrently with process). Returns the number of changes emitted.
   */
  async punctuate(topic: string, partition: number, now: number): Promise<number> {
    const { d } = this;
    const idle = d.cfg.segmentIdleMs;
    if (idle <= 0) return 0;
    await this.ensureRules(topic, partition);
    const stored = await d.store.loadPartition(topic, partition);
    if (stored.watermark === null || stored.wall === null || now - stored.wall < idle) return 0;
    const target = stored.watermark + (now - stored.wall);
    const due = await d.store.dueTimers(topic, partition, target);
    const users = new Map<string, StoredUser>();
    const loaded = await Promise.all(due.map((id) => d.store.loadUser(id, topic, partition)));
    due.forEach((id, i) => users.set(id, loaded[i]!));
    const progress = await d.store.readProgress(topic, partition);
    const res = runSegmentBatch([], stored, users, progress, { features: d.featureConfig, segments: d.rules, clock: this.now }, target);
    await Promise.all([...res.writes].map(([id, w]) => d.store.commitUser(id, topic, partition, w.expectedOffset, w.next.offset, w.next)));
    await d.store.commitPartition(topic, partition, stored.raw, { ...res.partition, wall: now }, res.timers, this.extras(users, res.writes));
    await this.countAndEmit(topic, partition, Keys.punctuationField(topic, partition), target, res.changes, res.fresh, () => target);
    return res.changes.length;
  }

  /** Known users (loaded users with feature state) and member set states for the partition script. */
  private extras(users: ReadonlyMap<string, StoredUser>, writes: ReadonlyMap<string, UserWrite>): PartitionExtras {
    const known: string[] = [];
    const finals = new Map<string, string[]>();
    for (const [id, u] of users) {
      const w = writes.get(id);
      if ((w ? w.next.offset : u.offset) >= 0) known.push(id);
      finals.set(id, w ? w.next.segments : u.segments);
    }
    return { knownUsers: known, members: memberStates(this.memberSegments, finals) };
  }

  private readonly confirmed = new Set<string>();
  private get memberSegments(): string[] {
    return this.d.rules.segments.filter((s) => s.members).map((s) => s.id);
  }

  /** Forgets which partitions were found evaluated with this worker's rules (call on every assignment). */
  resetRules(): void {
    this.confirmed.clear();
  }

  /**
   * Re-evaluates every known user of the partition when the stored rules fingerprint is not this worker's (see
   * the header). Must run on the partition's task. Returns the number of changes emitted, or null when deferred
   * (the partition state is not at rest yet: a later micro-batch or punctuation tries again).
   */
  async ensureRules(topic: string, partition: number, chunkSize = 500): Promise<number | null> {
    const { d } = this;
    const key = `${topic}:${partition}`;
    if (this.confirmed.has(key)) return 0;
    const fp = d.rules.fingerprint;
    const stored = await d.store.loadPartition(topic, partition);
    if (stored.rules === fp) {
      this.confirmed.add(key);
      return 0;
    }
    const progress = await d.store.readProgress(topic, partition);
    if (progress < stored.offset) return null;
    const ids = await d.store.knownUsers(topic, partition);
    const offsets = await d.store.userOffsets(ids, topic, partition);
    if (offsets.some((o) => o > stored.offset)) return null;
    const W = stored.watermark;
    const base = stored.rgen * 1e9;
    const field = Keys.rulesField(topic, partition);
    const partitionNext = { offset: stored.offset, watermark: W, wall: stored.wall ?? this.now(), late: stored.late, pending: stored.pending };
    const emittedAt = this.now();
    let emitted = 0;
    for (let start = 0; W !== null && start < ids.length; start += chunkSize) {
      // Users without feature state of this partition (offset -1) are not evaluated: no event, no segment.
      const seqOf = new Map<string, number>();
      for (let i = start; i < Math.min(start + chunkSize, ids.length); i++) if (offsets[i]! >= 0) seqOf.set(ids[i]!, base + i + 1);
      const chunk = [...seqOf.keys()];
      const loaded = await Promise.all(chunk.map((id) => d.store.loadUser(id, topic, partition)));
      const plan = reevaluateUsers(chunk, loaded, W, d.rules, d.featureConfig, emittedAt);
      const last = base + Math.min(start + chunkSize, ids.length);
      if (plan.changes.length) {
        const out: OutboundRecord[] = [];
        for (const c of plan.changes) {
          out.push({
            key: c.userId, value: await d.codec.encodeSegmentChange(c),
            headers: { 'attune.source': `${topic}:${partition}:${stored.offset}`, 'attune.rules': `${fp}:${stored.rgen + 1}` },
          });
        }
        await d.producer.send(d.topics.segmentChanges, out);
      }
      await d.store.applyCounts(field, last, plan.changes.map((c) => [seqOf.get(c.userId)!, c.segmentId, c.change === 'enter' ? 1 : -1]));
      await Promise.all(plan.writes.map(([id, u]) => d.store.commitUser(id, topic, partition, u.offset, u.offset, u)));
      const finals = new Map(plan.finals.map(([id, u]) => [id, u.segments] as [string, string[]]));
      await d.store.commitPartition(topic, partition, stored.raw, partitionNext, plan.finals.map(([id, u]) => [id, u.due === null ? false : u.due]), {
        members: memberStates(this.memberSegments, finals),
      });
      for (const c of plan.changes) d.metrics.segmentChanges.inc({ segment: c.segmentId, change: c.change });
      emitted += plan.changes.length;
    }
    await d.store.commitPartition(topic, partition, stored.raw, partitionNext, [], { fingerprint: fp, memberSegments: this.memberSegments });
    this.confirmed.add(key);
    const counts = await d.store.segmentCounts();
    for (const s of d.rules.segments) d.metrics.segmentMembers.set({ segment: s.id }, counts[s.id] ?? 0);
    log.info({ topic, partition, users: ids.length, changes: emitted, watermark: W }, 'segment rules changed: re-evaluated the partition\'s known users');
    return emitted;
  }

  private async countAndEmit(
    topic: string, partition: number, field: string, last: number,
    changes: PendingChange[], fresh: PendingChange[], seq: (c: PendingChange) => number,
  ): Promise<void> {
    const { d } = this;
    // Changes of steps after `last` (carried from users ahead of the partition) are counted by a later batch.
    const deltas: Array<[number, string, number]> = changes
      .filter((c) => seq(c) <= last)
      .map((c) => [seq(c), c.segmentId, c.change === 'enter' ? 1 : -1]);
    await d.store.applyCounts(field, last, deltas);
    if (changes.length) {
      const out: OutboundRecord[] = [];
      for (const c of changes) {
        const { o, ...change } = c;
        out.push({ key: c.userId, value: await d.codec.encodeSegmentChange(change), headers: { 'attune.source': `${topic}:${partition}:${o}` } });
      }
      await d.producer.send(d.topics.segmentChanges, out);
    }
    for (const c of fresh) d.metrics.segmentChanges.inc({ segment: c.segmentId, change: c.change });
    if (changes.length) {
      const counts = await d.store.segmentCounts();
      for (const s of d.rules.segments) d.metrics.segmentMembers.set({ segment: s.id }, counts[s.id] ?? 0);
    }
  }

  /** Categories of the batch's items that carry none on the event, from the catalog. */
  private async categoryLookup(records: OffsetEvent[]): Promise<CategoryLookup | undefined> {
    const ids = [...new Set(records.filter((r) => r.event.itemId && eventCategories(r.event).length === 0).map((r) => r.event.itemId as string))];
    if (ids.length === 0) return undefined;
    if (this.d.catalog) return this.d.catalog;
    const cats = await this.d.store.itemCategories(ids);
    return (itemId) => cats.get(itemId);
  }
}

/** Validates the rules (ConfigError on a bad file) and builds the processor on the worker's Redis client. */
export function createSegmentProcessor(
  setup: ReturnType<typeof loadSegmentSetup>,
  deps: Omit<SegmentProcessorDeps, 'store' | 'rules' | 'featureConfig'> & { redis: import('../../stores/redis-client.js').RedisClient },
): SegmentProcessor {
  const { redis, ...rest } = deps;
  return new SegmentProcessor({ ...rest, ...setup, store: new FeatureStore(redis, deps.cfg.keyPrefix, setup.featureConfig) });
}
