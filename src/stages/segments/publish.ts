/**
 * The output side shared by micro-batches, punctuations and rules re-evaluations: member count deltas applied
 * once per sequence number, segment changes produced with their source header, and the metrics that follow.
 */
import type { OutboundRecord, StreamProducer } from '../../kafka/port.js';
import type { Codec } from '../decode/codec.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { TopicNames } from '../../config/config.js';
import type { CompiledSegments } from './core/compile.js';
import type { FeatureStore } from './store.js';
import type { PendingChange } from './stored.js';

export interface PublishDeps {
  topics: TopicNames;
  codec: Codec;
  store: FeatureStore;
  producer: StreamProducer;
  metrics: Metrics;
  rules: CompiledSegments;
}

/**
 * Counts the changes with a sequence up to `last` under `field` (a replay skips the sequences already counted),
 * then produces every change (downstream dedupes by attune.source) and counts the fresh ones in the metrics.
 */
export async function countAndEmit(
  d: PublishDeps, topic: string, partition: number, field: string, last: number,
  changes: PendingChange[], fresh: PendingChange[], seq: (c: PendingChange) => number,
): Promise<void> {
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
  if (changes.length) await refreshMemberGauges(d);
}

/** Sets the attune_segment_members gauge of every configured segment from the stored counts. */
export async function refreshMemberGauges(d: Pick<PublishDeps, 'store' | 'metrics' | 'rules'>): Promise<void> {
  const counts = await d.store.segmentCounts();
  for (const s of d.rules.segments) d.metrics.segmentMembers.set({ segment: s.id }, counts[s.id] ?? 0);
}
