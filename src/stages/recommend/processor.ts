/**
 * The recommend stage of the events topology. The recommender model (model/) lives in the worker's
 * memory, the same code `attune eval` measures; Redis holds what must survive and be shared:
 *   - each user's recommender state ({u:<P>}:rec, P the user's pseudonym), written with compare-and-set on the
 *     applied offset;
 *   - the co-occurrence counts, one row per item ({i:<item>}:co), written as the micro-batch's combined deltas
 *     (one script call per touched row), so several workers can add to the same row;
 *   - the shared decay epoch.
 * Per micro-batch: load the batch's users → learn the new records in memory (neighbour lists change at once)
 * → write rows, then users → recommend for every user of the batch still personalized → emit the lists that
 * changed, keyed by the user's real id (Identities).
 * Users' rights (the rights stage marks the records, ingest/plan.ts):
 *   - a `reset` record resets the user's state (history, purchases, country) at its offset, in order with the
 *     user's other records and offset-gated like them: the user's later records start from empty. The user's last
 *     emitted list is withdrawn: the user leaves the holders of its items (`li` of the stored state) and {u}:recs
 *     is deleted;
 *   - a user in the batch's `withdrawn` gets no list (computed, stored or emitted; emit sends the tombstone); the
 *     reset state is still written;
 *   - `anonymous` records feed trending only (an in-memory anonymous aggregate), never a user's state: see
 *     learnAnonymous below.
 * Write order matters for exact replays:
 *   (1) rows before users, so a user state that already reflects a record implies every row of that record's
 *       micro-batch is written too;
 *   (2) a reset's clean-up (holders of the old list, {u}:recs) before the user's commit, so a state that reflects
 *       a reset implies its clean-up is done; a replay before the commit redoes it (idempotent: SREM, DEL) with
 *       the same `li`, as the stored state is still the one before the reset;
 *   (3) the holders index never names a user for an item outside the stored `li` (holders ⊆ li at every point,
 *       crashes included, so the erase sweep, which removes the holders of `li`, removes them all): a changed
 *       list's dropped items lose the user BEFORE the commit (`li` still names them), its items gain the user
 *       AFTER it (`li` names them by then). A crash before the commit leaves holders ⊆ the old `li`, which the
 *       replay (a fresh attempt for this user) reads again; a crash after it leaves some holders of the new `li`
 *       missing, and the replay, for which the user is replayed (its commit skipped), adds the holders of the
 *       STORED `li` — the list the first attempt committed — never of the list it recomputes (the model may
 *       have changed since, e.g. rebuilt at start-up with this batch's rows, and that list is not stored). The
 *       replay emits and stores its recomputed list again, as for any replayed user. An unreadable state read as
 *       empty for a reset (processUsers) has no known `li`: its old holders are outside this argument. A holder
 *       correction (correctUser) follows the same order (leave before its commit, join after); a crash after its
 *       commit leaves some holders of its new list missing until the user's next list.
 * None of this adds a batch-level gate: rows stay the only writes gated per batch, so the in-flight cut-set
 * argument of topology/events-chain.ts is unchanged. A user's records are learned once (the user's offset gate)
 * whatever the micro-batch cuts, and learnBatch applies resets in order, so any cut gives the same state.
 */
import { crashPoint } from '../../topology/crash-points.js';
import type { OutboundRecord } from '../../kafka/port.js';
import { isActivity, type Recommendations, type UserEvent } from '../../domain/events.js';
import type { OffsetEvent } from '../ingest/plan.js';
import { strategyLabel, type LearnRecord } from './model/recommender.js';
import { newUserState } from './model/user-state.js';
import { listHash, parseStoredState, toStored, toUserState, type StoredState } from './stored-state.js';
import type { ListPlan, Recorded } from '../../experiments/list-plan.js';
import type { AttributedRecord, Attribution } from '../../experiments/attribution.js';
import { storedRowDeltas } from './store.js';
import { Keys } from '../../stores/keys.js';
import { log } from '../../log.js';
import { ConfigError } from '../../errors.js';
import { onlineInteractions } from './online-quality.js';
import { loadStoredRows, type RowGates } from './warm-up.js';
import { REEMITTED_HEADER } from '../emit/freshness.js';
import { ModelHealth } from './model-health.js';
import { UsersInUse } from './users-in-use.js';
import { correctList } from './correction.js';
import type { CorrectedUser, RecommendDeps, Withdrawn } from './deps.js';

