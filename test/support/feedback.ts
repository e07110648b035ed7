/**
 * Experiment feedback for the chaos and fault harnesses: impression and click events of downstream, inserted into
 * a replayed log (seeded), with recommendation ids signed for their user under the deployment's key, as the worker
 * would have minted them for the experiments of FEEDBACK_EXPERIMENTS. What downstream reports does not depend on
 * the lists the workers emitted in the run, so the log is fixed before it is produced and the counts it must give
 * are a function of the log alone (`expectedFeedbackCounts`, checked by the verifier; the reference run checks
 * everything else, conversions included, key by key).
 *
 * Only users without rights events get feedback (their events all pass, in order), so the expected counts need no
 * consent oracle. Per such user (a share FEEDBACK_SHARE of them), before some of their events: an impression of a
 * list (an A/B variant by the user's fixed assignment, or a bandit arm by the seeded draw), sometimes a click on
 * the item of the user's next event with the same id (a purchase of it right after converts, the rule without an
 * id), and rarely an impression with an id signed for another user (refused: counted nowhere).
 */
import { writeFileSync } from 'node:fs';
import type { UserEvent } from '../../src/domain/events.js';
import type { Config } from '../../src/config/config.js';
import { parseExperiments } from '../../src/experiments/file.js';
import { fixedVariant } from '../../src/experiments/assignment.js';
import { countField } from '../../src/experiments/counts.js';
import { RecommendationIds } from '../../src/experiments/recommendation-id.js';
import { pseudonymizerFor } from '../../src/stages/rights/pseudonym.js';

export const FEEDBACK_EXPERIMENTS = `version: 1
experiments:
  chaos_ab:
    layer: home
    variants:
      control: { strategy: hybrid, share: 0.5 }
      item_knn: { strategy: collaborative, share: 0.5 }
  chaos_bandit:
    layer: bandit
    allocation: thompson
    bandit: { min_exploration: 0.2, bucket: 1d }
    variants:
      hybrid: { strategy: hybrid }
      trending: { strategy: trending }
`;

export function writeFeedbackExperiments(path: string): string {
  writeFileSync(path, FEEDBACK_EXPERIMENTS);
  return path;
}

const FEEDBACK_SHARE = 0.05;

export interface FeedbackInjected {
  users: number;
  impressions: number;
  clicks: number;
  /** Impressions whose id was signed for another user. */
  forged: number;
}

const idsOf = (cfg: Config) => new RecommendationIds(pseudonymizerFor(cfg).recommendationIdKey);

export function injectFeedback(events: readonly UserEvent[], seed: number, cfg: Config, random: () => number): { events: UserEvent[]; injected: FeedbackInjected } {
  const names = pseudonymizerFor(cfg);
  const ids = idsOf(cfg);
  const ab = parseExperiments(FEEDBACK_EXPERIMENTS).experiments[0];
  const withRights = new Set(events.filter((e) => e.type === 'consent' || e.type === 'erase').map((e) => e.userId));
  const chosen = new Map<string, boolean>();
  const injected: FeedbackInjected = { users: 0, impressions: 0, clicks: 0, forged: 0 };
  const nextOf = new Map<number, number>();
  const lastAt = new Map<string, number>();
  for (let i = events.length - 1; i >= 0; i--) {
    const u = events[i]!.userId;
    if (lastAt.has(u)) nextOf.set(i, lastAt.get(u)!);
    lastAt.set(u, i);
  }
  const out: UserEvent[] = [];
  const clicksBefore = new Map<number, UserEvent>();
  let n = 0;
  const base = (e: UserEvent, type: UserEvent['type'], extra: Partial<UserEvent>): UserEvent => ({
    eventId: `chaos-feedback-${seed}-${n++}`, userId: e.userId, type, eventTime: e.eventTime, itemId: null, quantity: null, price: null,
    rating: null, sessionId: null, context: null, properties: {}, recommendationId: null, ...extra,
  });
  events.forEach((e, i) => {
    const click = clicksBefore.get(i);
    if (click) out.push({ ...click, eventTime: out.length ? out[out.length - 1]!.eventTime : e.eventTime });
    out.push(e);
    const u = e.userId;
    if (withRights.has(u)) return;
    let on = chosen.get(u);
    if (on === undefined) {
      chosen.set(u, (on = random() < FEEDBACK_SHARE));
      if (on) injected.users++;
    }
    if (!on || random() >= 0.5) return;
    const p = names.pseudonym(u);
    const assignment = random() < 0.5
      ? { experiment: ab.id, variant: fixedVariant(ab, p).id, segment: null }
      : { experiment: 'chaos_bandit', variant: random() < 0.5 ? 'hybrid' : 'trending', segment: null };
    const forged = random() < 0.05;
    const id = ids.mint(forged ? names.pseudonym(`${u}-someone-else`) : p, [assignment], `${i % 6}.${i}`);
    out.push(base(e, 'impression', { recommendationId: id }));
    if (forged) injected.forged++;
    else injected.impressions++;
    const next = nextOf.get(i);
    if (!forged && next !== undefined && events[next]!.itemId && random() < 0.3) {
      // A click on the item of the user's next event, right before it (the time of the event before it in the log).
      clicksBefore.set(next, base(e, 'click', { itemId: events[next]!.itemId, recommendationId: id }));
      injected.clicks++;
    }
  });
  return { events: out, injected };
}

/**
 * The impressions and clicks a log must leave in `{g}:experiments` (count field → n): every passing impression
 * and click whose id verifies for its user, once per assignment the id names. `passing` are the events that reach
 * the per-user stages, in log order (the rights oracle's).
 */
export function expectedFeedbackCounts(cfg: Config, passing: readonly UserEvent[]): Map<string, number> {
  const names = pseudonymizerFor(cfg);
  const ids = idsOf(cfg);
  const want = new Map<string, number>();
  for (const e of passing) {
    if (!e.recommendationId || (e.type !== 'impression' && e.type !== 'click')) continue;
    for (const a of ids.read(names.pseudonym(e.userId), e.recommendationId) ?? []) {
      const f = countField(a.experiment, a.variant, null, e.type === 'impression' ? 'i' : 'c');
      want.set(f, (want.get(f) ?? 0) + 1);
    }
  }
  return want;
}
