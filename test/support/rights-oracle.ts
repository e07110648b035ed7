/**
 * An independent oracle of users' rights (issue #11, /docs/privacy.md) for the verifier: what consent and erasure
 * leave of the input log, derived by pure code straight from the semantics — deliberately NOT the rights stage's own
 * plan, so a bug there cannot hide behind the same bug here.
 *
 * Per user, in log order: the `personalization` status starts at ATTUNE_CONSENT_DEFAULT; a consent event sets the
 * purposes it lists (granted / denied / revoked; denied and revoked both mean "not granted"); an erase event resets
 * every purpose to the default. An ordinary event counts only while the user is personalized. A reset (an erasure,
 * or a consent event taking personalization from granted to not granted) empties the user's per-user state.
 * Consent and erase events are never activity (no counts, no history). Anonymous aggregates (popularity,
 * co-occurrence) count every passing ordinary event, before or after a reset; ATTUNE_CONSENT_ANONYMOUS_AGGREGATES
 * adds the dropped ones to popularity only (the chaos run keeps it false).
 *
 * Identity stitching (docs/privacy.md, "Identity stitching"): an identify event of upstream (anonymous `userId`,
 * `knownUserId`) of a personalized user is, for that user, an erasure (a reset with cause 'erasure', every purpose
 * back to the default, ending 'erased' unless later events follow); the user's survivors just before it (its
 * profile) move to the known user: a merge, at the place of the merge record the worker produced into the known
 * user's partition. The known user gains them (they count for the known user, as the merged counts do) when it is
 * personalized at the merge, else nothing (the record is dropped); the identify is never activity, and a merge adds
 * nothing to the aggregates (the anonymous events were counted when they happened). An identify of a user who is
 * not personalized does nothing at all.
 *
 * Where a merge happens in the known user's history is not a function of the input log: the worker produces the
 * merge record when it processes the identify, so it lands among the known user's events wherever that user's
 * partition had got to (the reference run reads the same record at the same place). The verifier reads it off the
 * events topic (`merges`: per identify, how many of the known user's log events precede the first copy of its
 * record); without it, each merge is placed right after its identify (for pure tests). The known user's consent is
 * taken at the merge's place in the known user's own order, which is exact as long as every user's consent events
 * keep their order relative to the merges of that user (true when the known users have no consent events, as in the
 * chaos run, where they are drawn among users without rights events).
 */
import type { UserEvent } from '../../src/domain/events.js';
import { PERSONALIZATION, isActivity } from '../../src/domain/events.js';

const RIGHTS_TYPES = new Set(['consent', 'erase', 'identify']);

/** How a user ends, after the whole log. */
export type Ending =
  /** The last passing point is an ordinary event or a merge: the user has per-user state (that since the last reset). */
  | 'personalized'
  /** The last passing point is an erasure (or an identify): nothing of the user may remain (no key, no membership). */
  | 'erased'
  /** The last passing point is a consent withdrawal (a re-grant alone passes nothing): state emptied, list tombstoned. */
  | 'withdrawn'
  /** Nothing of the user ever passed (not personalized throughout): nothing of the user may exist. */
  | 'never';

/**
 * One step of the log as the per-user stages see it: a passing ordinary event, a reset of the user (`identify`: the
 * event id of the identify event whose erasure this is), or a merge of the profile an identify moved (`identify`:
 * that event's id; `from`: the anonymous user; `events`: its survivors just before the identify).
 */
export type Step =
  | { kind: 'event'; event: UserEvent }
  | { kind: 'reset'; userId: string; cause: 'erasure' | 'consent'; identify?: string }
  | { kind: 'merge'; userId: string; from: string; identify: string; events: UserEvent[] };

/** Where the merge record of an identify landed: the known user's log events before its first copy, and its offset
 *  (orders several merges into one known user). */
export interface MergePlace {
  knownEventsBefore: number;
  offset: number;
}

export interface MergeFigures {
  /** Identify events of upstream in the log. */
  identifies: number;
  /** Identifies of personalized users: each erased its user (counted in resets.erasure too). */
  erasing: number;
  /** Merges into a personalized known user. */
  applied: number;
  /** Merge records dropped: the known user was not personalized at the merge. */
  dropped: number;
  /** Merge records the worker had to produce but did not, or produced for an identify that moves nothing (only
   *  with the places of the records, `merges`). */
  problems: string[];
}

