/**
 * Rolling features and real-time segments on the events topic: called by the events processor once per
 * micro-batch (valid events in offset order), and by a wall-clock punctuator when a partition is idle.
 *
 * Semantics: exactly those of the pure reference `PartitionEngine` (core/engine.ts), replayed in memory over the
 * micro-batch (`runSegmentBatch` in batch.ts, pure) between one load and one write-back of the Redis state
 * (store.ts). This module does that I/O, in the order the argument below relies on.
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
 *    Instead every change carries its source offset, and `applyCounts` adds the complete change list of
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
 *  - Rules re-evaluation (a changed rule file re-evaluates every known user): rules-reevaluation.ts, through the
 *    same CAS scripts, counted under `r:<topic>:<partition>`; its header completes this argument.
 *  - Users' rights marks (core/engine.ts header). An `anonymous` record is no step of any user: it moves nothing
 *    (watermark, timers, features) and loads nobody, so skipping it is trivially the same in every attempt and
 *    every cut. A `reset` record at offset k is a step of its user only: offset-gated like an event (k <= the
 *    user's o: skipped, the stored state already reflects it, its exits are in `lc:`/`pending` or were emitted),
 *    never classified too late and never moving the watermark, so the watermark at every step — and with it every
 *    other user's lateness and timers, and the reset's own exit time max(watermark, event time) — is the same
 *    whether or not the reset is replayed. Its exits come from the user's state at step k, which the frozen-user
 *    argument above makes the same in every attempt; they join the change list like any change (counted once in
 *    `{g}:segcounts` by offset, re-emitted on a replay). The cleared state is written with the user's offset, so
 *    later events (this batch or a later one) build a fresh profile exactly once; the cleared due removes the
 *    user's timer entry (a due never fires for a frozen user still holds: the reset sets no due). A reset user is
 *    kept out of `{p}:users` additions and skipped by rules re-evaluations while its state is empty (n = 0), as
 *    the engine forgets it.
 *  - Egress: state (pending changes, `lc:`, timers, members, known users) is keyed by the pseudonym the rights
 *    stage put in `event.userId`; the produced records carry the real id, resolved when they are built
 *    (publish.ts). A micro-batch's change records are produced by the emit stage, with the lists and before the
 *    progress, so "known to be emitted" above still means "at or below the progress". A change whose user no longer resolves (erased meanwhile) is not emitted, but still counted:
 *    counts follow memberships, and the erasure's own exits take them back down.
 */
import type { InboundRecord, OutboundRecord, StreamProducer } from '../../kafka/port.js';
import type { Codec } from '../decode/codec.js';
import type { DeadLetterSink } from '../dead-letter/sink.js';
import type { DeadLetterSource } from '../dead-letter/record.js';
import type { OffsetEvent } from '../ingest/plan.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { Config, TopicNames } from '../../config/config.js';
import type { RedisClient } from '../../stores/redis-client.js';
import type { Identities } from '../rights/identities.js';
import { Keys } from '../../stores/keys.js';
import { RecordError, isRetriable } from '../../errors.js';
import { recordClock } from '../validate/validate.js';
import { log } from '../../log.js';
import type { FeatureConfig } from './features/config.js';
import { eventCategories, type CategoryLookup } from './features/state.js';
import { TOO_LATE } from './features/watermark.js';
import type { CompiledSegments } from './core/compile.js';
import { FeatureStore, type PartitionExtras } from './store.js';
import type { StoredUser } from './stored.js';
import type { SegmentSetup } from './setup.js';
import { batchInputs, runSegmentBatch, type UserWrite } from './batch.js';
import { memberSegmentIds, memberStates } from './reevaluate-users.js';
import { countAndEmit, refreshMemberGaugesOnScrape } from './publish.js';
import { RulesReevaluation } from './rules-reevaluation.js';

// The stage's set-up stays importable from its entry point (worker, CLI and tests import it from here).
export { loadSegmentSetup, type SegmentSetup } from './setup.js';

/** Builds a dead-letter record (the dead-letter stage's `deadLetter`), injected so this stage imports no code of another stage. */
export type DeadLetterBuilder = (record: InboundRecord, err: unknown, src: DeadLetterSource) => OutboundRecord;

export interface SegmentProcessorDeps {
  cfg: Config;
  topics: TopicNames;
  codec: Codec;
  store: FeatureStore;
  producer: StreamProducer;
  /** Dead letters of events too late to apply, written exactly once. */
  deadLetters: DeadLetterSink;
  /** Builds the dead-letter records of those events. */
  deadLetter: DeadLetterBuilder;
  metrics: Metrics;
  rules: CompiledSegments;
  featureConfig: FeatureConfig;
  now?: () => number;
  /** The worker's in-memory catalog (every worker reads all of it); without it categories come from Redis. */
  catalog?: CategoryLookup;
  /** Pseudonym → real id for the produced segment changes (publish.ts). */
  identities: Identities;
}

