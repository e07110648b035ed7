/**
 * The emit stage: the micro-batch's recommendation records go out in source-offset order, after everything is
 * applied, and with them the segment changes the segments stage computed (one round trip for both). Each carries
 * `attune.source = <topic>:<partition>:<offset>`, so a consumer can drop the duplicate a replay re-emits. A user whose personalization ended in the micro-batch (`b.withdrawn`: erased, or consent
 * withdrawn) gets no list but one tombstone (key = the real id, value null: the compacted topic then forgets the
 * user's last list), at the offset of the event that ended it.
 */
import type { TopicNames } from '../../config/config.js';
import type { OutboundRecord, StreamProducer } from '../../kafka/port.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { EventBatch, StageFactory } from '../../topology/processor.js';
import { crashPoint } from '../../topology/crash-points.js';
import { isReemitted, listFreshness, sourceOffset } from './freshness.js';

export const emitStage: StageFactory<{ topics: TopicNames; producer: StreamProducer; metrics: Metrics }, EventBatch> = {
  node: { name: 'emit', does: 'changed lists, keyed by user, in source order; the segment changes', stores: [], sinks: ['recommendations', 'segmentChanges'] },
  create({ topics, producer, metrics }) {
    return {
      node: this.node,
      async process(b) {
        if (b.withdrawn.size) b.out = withTombstones(b.out, b.topic, b.partition, b.withdrawn);
        b.out.sort((x, y) => sourceOffset(x) - sourceOffset(y));
        // Both topics at once: two requests in flight on the producer's connection, one round trip.
        await Promise.all([producer.send(topics.recommendations, b.out), producer.send(topics.segmentChanges, b.segmentChanges)]);
        crashPoint('after-produce');
        const c = countOutcomes(b.out);
        if (c.emitted) metrics.lists.inc({ outcome: 'emitted' }, c.emitted);
        if (c.reemitted) metrics.lists.inc({ outcome: 'reemitted' }, c.reemitted);
        if (c.tombstone) metrics.lists.inc({ outcome: 'tombstone' }, c.tombstone);
        for (const f of listFreshness(b.out, b.records, b.onTime, Date.now())) {
          metrics.freshness.observe({ since: 'event_time' }, f.eventTime);
          metrics.freshness.observe({ since: 'append_time' }, f.appendTime);
        }
      },
    };
  },
};

/** `out` without any record of a withdrawn user, plus one tombstone per withdrawn user (pure). */
export function withTombstones(out: OutboundRecord[], topic: string, partition: number, withdrawn: EventBatch['withdrawn']): OutboundRecord[] {
  const gone = new Set([...withdrawn.values()].map((w) => w.userId));
  const keyOf = (r: OutboundRecord) => (r.key === null ? null : r.key.toString());
  const kept = out.filter((r) => !gone.has(keyOf(r) as string));
  for (const w of withdrawn.values()) kept.push({ key: w.userId, value: null, headers: { 'attune.source': `${topic}:${partition}:${w.offset}` } });
  return kept;
}

/** The produced records by outcome: new lists, lists re-emitted for a replayed user, tombstones (pure). */
export function countOutcomes(out: readonly OutboundRecord[]): { emitted: number; reemitted: number; tombstone: number } {
  const c = { emitted: 0, reemitted: 0, tombstone: 0 };
  for (const r of out) {
    if (r.value === null) c.tombstone++;
    else if (isReemitted(r)) c.reemitted++;
    else c.emitted++;
  }
  return c;
}
