/**
 * An item that goes away (unavailable or deleted in the catalog): users of this worker's partitions whose
 * current list holds it get a corrected list at once, each as a job of the user's partition task (never
 * alongside a micro-batch), under the partition's fence token. The corrected list is produced before the user's
 * state records it as emitted: a failed produce (retried by the task while retriable) leaves the correction to
 * be emitted again, never committed and lost.
 * Holders are pseudonyms. Only users who may be personalized now get a correction (their stored consent, else the
 * default), keyed by their real id; a user whose id does not resolve (erased meanwhile) gets none. A withdrawal
 * committed after this check leaves the user's state without a list, which `correct` then leaves alone.
 */
import type { StreamProducer } from '../kafka/port.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RecommendStage } from '../stages/recommend/processor.js';
import type { RecommenderStore } from '../stages/recommend/store.js';
import type { Tasks } from './tasks.js';
import type { Identities } from '../stages/rights/identities.js';

export interface HolderCorrectionDeps {
  eventsTopic: string;
  recommendationsTopic: string;
  tasks: Tasks;
  store: Pick<RecommenderStore, 'holders' | 'userPartition'>;
  recommend: Pick<RecommendStage, 'correct'>;
  producer: StreamProducer;
  metrics: Metrics;
  /** Consent and real ids of the holders (by pseudonym). */
  identities: Identities;
  isActive(): boolean;
  isJoined(): boolean;
}

export async function correctHolders(d: HolderCorrectionDeps, itemId: string, source: string): Promise<void> {
  if (!d.isJoined()) return; // at start-up the catalog is read before partitions are assigned
  const holders = await d.store.holders(itemId);
  if (holders.length === 0) return;
  const allowed = await d.identities.personalizable(holders);
  const ids = allowed.size > 0 ? await d.identities.resolve(allowed) : new Map<string, string>();
  for (const pseudonym of holders) {
    const userId = ids.get(pseudonym);
    if (userId === undefined || !allowed.has(pseudonym)) continue;
    const p = await d.store.userPartition(pseudonym, d.eventsTopic);
    if (p === null) continue;
    const task = d.tasks.get(d.eventsTopic, p);
    if (!task.owner.assigned) continue;
    await task.submit(() => d.tasks.fenced(task, async () => {
      const out = await d.recommend.correct(d.eventsTopic, p, { pseudonym, userId }, source, (record) => d.producer.send(d.recommendationsTopic, [record]));
      if (out) d.metrics.lists.inc({ outcome: 'emitted' });
    }), { shouldContinue: () => d.isActive() && task.owner.assigned, onRetry: () => {}, onRecovered: () => {} });
  }
}