export interface RightsOutcome {
  /** Passing ordinary events, resets and merges, in log order. */
  steps: Step[];
  /** Passing ordinary events (what the aggregates count: popularity, co-occurrence), in log order. */
  passing: UserEvent[];
  /** Ordinary events of users not personalized that still count in popularity (only with
   *  ATTUNE_CONSENT_ANONYMOUS_AGGREGATES=true; never in co-occurrence, which needs a user's history). */
  anonymous: UserEvent[];
  /** Per user: the passing ordinary events since the user's last reset (what per-user state holds), a known user's
   *  including those its merges brought. */
  survivors: Map<string, UserEvent[]>;
  /** Per user of the input: how the user ends. */
  endings: Map<string, Ending>;
  /** Ordinary events dropped because the user was not personalized. */
  dropped: number;
  resets: { erasure: number; consent: number };
  merges: MergeFigures;
}

export interface RightsSettings {
  consentDefault: 'granted' | 'denied';
  consentAnonymousAggregates: boolean;
}

/** The personalization status after a consent event, or `undefined` when the event does not list the purpose. */
function personalizationAfter(e: UserEvent): boolean | undefined {
  let out: boolean | undefined;
  for (const c of e.consent ?? []) if (c.purpose === PERSONALIZATION) out = c.status === 'granted';
  return out;
}

/** An identify event of upstream (the merge records Attune produces carry a profile instead; they are not input). */
const isUpstreamIdentify = (e: UserEvent) => e.type === 'identify' && !e.profile && !!e.knownUserId;

interface PendingMerge {
  identify: string;
  known: string;
  from: string;
  place: MergePlace;
  /** Set once the identify was processed: the profile it moves (null: nothing moves, the record is unexpected). */
  snapshot?: UserEvent[] | null;
}

/**
 * `events` in log order (per user: the order of the user's partition, which the produce order is when keyed by id).
 * `merges`: per identify event id, where its merge record landed (see the module comment); absent: right after it.
 */
