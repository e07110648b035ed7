/**
 * The simulation's claims at a small sample (bench/experiments-sim.ts runs the large one): synthetic users whose
 * click probability depends only on the arm (CTR 6% / 4% / 3%).
 */
import { describe, expect, it } from 'vitest';
import { aaFalsePositiveRate, simulateAb, simulateBandit } from '../../src/experiments/simulation.js';

const CTRS = [0.04, 0.06, 0.03]; // the best arm is not the first: no bias from arm order

describe('the experiments simulation', () => {
  it('the bandit sends ≥ 80% of impressions to the best arm within 5,000 impressions, with regret below uniform’s', () => {
    for (const seed of [1, 2, 3]) {
      const r = simulateBandit({ ctrs: CTRS, impressions: 10_000, seed });
      expect(r.reachedTargetAt).not.toBeNull();
      expect(r.reachedTargetAt!).toBeLessThanOrEqual(5_000);
      expect(r.bestShareLastWindow).toBeGreaterThanOrEqual(0.8);
      expect(r.regret).toBeLessThan(0.5 * r.uniformRegret);
      // the state counted every impression once
      const counted = Object.values(r.state.global).reduce((s, c) => s + c.impressions, 0);
      expect(counted).toBe(10_000);
    }
  });

  it('the same seed gives the same run (decisions and clicks are seeded)', () => {
    const a = simulateBandit({ ctrs: CTRS, impressions: 2_000, seed: 9 });
    const b = simulateBandit({ ctrs: CTRS, impressions: 2_000, seed: 9 });
    expect(b.state).toEqual(a.state);
    expect(b.regret).toBe(a.regret);
  });

  it('with only the exploration share (min_exploration 1 − ε ≈ uniform) the regret is uniform’s', () => {
    const r = simulateBandit({ ctrs: CTRS, impressions: 6_000, seed: 4, minExploration: 0.999999 });
    // expected regret per impression: best − mean = 0.0167; sd of the mean of 6000 draws of (best − ctr) ≈ 0.0002
    expect(Math.abs(r.regret - r.uniformRegret)).toBeLessThan(0.05 * r.uniformRegret);
  });

  it('the A/B test at 5,000 users per arm names the best arm with p < 0.01 against each other arm', () => {
    const r = simulateAb(CTRS, 15_000, 1);
    expect(r.observedBest).toBe(1);
    for (const [i, p] of r.pVsBest.entries()) if (i !== 1) expect(p).toBeLessThan(0.01);
    expect(r.chiSquareP).toBeLessThan(0.01);
    // the split is the assignment's: about a third each
    for (const c of r.counts) expect(Math.abs(c.trials - 5_000)).toBeLessThan(4.5 * Math.sqrt(15_000 * (1 / 3) * (2 / 3)));
  });

  it('A/A: over 400 seeded runs the z-test rejects at alpha = 0.05 at the rate alpha, within binomial error', () => {
    const runs = 400;
    const rate = aaFalsePositiveRate(0.1, 500, runs, 0.05);
    // 3 standard deviations of a binomial rate: 3·√(0.05·0.95/400) ≈ 0.033
    expect(Math.abs(rate - 0.05)).toBeLessThanOrEqual(3 * Math.sqrt((0.05 * 0.95) / runs));
  });
});
