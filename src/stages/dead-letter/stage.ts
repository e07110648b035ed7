/**
 * The dead-letter stage of the events chain: the records decode and validate refused go to the DLQ, in offset
 * order and exactly once (sink.ts), before anything of the micro-batch is resolved — a bad record is never just
 * dropped, and the valid records around it flow on.
 */
import type { Metrics } from '../../metrics/metrics.js';
import type { EventBatch, StageFactory } from '../../topology/processor.js';
import type { DeadLetterSink } from './sink.js';

export const deadLetterStage: StageFactory<{ deadLetters: DeadLetterSink; metrics: Metrics }, EventBatch> = {
  node: { name: 'dead-letter', does: 'undecodable and invalid records, once each, with the reason in headers', stores: ['{p}:dlq'], sinks: ['dlq'] },
  create({ deadLetters, metrics }) {
    return {
      node: this.node,
      async process(b) {
        const dead = b.dead.sort((x, y) => x.offset - y.offset).map((x) => x.record);
        for (const r of await deadLetters.send(b.topic, b.partition, 'decode', dead)) {
          metrics.dlq.inc({ stage: r.headers!['attune.error.stage'], code: r.headers!['attune.error.code'] });
          metrics.eventsIn.inc({ type: 'unknown', outcome: 'dead_lettered' });
        }
      },
    };
  },
};