export function rightsOutcome(events: readonly UserEvent[], cfg: RightsSettings, merges?: ReadonlyMap<string, MergePlace>): RightsOutcome {
  const def = cfg.consentDefault === 'granted';
  const status = new Map<string, boolean>();
  const last = new Map<string, Ending>();
  const survivors = new Map<string, UserEvent[]>();
  const steps: Step[] = [];
  const passing: UserEvent[] = [];
  const anonymous: UserEvent[] = [];
  const resets = { erasure: 0, consent: 0 };
  const mf: MergeFigures = { identifies: 0, erasing: 0, applied: 0, dropped: 0, problems: [] };
  let dropped = 0;

  // Merges per known user, in the order of their records on the known user's partition.
  const queues = new Map<string, PendingMerge[]>();
  const enqueue = (m: PendingMerge) => {
    let q = queues.get(m.known);
    if (!q) queues.set(m.known, (q = []));
    q.push(m);
    q.sort((a, b) => a.place.offset - b.place.offset);
  };
  if (merges) {
    const identifies = new Map(events.filter(isUpstreamIdentify).map((e) => [e.eventId, e]));
    for (const [id, place] of merges) {
      const e = identifies.get(id);
      if (!e) mf.problems.push(`a merge record names identify event ${id}, which is not in the log`);
      else enqueue({ identify: id, known: e.knownUserId!, from: e.userId, place });
    }
  }
  /** Log events of each user processed so far (a merge's place counts them). */
  const seen = new Map<string, number>();
  let placed = 0;
  const merge = (m: PendingMerge) => {
    const k = m.known;
    if (!last.has(k)) last.set(k, 'never');
    if (!m.snapshot) return; // an unexpected record, reported when its identify was processed
    if (!(status.get(k) ?? def)) {
      mf.dropped++;
      return;
    }
    mf.applied++;
    steps.push({ kind: 'merge', userId: k, from: m.from, identify: m.identify, events: m.snapshot });
    let s = survivors.get(k);
    if (!s) survivors.set(k, (s = []));
    s.push(...m.snapshot);
    last.set(k, 'personalized');
  };
  /** Applies the merges of `known` due at its current place; `strict`: the user's next event follows, so a merge
   *  due before it must be applicable now. */
  const flush = (known: string, strict: boolean) => {
    const q = queues.get(known);
    const n = seen.get(known) ?? 0;
    while (q?.length && q[0]!.place.knownEventsBefore <= n) {
      const m = q[0]!;
      if (m.snapshot === undefined) {
        if (!strict && m.place.knownEventsBefore === n) return;
        throw new Error(`the merge record of ${m.identify} lies before the known user's event ${m.place.knownEventsBefore + 1}, which the log has before the identify: the records were not produced in log order`);
      }
      if (m.place.knownEventsBefore < n) throw new Error(`the merge record of ${m.identify} lies before the known user's event ${m.place.knownEventsBefore + 1}, which the log has before the identify`);
      q.shift();
      merge(m);
    }
  };

  for (const e of events) {
    const u = e.userId;
    flush(u, true);
    seen.set(u, (seen.get(u) ?? 0) + 1);
    const before = status.get(u) ?? def;
    if (!last.has(u)) last.set(u, 'never');
    if (e.type === 'erase' || (isUpstreamIdentify(e) && before)) {
      if (e.type === 'identify') {
        mf.identifies++;
        mf.erasing++;
        const snapshot = [...(survivors.get(u) ?? [])];
        const m = queues.get(e.knownUserId!)?.find((x) => x.identify === e.eventId);
        if (m) m.snapshot = snapshot;
        // Without places: a record right after the identify, when there is something to move (an empty profile
        // needs none).
        else if (!merges && snapshot.length > 0) enqueue({ identify: e.eventId, known: e.knownUserId!, from: u, place: { knownEventsBefore: seen.get(e.knownUserId!) ?? 0, offset: placed++ }, snapshot });
        else if (snapshot.some((x) => isActivity(x.type))) mf.problems.push(`identify ${e.eventId} of user ${u}: the user's profile holds ${snapshot.length} events, but no merge record reached the known user ${e.knownUserId}`);
      }
      status.set(u, def);
      steps.push({ kind: 'reset', userId: u, cause: 'erasure', ...(e.type === 'identify' ? { identify: e.eventId } : {}) });
      resets.erasure++;
      survivors.set(u, []);
      last.set(u, 'erased');
      if (e.type === 'identify') flush(e.knownUserId!, false);
      continue;
    }
    if (isUpstreamIdentify(e)) {
      // Not personalized: no profile to move, nothing happens (the worker produces no record).
      mf.identifies++;
      const m = queues.get(e.knownUserId!)?.find((x) => x.identify === e.eventId);
      if (m) {
        m.snapshot = null;
        mf.problems.push(`identify ${e.eventId} of user ${u}, who is not personalized: a merge record reached the known user ${e.knownUserId} all the same`);
        flush(e.knownUserId!, false);
      }
      continue;
    }
    if (e.type === 'consent') {
      const after = personalizationAfter(e) ?? before;
      status.set(u, after);
      if (before && !after) {
        steps.push({ kind: 'reset', userId: u, cause: 'consent' });
        resets.consent++;
        survivors.set(u, []);
        last.set(u, 'withdrawn');
      }
      continue;
    }
    if (RIGHTS_TYPES.has(e.type)) continue;
    if (!before) {
      dropped++;
      // Popularity only (when allowed): nothing per user, no co-occurrence.
      if (cfg.consentAnonymousAggregates) anonymous.push(e);
      continue;
    }
    steps.push({ kind: 'event', event: e });
    passing.push(e);
    let s = survivors.get(u);
    if (!s) survivors.set(u, (s = []));
    s.push(e);
    last.set(u, 'personalized');
  }
  // Merges after the known user's last event.
  for (const known of queues.keys()) flush(known, false);
  for (const [known, q] of queues) {
    for (const m of q) mf.problems.push(`the merge record of ${m.identify} into ${known} lies after the known user's ${m.place.knownEventsBefore} events, but the log has ${seen.get(known) ?? 0}`);
  }
  return { steps, passing, anonymous, survivors, endings: last, dropped, resets, merges: mf };
}
