/**
 * An item that goes away (unavailable or deleted in the catalog): users of this worker's partitions whose
 * current list holds it get a corrected list at once, each as a job of the user's partition task (never
 * alongside a micro-batch), under the partition's fence token. The corrected list is produced before the user's
 * state records it as emitted: a failed produce (retried by the task while retriable) leaves the correction to
 * be emitted again, never committed and lost.
 */
import type { StreamProducer } from '../kafka/port.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RecommendStage } from '../stages/recommend/processor.js';
import type { RecommenderStore } from '../stages/recommend/store.js';
import type { Tasks } from './tasks.js';

export interface HolderCorrectionDeps {
  eventsTopic: string;
  recommendationsTopic: string;
  tasks: Tasks;
  store: Pick<RecommenderStore, 'holders' | 'userPartition'>;
  recommend: Pick<RecommendStage, 'correct'>;
  producer: StreamProducer;
  metrics: Metrics;
  isActive(): boolean;
  isJoined(): boolean;
}

export async function correctHolders(d: HolderCorrectionDeps, itemId: string, source: string): Promise<void> {
  if (!d.isJoined()) return; // at start-up the catalog is read before partitions are assigned
  for (const userId of await d.store.holders(itemId)) {
    const p = await d.store.userPartition(userId, d.eventsTopic);
    if (p === null) continue;
    const task = d.tasks.get(d.eventsTopic, p);
    if (!task.owner.assigned) continue;
    await task.submit(() => d.tasks.fenced(task, async () => {
      const out = await d.recommend.correct(d.eventsTopic, p, userId, source, (record) => d.producer.send(d.recommendationsTopic, [record]));
      if (out) d.metrics.recommendationsOut.inc();
    }), { shouldContinue: () => d.isActive() && task.owner.assigned, onRetry: () => {}, onRecovered: () => {} });
  }
}
