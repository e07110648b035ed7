/**
 * The rights stage's pure core: what the per-user stages may see of a micro-batch, and what the stage must write
 * (docs/privacy.md, the design of #11). Each user's events are taken in offset order:
 *  - an event before the user's recorded erasure (ledger.ts `erasedBefore`) is skipped (no resurrection), and so is
 *    one before the user's last recorded withdrawal (a `0` entry of the stored history): both are written by the
 *    erase stage only after every stage of the micro-batch holding them completed, so the events before them are
 *    fully processed, and the sweep after them removed the state a re-run would otherwise rebuild from nothing;
 *  - an erase event passes with `reset: 'erasure'` and resets every purpose to the default;
 *  - a consent event changes the purposes it lists; it passes (`reset: 'consent'`) only when it takes
 *    personalization from granted to not granted, else it is not activity and goes no further;
 *  - an ordinary event passes when the user is personalized; else it is dropped, or passed `anonymous` when the
 *    deployment lets such events count in anonymous aggregates;
 *  - an identify event from upstream (identity stitching, merge.ts) of a personalized user is planned as a merge
 *    (the stage produces the snapshot re-keyed to the known user, unless the ledger shows it did) and then passes
 *    as an erasure of the anonymous profile; if the user already passed an event in this attempt, the stored state
 *    is not the state before the identify, so the plan asks for a cut before it (`cutBefore`) instead;
 *  - the merge record (an identify carrying a profile) passes with `merge` when the known user is personalized,
 *    else it is dropped (never an anonymous aggregate: it is nothing but per-user state).
 * Everything passed is a copy with `event.userId` = the pseudonym. The status a user starts from is read from the
 * stored history at the user's first offset in the attempt (consent.ts), so every decision is the same whatever
 * the micro-batch cuts, given the subject the previous cut wrote (test/unit/rights-plan.test.ts checks it).
 */
import { PERSONALIZATION, type UserEvent } from '../../domain/events.js';
import type { OffsetEvent } from '../ingest/plan.js';
import { HISTORY_CAP, parseConsent, rebaseHistory, rewriteHistory, serializeConsent, statusAt, type HistoryEntry, type SubjectConsent } from './consent.js';
import { erasedBefore, type LedgerEntry } from './ledger.js';
import { parseProfile } from '../../domain/profile.js';
import type { PlannedMerge } from './merge.js';

/** A valid event with the Kafka timestamp of its record (ms): the ledger compares it across partitions. */
export interface RightsInput {
  offset: number;
  event: UserEvent;
  timestamp: number;
}

/** The stored subject of a pseudonym (`{u:P}:subject`), null fields when absent. */
export interface StoredSubject {
  id: string | null;
  consent: string | null;
}

export interface Naming {
  pseudonym(userId: string): string;
  seal(userId: string): string;
}

export interface RightsContext {
  topic: string;
  partition: number;
  names: Naming;
  /** The subject of each pseudonym of the batch (absent or null: none stored). */
  subjects: ReadonlyMap<string, StoredSubject | null>;
  /** The recorded erasure of a user, matched under the current and the previous key (ledger.ts). */
  ledger: { lookup(userId: string): LedgerEntry | undefined };
  consentDefault: 'granted' | 'denied';
  anonymousAggregates: boolean;
}

export type RightsOutcome = 'passed' | 'no_consent' | 'anonymous' | 'erased_before' | 'withdrawn_before';

/**
 * One subject hash write: `id` (sealed) and `consent` (JSON; null = delete the field), each only when it changes.
 * The plan's `writes` (the erase stage's) carry consent only; `sealedIds` (the rights stage's) carry ids only.
 */
export interface SubjectWrite {
  pseudonym: string;
  id?: string;
  consent?: string | null;
}

export interface Erasure {
  pseudonym: string;
  userId: string;
  /** The user's last erase event of the batch. */
  offset: number;
  /** Its record's Kafka timestamp (the ledger's `at`). */
  at: number;
  /** No personalized event after it: the sweep deletes everything the user owns. */
  sweep: boolean;
  /** The sweep keeps the subject hash: consent choices made after the erasure live in it. */
  keepSubject: boolean;
}