export type { CorrectedUser, RecommendDeps, Withdrawn } from './deps.js';
const NO_ONE: Withdrawn = { has: () => false };

/**
 * The records that reach a user's state: resets, merges (identity stitching), activity of personalized users, and
 * their impressions (attributed, not learned). Consent and erase events without a reset are not activity (the rights
 * stage does not pass them; should one arrive it is ignored).
 */
function isPersonal(r: OffsetEvent): boolean {
  if (r.reset !== undefined || r.merge !== undefined) return true;
  return !r.anonymous && (isActivity(r.event.type) || r.event.type === 'impression');
}

/** A user's record as attribution reads it. */
function attributedRecord(r: OffsetEvent): AttributedRecord {
  const e = r.event;
  return { offset: r.offset, reset: r.reset !== undefined, type: e.type, itemId: e.itemId, recommendationId: e.recommendationId ?? null, eventTime: e.eventTime };
}

export class RecommendStage {
  private epochReady = false;
  private readonly health: ModelHealth;
  private readonly inUse: UsersInUse;
  constructor(private readonly d: RecommendDeps) {
    this.health = new ModelHealth(d.rec, d.metrics);
    this.inUse = new UsersInUse(d.rec.users);
  }

  /**
   * The decay epoch is configuration (not the time of whichever event came first), so that results do not
   * depend on how partitions interleave. The first worker records it; a worker configured differently refuses
   * to mix its counts with the stored ones.
   */
  async checkEpoch(): Promise<void> {
    const stored = await this.d.store.decayEpoch(this.d.cfg.decayEpoch);
    if (stored !== this.d.cfg.decayEpoch) {
      throw new ConfigError(`ATTUNE_DECAY_EPOCH=${this.d.cfg.decayEpoch} but this deployment's stored counts use ${stored}: set ATTUNE_DECAY_EPOCH=${stored} (or reset the deployment)`);
    }
    this.d.rec.collaborative.setEpoch(stored);
    this.epochReady = true;
  }

  /** Reads every co-occurrence row into the in-memory model and builds the neighbour lists. */
  async warmUp(): Promise<{ rows: number; pairs: number; ms: number; gates: RowGates }> {
    const started = Date.now();
    await this.checkEpoch();
    const { rows, pairs, gates } = await loadStoredRows(this.d.rec, this.d.store);
    this.health.report();
    return { rows, pairs, ms: Date.now() - started, gates };
  }

  /**
   * Learns the micro-batch's records that the users' stored states do not reflect yet, writes rows then users,
   * and returns the recommendation records to emit (lists that changed, and every list of a replayed user), keyed
   * by the real user id. `withdrawn` (EventBatch.withdrawn): users who get no list.
   */
  async process(
    topic: string, partition: number, records: OffsetEvent[], lastOffset: number, withdrawn: Withdrawn = NO_ONE,
    segmentsOf: ReadonlyMap<string, readonly string[]> = new Map(),
  ): Promise<OutboundRecord[]> {
    if (records.length === 0) return [];
    const field = Keys.partitionField(topic, partition);
    if (!this.epochReady) await this.checkEpoch();

    this.learnAnonymous(field, records);
    const personal = records.filter(isPersonal);
    if (personal.length === 0) return [];
    const users = [...new Set(personal.map((r) => r.event.userId))];
    return this.inUse.with(users, () => this.processUsers(topic, partition, personal, lastOffset, field, users, withdrawn, segmentsOf));
  }

