/**
 * The chain's cut before an identify (stages/rights/merge.ts): when a stage sets `cutBefore`, the stages after it do
 * not run and the chain runs the records before the cut, then the rest, each as an attempt with its own in-flight
 * cut and progress. A stage that asks again in a part is honoured again (two identifies of one micro-batch).
 */
import { describe, it, expect } from 'vitest';
import { EventsChain, type EventsChainDeps } from '../../src/topology/events-chain.js';
import type { EventBatch, StageFactory } from '../../src/topology/processor.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { InboundRecord } from '../../src/kafka/port.js';

const records = (n: number): InboundRecord[] =>
  Array.from({ length: n }, (_, o) => ({ offset: String(o), key: null, value: null, timestamp: String(1000 + o), headers: {} }));

function chain(cutAt: readonly number[]) {
  const calls: string[] = [];
  const range = (b: EventBatch) => `${b.records[0].offset}..${b.lastOffset}`;
  // Asks for a cut before each offset of `cutAt` that is inside the attempt but not its first record.
  const rights: StageFactory<unknown, EventBatch> = {
    node: { name: 'rights', does: '', stores: [], sinks: [] },
    create: () => ({
      node: rights.node,
      async process(b) {
        calls.push(`rights ${range(b)}`);
        const first = Number(b.records[0].offset);
        const cut = cutAt.find((c) => c > first && c <= b.lastOffset);
        if (cut !== undefined) b.cutBefore = cut;
      },
    }),
  };
  const later: StageFactory<unknown, EventBatch> = {
    node: { name: 'segments', does: '', stores: [], sinks: [] },
    create: () => ({ node: later.node, async process(b) { calls.push(`segments ${range(b)}`); } }),
  };
  const deps = {
    metrics: createMetrics(),
    recommendStore: { markInflight: async (_t: string, _p: number, last: number, first: number) => void calls.push(`inflight ${first}..${last}`) },
    store: { writeProgress: async (_t: string, _p: number, last: number) => void calls.push(`progress ${last}`) },
  } as unknown as EventsChainDeps;
  return { calls, chain: new EventsChain(deps, [rights, later] as never) };
}

describe('the events chain cut before an identify', () => {
  it('runs the records before the cut and the rest as attempts of their own, the later stages only in those', async () => {
    const { calls, chain: c } = chain([3]);
    await c.process('ev', 0, records(6));
    expect(calls).toEqual([
      'inflight 0..5', 'rights 0..5',
      'inflight 0..2', 'rights 0..2', 'segments 0..2', 'progress 2',
      'inflight 3..5', 'rights 3..5', 'segments 3..5', 'progress 5',
    ]);
  });

  it('cuts again inside a part', async () => {
    const { calls, chain: c } = chain([2, 4]);
    await c.process('ev', 0, records(6));
    expect(calls.filter((x) => x.startsWith('progress') || x.startsWith('segments'))).toEqual([
      'segments 0..1', 'progress 1', 'segments 2..3', 'progress 3', 'segments 4..5', 'progress 5',
    ]);
  });
});
