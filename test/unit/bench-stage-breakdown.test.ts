// The freshness bench's per-stage breakdown reads the worker's own histograms from prom-client's text format.
import { describe, expect, it } from 'vitest';
import { Histogram, Registry } from 'prom-client';
import { stageBreakdown } from '../../bench/erasure.js';

describe('stageBreakdown', () => {
  it('gives mean ms per micro-batch of each stage, in the order the stages were first observed', async () => {
    const registry = new Registry();
    const stage = new Histogram({ name: 'attune_stage_duration_seconds', help: 'h', labelNames: ['stage'], buckets: [0.01], registers: [registry] });
    const batch = new Histogram({ name: 'attune_batch_duration_seconds', help: 'h', buckets: [0.01], registers: [registry] });
    const records = new Histogram({ name: 'attune_batch_records', help: 'h', buckets: [10], registers: [registry] });
    for (const [seg, rec, total, n] of [[0.004, 0.008, 0.014, 10], [0.006, 0.012, 0.02, 20]] as const) {
      stage.observe({ stage: 'segments' }, seg);
      stage.observe({ stage: 'recommend' }, rec);
      batch.observe(total);
      records.observe(n);
    }
    const redis = new Histogram({ name: 'attune_redis_command_duration_seconds', help: 'h', labelNames: ['command'], buckets: [0.01], registers: [registry] });
    const produce = new Histogram({ name: 'attune_produce_duration_seconds', help: 'h', labelNames: ['topic'], buckets: [0.01], registers: [registry] });
    for (let i = 0; i < 6; i++) redis.observe({ command: 'applyCoocRows' }, 0.001);
    produce.observe({ topic: 'recommendations' }, 0.002);
    produce.observe({ topic: 'recommendations' }, 0.004);
    const b = stageBreakdown(await registry.metrics());
    expect(b.calls[0]![0]).toBe('redis applyCoocRows');
    expect(b.calls[0]![1]).toBe(3);
    expect(b.calls[0]![2]).toBeCloseTo(1, 9);
    expect(b.calls[1]![0]).toBe('produce recommendations');
    expect(b.calls[1]![1]).toBe(1);
    expect(b.calls[1]![2]).toBeCloseTo(3, 9);
    expect(b.batches).toBe(2);
    expect(b.meanRecords).toBe(15);
    expect(b.meanBatchMs).toBeCloseTo(17, 9);
    expect(b.stages.map(([s]) => s)).toEqual(['segments', 'recommend']);
    expect(b.stages[0]![1]).toBeCloseTo(5, 9);
    expect(b.stages[1]![1]).toBeCloseTo(10, 9);
  });

  it('reads an empty exposition as no batches rather than throwing', () => {
    const b = stageBreakdown('');
    expect(b.stages).toEqual([]);
    expect(Number.isNaN(b.batches)).toBe(true);
  });
});