  /**
   * Anonymous records (no personalization consent, ATTUNE_CONSENT_ANONYMOUS_AGGREGATES=true) are not learned per
   * user: co-occurrence needs the user's history, which is not kept without consent. They feed trending only, an
   * anonymous aggregate that lives in memory (like all of trending, it starts empty with the worker and is not
   * part of the replayed state). No user state gates them, so a per-partition mark of the highest anonymous offset
   * learned keeps a retried or bisected micro-batch from counting one twice in this worker.
   */
  private readonly anonymousUpTo = new Map<string, number>();
  private learnAnonymous(field: string, records: OffsetEvent[]): void {
    let upTo = this.anonymousUpTo.get(field) ?? -1;
    for (const r of records) {
      if (!r.anonymous || r.reset !== undefined || r.offset <= upTo) continue;
      this.d.rec.learnAnonymous(r.event);
      upTo = r.offset;
    }
    this.anonymousUpTo.set(field, upTo);
  }

  private async processUsers(
    topic: string, partition: number, records: OffsetEvent[], lastOffset: number, field: string, users: string[], withdrawn: Withdrawn,
    segmentsOf: ReadonlyMap<string, readonly string[]>,
  ): Promise<OutboundRecord[]> {
    const { d } = this;
    const { rec, experiments: ex } = d;
    const stored = await Promise.all(users.map((u) => d.store.loadUser(u, field)));
    const offsetOf = new Map<string, number>();
    const prior = new Map<string, StoredState | null>();
    // A state that does not parse fails the micro-batch (isolation then dead-letters the user's records), except for
    // a user reset in it: failing that user would quarantine the erasure (or withdrawal) itself, so the profile could
    // never be erased. The reset makes the stored state irrelevant from its offset on: it reads as empty (its last
    // list is unknown, so its holders cannot be withdrawn: see `holders` in stores/user-owned.ts), the reset and
    // everything after it apply, and the commit replaces the unreadable value.
    const resetting = new Set(records.filter((r) => r.reset !== undefined).map((r) => r.event.userId));
    let readAsEmpty = 0;
    users.forEach((u, i) => {
      offsetOf.set(u, stored[i].offset);
      let parsed: StoredState | null;
      try {
        parsed = stored[i].state ? parseStoredState(stored[i].state!) : null;
      } catch (err) {
        if (!resetting.has(u)) throw err;
        parsed = null;
        readAsEmpty++;
      }
      rec.users.set(u, parsed ? toUserState(parsed, rec.items) : newUserState());
      prior.set(u, parsed);
    });
    if (readAsEmpty) {
      log.warn({ topic, partition, users: readAsEmpty }, 'stored recommender state of users reset in this micro-batch cannot be read: read as empty, so the reset (erasure or consent withdrawal) applies and replaces it');
      d.metrics.unreadableStates.inc({ topic }, readAsEmpty);
    }

    const fresh = records.filter((r) => r.offset > offsetOf.get(r.event.userId)!);
    // Impressions reach the user's records for attribution only: never learned (whatever the event weights say).
    // A merge (identity stitching) brings the anonymous profile's history and purchases, and no pairs.
    const learnable = fresh.filter((r) => r.reset !== undefined || r.merge?.recommender || isActivity(r.event.type));
    // A micro-batch the model already holds (a previous owner published it before this replay) is learned for its
    // users only, and not published again.
    const shared = d.changelog?.learning(field, lastOffset) ?? { apply: true, publish: false };
    const delta = rec.learnBatch(learnable.map((r): LearnRecord => (r.reset !== undefined ? { reset: true, userId: r.event.userId }
      : r.merge?.recommender ? { merge: true, userId: r.event.userId, state: r.merge.recommender } : r.event)), segmentsOf, { applyPairs: shared.apply });
    this.health.report();

    // Rows first (see the header).
    const rows = storedRowDeltas(delta, (i) => rec.items.name(i));
    await d.store.applyRows(rows, field, lastOffset);
    crashPoint('after-rows');
    // After the rows (a record implies its rows are written: a starting worker relies on it) and before the users.
    if (shared.publish) await d.changelog?.publish(field, lastOffset, rows);

    const freshUsers = new Set(fresh.map((r) => r.event.userId));
    const freshOf = new Map<string, OffsetEvent[]>();
    for (const r of fresh) {
      const list = freshOf.get(r.event.userId);
      if (list) list.push(r);
      else freshOf.set(r.event.userId, [r]);
    }
    const resetUsers = new Set(fresh.filter((r) => r.reset !== undefined).map((r) => r.event.userId));

    // Attribution, with the rows and for the same reason before the users: a user state that reflects a record
    // implies its counts are written (applyCounts gates each delta by its offset, so a replay adds nothing twice).
    const attributed = new Map<string, Attribution>();
    const counts: Array<[number, string, number]> = [];
    for (const [u, rs] of freshOf) {
      const a = ex.attribute(u, rs.map(attributedRecord), prior.get(u)?.ck ?? []);
      attributed.set(u, a);
      counts.push(...a.deltas);
    }
    if (counts.length > 0) await d.store.applyExperimentCounts(field, lastOffset, counts.sort((a, b) => a[0] - b[0]));

    // Recommend for every user of the batch but the withdrawn, at the time of the user's newest event, with the
    // strategy of the user's experiment variant (the bandits read the counts as they are now).
    const newest = new Map<string, UserEvent>();
    const userLast = new Map<string, number>();
    for (const r of records) {
      newest.set(r.event.userId, r.event);
      userLast.set(r.event.userId, r.offset);
    }
    const bandits = await ex.banditStates();
    const lists = new Map<string, Recommendations>();
    const plans = new Map<string, ListPlan>();
    const generatedAt = Date.now();
    for (const u of users) {
      if (withdrawn.has(u)) continue;
      const src = newest.get(u)!;
      const ctx = { segments: segmentsOf.get(u) ?? [], country: src.context?.country ?? null, device: src.context?.device ?? null, now: src.eventTime };
      const plan = ex.plan(u, ctx, bandits, resetUsers.has(u) ? [] : prior.get(u)?.x ?? []);
      const ranker = ex.rankerFor(plan);
      const items = ranker.recommend(u, { n: d.cfg.recommendationCount, now: src.eventTime, country: ctx.country, device: ctx.device, segments: ctx.segments });
      plans.set(u, plan);
      lists.set(u, {
        userId: u, items, strategy: strategyLabel(ranker.strategy), sourceEventId: src.eventId, sourceEventTime: src.eventTime, generatedAt,
        recommendationId: ex.recommendationId(u, plan, `${partition}.${userLast.get(u)}`),
        assignments: plan.assignments.map((a) => ({ experiment: a.experiment, variant: a.variant })),
      });
    }

    const emit = new Set<string>();
    await Promise.all(users.map(async (u) => {
      const list = lists.get(u); // none: withdrawn
      const hash = list ? listHash(list) : '';
      const items = list ? list.items.map((i) => i.itemId) : [];
      if (!freshUsers.has(u)) {
        // Replayed: the state (and a reset's clean-up, (2) in the header) is committed. The list is emitted
        // again, as the crash may have come between apply and produce. The holders are added again for the list
        // the first attempt COMMITTED (`li`), not for the one recomputed now, which may differ (the model was
        // rebuilt since) and is not stored: holders stay within `li` ((3) in the header).
        if (list) emit.add(u);
        if (!withdrawn.has(u)) await d.store.updateHolders(u, [], prior.get(u)?.li ?? []);
        return;
      }
      let before = prior.get(u)?.li ?? [];
      let beforeHash = prior.get(u)?.lh ?? '';
      const shown = beforeHash === '' ? null : before;
      if (resetUsers.has(u) || withdrawn.has(u)) {
        // The last emitted list is withdrawn before the commit ((2) in the header): a reset starts a new
        // profile, and a withdrawn user keeps no list (the tombstone replaces it downstream).
        await d.store.clearList(u, before);
        before = [];
        beforeHash = '';
      }
      const changed = list !== undefined && hash !== beforeHash;
      // A changed list: the user leaves the holders of the items it drops BEFORE the commit (the stored `li` still
      // names them), and joins those of its items after ((3) in the header).
      if (changed) await d.store.updateHolders(u, before, before.filter((i) => items.includes(i)));
      const a = attributed.get(u)!;
      const state = toStored(rec.users.get(u)!, rec.items, { lh: hash, li: items, x: plans.get(u)?.recorded, ck: a.clicks });
      await d.store.commitUser(u, field, offsetOf.get(u)!, userLast.get(u)!, JSON.stringify(state));
      // Counted once the user's records are committed: a retry of the micro-batch finds them replayed.
      this.countOnline(freshOf.get(u)!, shown, prior.get(u)?.x ?? []);
      ex.count(a);
      if (list !== undefined && !changed) d.metrics.lists.inc({ outcome: 'unchanged' });
      if (changed) {
        emit.add(u);
        await d.store.updateHolders(u, [], items);
      }
    }));

    // The records carry the real id: one lookup for the batch. A user that does not resolve (erased meanwhile)
    // gets nothing, neither record nor stored list.
    const emitting = users.filter((u) => emit.has(u));
    const ids = emitting.length > 0 ? await d.identities.resolve(emitting) : new Map<string, string>();
    // Together, not one round trip per user; the records keep the users' order.
    const out = (await Promise.all(emitting.map(async (u): Promise<OutboundRecord | null> => {
      const userId = ids.get(u);
      if (userId === undefined) return null;
      const list = lists.get(u)!;
      // Stored under the pseudonym, and holding it: Redis keeps no raw user id.
      await d.state.saveRecommendations(list, d.cfg.recommendationTtlSeconds);
      const headers: Record<string, string> = { 'attune.source': `${topic}:${partition}:${userLast.get(u)}` };
      // A replayed user's list is marked: the emit stage counts it apart and leaves it out of freshness.
      if (!freshUsers.has(u)) headers[REEMITTED_HEADER] = 'true';
      return { key: userId, value: await d.codec.encodeRecommendations({ ...list, userId }), headers };
    }))).filter((r): r is OutboundRecord => r !== null);
    if (fresh.length < records.length) log.debug({ topic, partition, replayed: records.length - fresh.length }, 'records already reflected in user states');
    return out;
  }

