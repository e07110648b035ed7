/**
 * A holder correction (the catalog made an item of a user's list unavailable, topology/holder-correction.ts): the
 * user's list is re-ranked as it was assigned and emitted when it changed. The write order is the micro-batch's
 * (processor.ts header, (3)): the holders of dropped items are left before the commit and the new list's joined
 * after it.
 */
import type { OutboundRecord } from '../../kafka/port.js';
import type { Recommendations } from '../../domain/events.js';
import { Keys } from '../../stores/keys.js';
import { strategyLabel } from './model/recommender.js';
import { listHash, parseStoredState, toStored, toUserState } from './stored-state.js';
import type { CorrectedUser, RecommendDeps } from './deps.js';

/**
 * `emit` produces the corrected record before anything is committed: a failed produce leaves the stored hash as
 * it was, so the next correction (or event) emits it again (re-emission is idempotent for consumers: same list,
 * same attune.source).
 */
export async function correctList(
  d: RecommendDeps, topic: string, partition: number, user: CorrectedUser, source: string, emit?: (out: OutboundRecord) => Promise<void>,
): Promise<OutboundRecord | null> {
  const p = user.pseudonym;
  const field = Keys.partitionField(topic, partition);
  const stored = await d.store.loadUser(p, field);
  if (!stored.state || stored.offset < 0) return null;
  const parsed = parseStoredState(stored.state);
  // No list since a reset (or a withdrawal): nothing to correct. This also covers a withdrawal that a micro-batch
  // committed after the caller checked the user's consent (the job runs after that micro-batch, in the task).
  if (parsed.lh === '') return null;
  d.rec.users.set(p, toUserState(parsed, d.rec.items));
  // The list is re-ranked as it was assigned (its recorded experiments), not assigned again.
  const plan = d.experiments.replan(parsed.x ?? []);
  const ranker = d.experiments.rankerFor(plan);
  const items = ranker.recommend(p, { n: d.cfg.recommendationCount, now: parsed.lt, country: parsed.c });
  const list: Recommendations = {
    userId: p, items, strategy: strategyLabel(ranker.strategy), sourceEventId: null, sourceEventTime: null, generatedAt: Date.now(),
    recommendationId: d.experiments.recommendationId(p, plan, source), assignments: plan.assignments.map((a) => ({ experiment: a.experiment, variant: a.variant })),
  };
  const hash = listHash(list);
  if (hash === parsed.lh) return null;
  const ids = items.map((i) => i.itemId);
  const out: OutboundRecord = { key: user.userId, value: await d.codec.encodeRecommendations({ ...list, userId: user.userId }), headers: { 'attune.source': source } };
  await emit?.(out);
  // As for a micro-batch: leave the holders of the dropped items before the commit, join the new list's after it,
  // so the holders stay within `li` whatever the crash point.
  const before = parsed.li ?? [];
  await d.store.updateHolders(p, before, before.filter((i) => ids.includes(i)));
  await d.store.commitUser(p, field, stored.offset, stored.offset, JSON.stringify(toStored(d.rec.users.get(p)!, d.rec.items, { lh: hash, li: ids, x: parsed.x, ck: parsed.ck })));
  await d.store.updateHolders(p, [], ids);
  await d.state.saveRecommendations(list, d.cfg.recommendationTtlSeconds);
  return out;
}
