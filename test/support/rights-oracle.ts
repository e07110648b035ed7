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
 */
import type { UserEvent } from '../../src/domain/events.js';
import { PERSONALIZATION } from '../../src/domain/events.js';

const RIGHTS_TYPES = new Set(['consent', 'erase']);

/** How a user ends, after the whole log. */
export type Ending =
  /** The last passing point is an ordinary event: the user has per-user state (that of the events since the last reset). */
  | 'personalized'
  /** The last passing point is an erasure: nothing of the user may remain (no key, no membership). */
  | 'erased'
  /** The last passing point is a consent withdrawal (a re-grant alone passes nothing): state emptied, list tombstoned. */
  | 'withdrawn'
  /** Nothing of the user ever passed (not personalized throughout): nothing of the user may exist. */
  | 'never';

/** One step of the log as the per-user stages see it: a passing ordinary event, or a reset of the user. */
export type Step = { kind: 'event'; event: UserEvent } | { kind: 'reset'; userId: string; cause: 'erasure' | 'consent' };

export interface RightsOutcome {
  /** Passing ordinary events and resets, in log order. */
  steps: Step[];
  /** Passing ordinary events (what the aggregates count: popularity, co-occurrence), in log order. */
  passing: UserEvent[];
  /** Ordinary events of users not personalized that still count in popularity (only with
   *  ATTUNE_CONSENT_ANONYMOUS_AGGREGATES=true; never in co-occurrence, which needs a user's history). */
  anonymous: UserEvent[];
  /** Per user: the passing ordinary events since the user's last reset (what per-user state holds). */
  survivors: Map<string, UserEvent[]>;
  /** Per user of the input: how the user ends. */
  endings: Map<string, Ending>;
  /** Ordinary events dropped because the user was not personalized. */
  dropped: number;
  resets: { erasure: number; consent: number };
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

/** `events` in log order (per user: the order of the user's partition, which the produce order is when keyed by id). */
export function rightsOutcome(events: readonly UserEvent[], cfg: RightsSettings): RightsOutcome {
  const def = cfg.consentDefault === 'granted';
  const status = new Map<string, boolean>();
  const last = new Map<string, Ending>();
  const survivors = new Map<string, UserEvent[]>();
  const steps: Step[] = [];
  const passing: UserEvent[] = [];
  const anonymous: UserEvent[] = [];
  const resets = { erasure: 0, consent: 0 };
  let dropped = 0;
  for (const e of events) {
    const u = e.userId;
    const before = status.get(u) ?? def;
    if (!last.has(u)) last.set(u, 'never');
    if (e.type === 'erase') {
      status.set(u, def);
      steps.push({ kind: 'reset', userId: u, cause: 'erasure' });
      resets.erasure++;
      survivors.set(u, []);
      last.set(u, 'erased');
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
  return { steps, passing, anonymous, survivors, endings: last, dropped, resets };
}