  /** Live quality: the user's purchases and clicks against the list it was last shown (online-quality.ts). */
  private countOnline(records: readonly OffsetEvent[], shown: readonly string[] | null, shownAs: readonly Recorded[]): void {
    if (shown === null) return;
    // The strategy of the list shown: its recorded assignments' (the default's when it was in no experiment).
    const ex = this.d.experiments;
    const strategy = strategyLabel(ex.rankerFor(ex.replan(shownAs)).strategy);
    for (const x of onlineInteractions(records, shown)) {
      this.d.metrics.onlineInteractions.inc({ strategy, type: x.type });
      if (x.hit) this.d.metrics.onlineHits.inc({ strategy, type: x.type });
    }
  }

  /**
   * Recomputes one user's list after the catalog changed (an item in it became unavailable or was deleted) and
   * emits it when it changed. Runs as a job of the user's partition task, so it never overlaps a micro-batch;
   * the user's state keeps its offset (compare-and-set with the same value), only the list fields change.
   * The state is keyed by the pseudonym, the record by the real id (the caller resolved it, and checked that the
   * user may be personalized). Returns the record to emit, or null.
   */
  async correct(topic: string, partition: number, user: CorrectedUser, source: string, emit?: (out: OutboundRecord) => Promise<void>): Promise<OutboundRecord | null> {
    return this.inUse.with([user.pseudonym], () => correctList(this.d, topic, partition, user, source, emit));
  }
}
