/**
 * The recommend stage of the events chain: learn the micro-batch, write the model's rows and the users' states,
 * recompute the users' lists (processor.ts has the write order that makes replays exact).
 */
import type { EventBatch, StageFactory } from '../../topology/processor.js';
import { crashPoint } from '../../topology/crash-points.js';
import type { RecommendStage } from './processor.js';

export const recommendStage: StageFactory<{ recommend: RecommendStage }, EventBatch> = {
  node: { name: 'recommend', does: 'learn co-occurrence in memory, rows and users to Redis, deltas to the model changelog (every worker applies the deltas of the others), attribute to experiments, recompute lists', stores: ['{i}:co', '{u}:rec', '{u}:recs', '{i}:holders', '{g}:meta', '{g}:experiments'], sinks: [] },
  create({ recommend }) {
    return {
      node: this.node,
      async process(b) {
        // Lists that changed, and every list of a replayed user (a crash may have come between apply and produce);
        // none for the users whose personalization ends with the batch (emit sends their tombstones).
        b.out = await recommend.process(b.topic, b.partition, b.onTime, b.lastOffset, b.withdrawn, b.segmentsOf);
        crashPoint('after-apply');
      },
    };
  },
};
