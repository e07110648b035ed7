/**
 * The features & segments stage of the events chain. It runs before ingest and recommend because it classifies
 * lateness against the partition's watermark: the events it dead-letters as too late (TOO_LATE) must not reach
 * the other state either. Rights marks (#11): an `anonymous` event is not processed here but stays in `onTime`
 * (ingest counts it in popularity); a `reset` is never too late, so it always stays in `onTime` too.
 */
import type { EventBatch, StageFactory } from '../../topology/processor.js';
import type { SegmentProcessor } from './processor.js';

export const segmentsStage: StageFactory<{ segments: SegmentProcessor }, EventBatch> = {
  node: {
    name: 'segments',
    does: 'rolling features, segment rules, timed exits; too-late events dead-lettered',
    stores: ['{u}:features', '{u}:segments', '{p}:segstate', '{p}:timers', '{p}:users', '{p}:members:*', '{g}:segcounts'],
    sinks: ['dlq'],
  },
  create({ segments }) {
    return {
      node: this.node,
      async process(b) {
        // The change records go out with the lists (the emit stage), before the progress.
        const { tooLate, segmentsOf } = await segments.process(b.topic, b.partition, b.valid, b.records, async (out) => { b.segmentChanges.push(...out); });
        b.segmentsOf = segmentsOf;
        const late = new Set(tooLate.map((r) => r.offset));
        b.onTime = late.size ? b.valid.filter((r) => !late.has(r.offset)) : b.valid;
        b.lateCount = late.size;
      },
    };
  },
};
