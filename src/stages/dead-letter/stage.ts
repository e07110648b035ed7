/**
 * The dead-letter stage of the events chain: the records decode and validate refused, and the records failure
 * isolation quarantined (PROCESS_FAILED), go to the DLQ, in offset order and exactly once (sink.ts), before
 * anything of the micro-batch is resolved — a bad record is never just dropped, and the valid records around it
 * flow on.
 */
import type { Metrics } from '../../metrics/metrics.js';
import type { EventBatch, StageFactory } from '../../topology/processor.js';
import type { DeadLetterSink } from './sink.js';
import { PROCESS_FAILED } from './record.js';

export const deadLetterStage: StageFactory<{ deadLetters: DeadLetterSink; metrics: Metrics }, EventBatch> = {
  node: { name: 'dead-letter', does: 'undecodable and invalid records, once each, with the reason in headers', stores: ['{p}:dlq'], sinks: ['dlq'] },
  create({ deadLetters, metrics }) {
    return {
      node: this.node,
      async process(b) {
        const dead = b.dead.sort((x, y) => x.offset - y.offset).map((x) => x.record);
        const isolated = dead.filter((r) => r.headers?.['attune.error.code'] === PROCESS_FAILED);
        const refused = dead.filter((r) => r.headers?.['attune.error.code'] !== PROCESS_FAILED);
        // Quarantined records have marks of their own (stage `process`): a bisection dead-letters them after
        // decode already wrote the refused records of the whole failed attempt, at higher offsets.
        const sent = [
          ...(await deadLetters.send(b.topic, b.partition, 'decode', refused)),
          ...(await deadLetters.send(b.topic, b.partition, 'process', isolated)),
        ];
        for (const r of sent) {
          metrics.dlq.inc({ stage: r.headers!['attune.error.stage'], code: r.headers!['attune.error.code'] });
          metrics.eventsIn.inc({ type: 'unknown', outcome: 'dead_lettered' });
        }
      },
    };
  },
};