export interface SegmentBatchResult {
  /** Segment changes emitted. */
  changes: number;
  /** Events too late to apply (dead-lettered here when the raw records were given). */
  tooLate: OffsetEvent[];
  /** The segments each loaded user is in after the micro-batch (experiments' eligibility, in recommend). */
  segmentsOf: ReadonlyMap<string, readonly string[]>;
}

/** The processor: load → runSegmentBatch → CAS writes (users, then partition) → counts → produce. */
export class SegmentProcessor {
  private readonly now: () => number;
  private readonly rulesCheck: RulesReevaluation;
  constructor(private readonly d: SegmentProcessorDeps) {
    this.now = d.now ?? Date.now;
    this.rulesCheck = new RulesReevaluation(d, this.now);
  }

  /**
   * Applies a micro-batch. Returns the number of changes emitted and the too-late events (not applied here).
   * When `raw` (the micro-batch's inbound records) is given, too-late events are dead-lettered here with code
   * TOO_LATE; otherwise the caller must dead-letter them. `send` takes the segment change records (default: produced
   * here); the events chain collects them for its emit stage, which produces them with the lists in one round trip.
   * Either way they go out before the partition's progress is written, so a crash before that re-emits them from
   * the stored pending changes (the header's argument).
   */
  async process(
    topic: string, partition: number, records: OffsetEvent[], raw?: InboundRecord[], send?: (out: OutboundRecord[]) => Promise<void>,
  ): Promise<SegmentBatchResult> {
    const { d } = this;
    await this.ensureRules(topic, partition);
    if (records.length === 0) return { changes: 0, tooLate: [], segmentsOf: new Map() };
    const [stored, progress] = await Promise.all([d.store.loadPartition(topic, partition), d.store.readProgress(topic, partition)]);
    // Anonymous records are absent for this stage; resets are steps of their user but never move the watermark.
    const watermarkCap = this.watermarkCap(raw);
    const { users: withRecords, maxWatermark: maxWm, featureEvents } = batchInputs(records, stored, watermarkCap);
    const due = maxWm === null ? [] : await d.store.dueTimers(topic, partition, maxWm);
    const ids = [...new Set([...withRecords, ...due])];
    const users = new Map<string, StoredUser>();
    // A user with records of this micro-batch whose stored state cannot be read fails the micro-batch (isolation
    // then dead-letters that user's records) — unless the user is reset in it: the reset makes the stored state
    // irrelevant from its offset on, and failing it would quarantine the erasure (or withdrawal) itself, so the
    // profile could never be erased. For that user an unreadable field reads as empty (store.ts, field by field),
    // the reset and everything after it apply, and its commit replaces the unreadable value.
    // A user here only for a due timer has no record to dead-letter: were its unreadable state to fail the
    // micro-batch, every later micro-batch of the partition would fail on the same timer and all of their records
    // would be dead-lettered. Its timer is dropped instead, loudly.
    const resetting = resetUsers(records, stored.offset);
    const unreadable: string[] = [];
    let readAsEmpty = 0;
    const loaded = await Promise.all(ids.map((id) => d.store.loadUser(id, topic, partition).catch(async (err: unknown) => {
      if (isRetriable(err)) throw err;
      if (resetting.has(id)) {
        const u = await d.store.loadUser(id, topic, partition, true);
        if (u.unreadable) readAsEmpty++;
        return u;
      }
      if (withRecords.has(id)) throw err;
      unreadable.push(id);
      return null;
    })));
    ids.forEach((id, i) => { if (loaded[i]) users.set(id, loaded[i]); });
    if (readAsEmpty) {
      log.warn({ topic, partition, users: readAsEmpty }, 'stored feature state of users reset in this micro-batch cannot be read: read as empty, so the reset (erasure or consent withdrawal) applies and replaces it');
      d.metrics.unreadableStates.inc({ topic }, readAsEmpty);
    }
    if (unreadable.length) {
      log.error({ topic, partition, users: unreadable.length }, 'stored feature state of users with a due timer cannot be read: their timers are dropped (an erasure of the user, or a consent withdrawal, replaces the state; otherwise it needs a repair)');
      d.metrics.unreadableStates.inc({ topic }, unreadable.length);
    }
    const lookup = await this.categoryLookup(featureEvents);

    const res = runSegmentBatch(records, stored, users, progress, {
      features: d.featureConfig, segments: d.rules, itemCategories: lookup, clock: this.now, watermarkCap,
    });
    for (const id of unreadable) res.timers.push([id, false]);

    await Promise.all([...res.writes].map(([id, w]) => d.store.commitUser(id, topic, partition, w.expectedOffset, w.next.offset, w.next)));
    await d.store.commitPartition(topic, partition, stored.raw, {
      ...res.partition, wall: res.advanced || stored.wall === null ? this.now() : stored.wall,
    }, res.timers, this.extras(users, res.writes));
    await countAndEmit(d, topic, partition, Keys.partitionField(topic, partition), res.partition.offset, res.changes, res.fresh, (c) => c.o, send);

    if (raw && res.tooLate.length) {
      const late = new Set(res.tooLate.map((r) => r.offset));
      const err = new RecordError(TOO_LATE, 'process', `event time is more than ${d.featureConfig.allowedLatenessMs} ms behind the partition watermark (ATTUNE_ALLOWED_LATENESS_MS)`);
      const dead = raw.filter((r) => late.has(Number(r.offset))).map((r) => d.deadLetter(r, err, { topic, partition, groupId: d.cfg.groupId }));
      const sent = await d.deadLetters.send(topic, partition, 'late', dead);
      if (sent.length) d.metrics.dlq.inc({ stage: 'process', code: TOO_LATE }, sent.length);
    }
    const segmentsOf = new Map<string, readonly string[]>();
    for (const [id, u] of users) segmentsOf.set(id, (res.writes.get(id)?.next ?? u).segments);
    return { changes: res.changes.length, tooLate: res.tooLate, segmentsOf };
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
    await countAndEmit(d, topic, partition, Keys.punctuationField(topic, partition), target, res.changes, res.fresh, () => target);
    return res.changes.length;
  }

