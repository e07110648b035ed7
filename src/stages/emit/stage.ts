/**
 * The emit stage: the micro-batch's recommendation records go out in source-offset order, after everything is
 * applied. Each carries `attune.source = <topic>:<partition>:<offset>`, so a consumer can drop the duplicate a
 * replay re-emits.
 */
import type { TopicNames } from '../../config/config.js';
import type { OutboundRecord, StreamProducer } from '../../kafka/port.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { EventBatch, StageFactory } from '../../topology/processor.js';
import { crashPoint } from '../../topology/crash-points.js';

export const emitStage: StageFactory<{ topics: TopicNames; producer: StreamProducer; metrics: Metrics }, EventBatch> = {
  node: { name: 'emit', does: 'changed lists, keyed by user, in source order', stores: [], sinks: ['recommendations'] },
  create({ topics, producer, metrics }) {
    return {
      node: this.node,
      async process(b) {
        b.out.sort((x, y) => sourceOffset(x) - sourceOffset(y));
        await producer.send(topics.recommendations, b.out);
        crashPoint('after-produce');
        metrics.recommendationsOut.inc(b.out.length);
      },
    };
  },
};

function sourceOffset(r: OutboundRecord): number {
  const h = r.headers?.['attune.source'] ?? '';
  return Number(h.slice(h.lastIndexOf(':') + 1));
}
