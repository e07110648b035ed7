// The bounds that make the model approximate are visible: a prune at ATTUNE_MAX_PAIRS is logged once and counted.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Recommender } from '../../src/stages/recommend/model/recommender.js';
import { ModelHealth } from '../../src/stages/recommend/model-health.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { log } from '../../src/log.js';
import { userEvent } from '../support/user-event.js';
import { rng } from '../support/rng.js';

async function value(metrics: ReturnType<typeof createMetrics>, name: string): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)!.get();
  return m.values.reduce((a, v) => a + v.value, 0);
}

describe('ModelHealth', () => {
  afterEach(() => vi.restoreAllMocks());

  it('exports the pairs held, counts each prune and the pairs it dropped, and warns once per prune', async () => {
    const warn = vi.spyOn(log, 'warn').mockImplementation(() => undefined);
    const rec = new Recommender({ limits: { maxPairs: 400 } });
    const metrics = createMetrics();
    const health = new ModelHealth(rec, metrics);
    const random = rng(3);
    health.report();
    expect(await value(metrics, 'attune_model_prunes_total')).toBe(0);
    expect(warn).not.toHaveBeenCalled();
    for (let i = 0; i < 600; i++) {
      rec.learnBatch([userEvent({ eventId: `e${i}`, type: 'view', userId: `u${i % 40}`, itemId: `i${Math.floor(random() * 300)}`, eventTime: 1_700_000_000_000 + i * 1000 })]);
      health.report();
    }
    const state = rec.collaborative.state;
    expect(state.prunes).toBeGreaterThan(0);
    expect(await value(metrics, 'attune_model_prunes_total')).toBe(state.prunes);
    expect(await value(metrics, 'attune_model_pairs_pruned_total')).toBe(state.prunedPairs);
    expect(await value(metrics, 'attune_model_pairs')).toBe(state.pairCount);
    const pruneWarnings = warn.mock.calls.filter(([, msg]) => String(msg).includes('ATTUNE_MAX_PAIRS'));
    expect(pruneWarnings).toHaveLength(state.prunes);
    expect(pruneWarnings[0]![0]).toMatchObject({ maxPairs: 400, prunes: 1 });
    // nothing new: nothing counted or logged again
    health.report();
    expect(await value(metrics, 'attune_model_prunes_total')).toBe(state.prunes);
    expect(warn.mock.calls.filter(([, msg]) => String(msg).includes('ATTUNE_MAX_PAIRS'))).toHaveLength(state.prunes);
  });
});