export interface RightsPlan {
  pass: OffsetEvent[];
  withdrawn: Map<string, { userId: string; offset: number }>;
  writes: SubjectWrite[];
  erasures: Erasure[];
  /**
   * Users whose personalization consent was withdrawn with no personalized event after it (and who are not swept
   * for an erasure): the erase stage sweeps their state except the subject hash, so a withdrawn user keeps no
   * profile — not even the offsets a stage wrote at the reset. The withdrawal entry in the history (written first)
   * is what keeps a re-run from rebuilding the swept profile (see the skip rule above).
   */
  clears: Array<{ pseudonym: string; offset: number }>;
  /**
   * The sealed id of every user with a personalized event that passes and no (or another) sealed id stored: the
   * rights stage writes them before the later stages run, so an output stage whose identities cache no longer
   * holds the user (the LRU evicted it meanwhile) finds the id in Redis. Empty in steady state.
   */
  sealedIds: Array<{ pseudonym: string; id: string }>;
  /** The real id of each pseudonym of the batch (Identities). */
  ids: Map<string, string>;
  /** How many events each outcome had (consent events that only change a status count in none). */
  outcomes: Record<RightsOutcome, number>;
  /** Pseudonyms whose stored consent did not parse (treated as none; the caller warns with the count). */
  unreadable: number;
  /** Identify events whose merge record the rights stage must produce (and ledger), in offset order. */
  merges: PlannedMerge[];
  /**
   * The offset of the first identify whose user already passed an event in this attempt: the micro-batch must be
   * cut before it and run again as two (events-chain.ts); nothing of this plan may be written. Null: no cut.
   */
  cutBefore: number | null;
}

interface UserRun {
  userId: string;
  pseudonym: string;
  personalized: boolean;
  consent: SubjectConsent;
  /** The history as stored (an erasure in the attempt empties `consent`, not the entries a later part recorded). */
  storedH: SubjectConsent['h'];
  /** First offset of the user in this attempt: the history is read and rewritten from there. */
  start: number;
  /** Last offset of the user in this attempt: stored entries after it (a re-run part of an applied batch) stay. */
  end: number;
  changes: HistoryEntry[];
  erased: { offset: number; at: number } | null;
  /** A personalized event passed after the last erasure (or in the batch, without one). */
  personalizedSince: boolean;
  endedAt: number | null;
  /** The last consent withdrawal with no personalized event after it (and no erasure after it). */
  withdrewAt: number | null;
  /** Events before this offset were processed by an attempt that completed (last withdrawal of the stored history). */
  clearedBefore: number;
  /** An event of the user passed in this attempt (an identify after it needs a cut). */
  passedAny: boolean;
}