  /**
   * The highest watermark each record may set: its Kafka timestamp (the producer's or the broker's wall clock when
   * the record was written) plus ATTUNE_WATERMARK_MAX_SKEW_MS. Why the record's timestamp and not the wall clock
   * now: a replay after a crash must classify lateness exactly as the first attempt did (users written by that
   * attempt are frozen, and a record it found on time must not turn too late), and the offline reference must
   * compute the same watermark; the timestamp is part of the input, so both do. A timestamp ahead of the worker's
   * clock is cut to the clock (a producer cannot lift the cap by lying about it either); only such records can
   * clamp differently on a replay, and only to a higher cap. Without the records (tests), the wall clock.
   */
  private watermarkCap(raw: InboundRecord[] | undefined): (r: OffsetEvent) => number {
    const skew = this.d.cfg.watermarkMaxSkewMs;
    const wall = this.now();
    if (!raw) return () => wall + skew;
    const clock = new Map<number, number>();
    for (const r of raw) clock.set(Number(r.offset), recordClock(r.timestamp, wall));
    return (r) => (clock.get(r.offset) ?? wall) + skew;
  }

  /**
   * Known users (loaded users with feature state; a user a reset left empty is not added) and member set states
   * for the partition script.
   */
  private extras(users: ReadonlyMap<string, StoredUser>, writes: ReadonlyMap<string, UserWrite>): PartitionExtras {
    const known: string[] = [];
    const finals = new Map<string, string[]>();
    for (const [id, u] of users) {
      const fin = writes.get(id)?.next ?? u;
      if (fin.offset >= 0 && fin.features.n > 0) known.push(id);
      finals.set(id, fin.segments);
    }
    return { knownUsers: known, members: memberStates(memberSegmentIds(this.d.rules), finals) };
  }

  /** Forgets which partitions were found evaluated with this worker's rules (call on every assignment). */
  resetRules(): void {
    this.rulesCheck.reset();
  }

  /**
   * Re-evaluates every known user of the partition when the stored rules fingerprint is not this worker's
   * (rules-reevaluation.ts). Must run on the partition's task. Returns the number of changes emitted, or null
   * when deferred (the partition state is not at rest yet: a later micro-batch or punctuation tries again).
   */
  ensureRules(topic: string, partition: number, chunkSize = 500): Promise<number | null> {
    return this.rulesCheck.ensure(topic, partition, chunkSize);
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

/**
 * Users with a reset (erasure, consent withdrawal) among the records the partition does not reflect yet: the
 * records `runSegmentBatch` will step. Anonymous records are no step of anyone (and the rights stage never marks
 * one as a reset).
 */
export function resetUsers(records: readonly OffsetEvent[], partitionOffset: number): Set<string> {
  const out = new Set<string>();
  for (const r of records) if (r.reset !== undefined && !r.anonymous && r.offset > partitionOffset) out.add(r.event.userId);
  return out;
}

/** Builds the processor from the validated set-up (loadSegmentSetup) on the worker's Redis client. */
export function createSegmentProcessor(
  setup: SegmentSetup,
  deps: Omit<SegmentProcessorDeps, 'store' | 'rules' | 'featureConfig'> & { redis: RedisClient },
): SegmentProcessor {
  const { redis, ...rest } = deps;
  const store = new FeatureStore(redis, deps.cfg.keyPrefix, setup.featureConfig);
  refreshMemberGaugesOnScrape({ store, metrics: deps.metrics, rules: setup.rules });
  return new SegmentProcessor({ ...rest, ...setup, store });
}