export function planRights(events: readonly RightsInput[], ctx: RightsContext): RightsPlan {
  const dflt = ctx.consentDefault === 'granted';
  const runs = new Map<string, UserRun>();
  const plan: RightsPlan = {
    pass: [], withdrawn: new Map(), writes: [], erasures: [], clears: [], sealedIds: [], ids: new Map(),
    outcomes: { passed: 0, no_consent: 0, anonymous: 0, erased_before: 0, withdrawn_before: 0 }, unreadable: 0,
    merges: [], cutBefore: null,
  };
  for (const { offset, event, timestamp } of events) {
    let run = runs.get(event.userId);
    if (!run) {
      const pseudonym = ctx.names.pseudonym(event.userId);
      let consent: SubjectConsent;
      try {
        consent = parseConsent(ctx.subjects.get(pseudonym)?.consent);
      } catch {
        plan.unreadable++;
        consent = parseConsent(null);
      }
      // A history recorded on another partition (the partition count changed and the user's events moved): its
      // offsets are not this partition's, so it is rebased before this partition's offsets (consent.ts). One that
      // names no partition (every history written since layout v4 does) is of an unknown one: rebased too.
      const source = `${ctx.topic}:${ctx.partition}`;
      if (consent.s !== source && consent.h.length) consent.h = rebaseHistory(consent.h);
      consent.s = source;
      // Events before the last recorded withdrawal are skipped (below), so the attempt starts, for this user, at
      // that withdrawal: the status and the history rewrite are taken from there, as the run that recorded it did.
      const clearedBefore = consent.h.reduce((m, [o, after]) => (after === 0 && o > m ? o : m), -1);
      const start = Math.max(offset, clearedBefore);
      run = {
        userId: event.userId, pseudonym, consent, storedH: consent.h, start, end: offset, changes: [], erased: null, personalizedSince: false, endedAt: null,
        personalized: statusAt(consent.h, start, dflt), withdrewAt: null, clearedBefore, passedAny: false,
      };
      runs.set(event.userId, run);
      plan.ids.set(pseudonym, event.userId);
    }
    run.end = Math.max(run.end, offset);
    const ledger = ctx.ledger.lookup(event.userId);
    if (ledger && erasedBefore(ledger, ctx.topic, ctx.partition, offset, timestamp)) {
      plan.outcomes.erased_before++;
      continue;
    }
    if (offset < run.clearedBefore) {
      plan.outcomes.withdrawn_before++;
      continue;
    }
    const copy = (): UserEvent => ({ ...event, userId: run.pseudonym });
    const pass = (e: OffsetEvent, outcome: 'passed' | 'anonymous' = 'passed') => {
      plan.pass.push(e);
      plan.outcomes[outcome]++;
      run.passedAny = true;
    };
    const identify = event.type === 'identify' && !event.profile;
    if (identify && !run.personalized) {
      plan.outcomes.no_consent++; // no profile to move: an unpersonalized user has no per-user state
    } else if (identify && run.passedAny) {
      if (plan.cutBefore === null) plan.cutBefore = offset;
    } else if (event.type === 'erase' || identify) {
      if (identify && !(ledger && ledger.topic === ctx.topic && ledger.partition === ctx.partition && ledger.offset === offset)) {
        plan.merges.push({ pseudonym: run.pseudonym, userId: event.userId, knownUserId: event.knownUserId!, offset, at: timestamp, eventTime: event.eventTime });
      }
      pass({ offset, event: copy(), reset: 'erasure' });
      run.consent = { p: {}, h: [], s: run.consent.s };
      run.changes = [];
      run.erased = { offset, at: timestamp };
      run.personalized = dflt;
      run.personalizedSince = false;
      run.endedAt = offset;
      run.withdrewAt = null;
    } else if (event.type === 'consent') {
      let next = run.personalized;
      for (const c of event.consent ?? []) {
        run.consent.p[c.purpose] = [c.status, event.eventTime];
        if (c.purpose === PERSONALIZATION) next = c.status === 'granted';
      }
      if (next !== run.personalized) run.changes.push([offset, next ? 1 : 0]);
      if (run.personalized && !next) {
        pass({ offset, event: copy(), reset: 'consent' });
        run.endedAt = offset;
        run.withdrewAt = offset;
      }
      run.personalized = next;
    } else if (run.personalized) {
      // The merge record of an identify (it carries a profile, validated) merges the snapshot into this user.
      pass(event.type === 'identify' ? { offset, event: copy(), merge: parseProfile(event.profile!) } : { offset, event: copy() });
      run.personalizedSince = true;
      run.endedAt = null;
      run.withdrewAt = null;
    } else if (ctx.anonymousAggregates && event.type !== 'identify') {
      pass({ offset, event: copy(), anonymous: true }, 'anonymous');
    } else {
      plan.outcomes.no_consent++;
    }
  }

  for (const run of runs.values()) {
    if (run.endedAt !== null) plan.withdrawn.set(run.pseudonym, { userId: run.userId, offset: run.endedAt });
    const stored = ctx.subjects.get(run.pseudonym) ?? null;
    const restart = run.erased !== null;
    const consent = serializeConsent({ p: run.consent.p, h: rewriteHistory(run.storedH, run.start, run.changes, restart, HISTORY_CAP, run.end), s: run.consent.s });
    // A stored change after the user's last offset here means this attempt re-runs the first part of a range that
    // was applied whole (a bisection half after the erase stage ran): the rest decides how the user ends, so this
    // part neither sweeps nor clears what the rest rebuilt.
    const decidedLater = run.storedH.some(([o]) => o > run.end);
    const sweep = restart && !run.personalizedSince && !decidedLater;
    const write: SubjectWrite = { pseudonym: run.pseudonym };
    // The sweep deletes the subject with the rest; what it keeps (a consent chosen after the erasure) is written first.
    const storedConsent = sweep ? null : stored?.consent ?? null;
    if (consent !== storedConsent) write.consent = consent;
    if (run.personalizedSince) {
      // Never swept (sweep implies no personalized event after the erasure), so the id written early stays.
      const sealed = ctx.names.seal(run.userId);
      if (sealed !== stored?.id) plan.sealedIds.push({ pseudonym: run.pseudonym, id: sealed });
    }
    if (write.consent !== undefined) plan.writes.push(write);
    if (run.erased) {
      plan.erasures.push({ pseudonym: run.pseudonym, userId: run.userId, offset: run.erased.offset, at: run.erased.at, sweep, keepSubject: sweep && consent !== null });
    }
    if (run.withdrewAt !== null && !sweep && !decidedLater) plan.clears.push({ pseudonym: run.pseudonym, offset: run.withdrewAt });
  }
  return plan;
}
