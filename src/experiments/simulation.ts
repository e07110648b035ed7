/**
 * An in-process, seeded simulation of experiments, through the same assignment and bandit code the worker will
 * run: synthetic users whose click probability depends only on the arm they are shown (e.g. CTR 6% / 4% / 3%).
 *
 * - Bandit: every impression is a new user; the bandit (thompson.ts) chooses from the state, outcomes are applied
 *   once per micro-batch of `batch` impressions (feedback arrives later than the decision, as in the pipeline).
 *   Regret is the pseudo-regret Σ (best CTR − CTR of the arm shown); uniform allocation's is t × (best − mean).
 * - A/B: fixed equal shares through `assign`, one impression per user; the report's tests on the counts.
 * - A/A: two variants with the same CTR; how often the z-test rejects at `alpha` over many seeded runs.
 * Clicks are drawn from a generator seeded by the run's seed; nothing depends on Math.random or the clock.
 */
import { assign } from './assignment.js';
import type { Experiment, ExperimentsConfig } from './model.js';
import { Prng } from './prng.js';
import { chiSquareTest, twoProportionZTest, type Proportion } from './stats.js';
import { chooseArm, initialBanditState, recordOutcome, type BanditState } from './thompson.js';

export interface BanditSimOptions {
  /** Click-through rate of each arm; arm 0 need not be the best. */
  ctrs: readonly number[];
  impressions: number;
  seed: number;
  /** Outcomes are applied to the state after every `batch` impressions. */
  batch?: number;
  minExploration?: number;
  /** The share of the best arm is measured over the last `window` impressions. */
  window?: number;
  /** The share the best arm must reach over the window. */
  target?: number;
  /** Record the regret curves every `every` impressions (for a plot). */
  every?: number;
}

export interface BanditSimResult {
  /** First impression count at which the best arm had ≥ target of the last `window` impressions (null: never). */
  reachedTargetAt: number | null;
  /** The best arm's share of all impressions, and of the last window. */
  bestShareOverall: number;
  bestShareLastWindow: number;
  /** Cumulative pseudo-regret at the end, the bandit's and uniform allocation's. */
  regret: number;
  uniformRegret: number;
  /** Curves sampled every `every` impressions: t, bandit regret, uniform regret, best arm's windowed share. */
  curve: { t: number[]; regret: number[]; uniform: number[]; bestShare: number[] };
  state: BanditState;
}

const arms = (k: number) => Array.from({ length: k }, (_, i) => `arm${i}`);

export function simulateBandit(o: BanditSimOptions): BanditSimResult {
  const { ctrs, impressions, seed } = o;
  const batch = o.batch ?? 100;
  const window = o.window ?? 1000;
  const target = o.target ?? 0.8;
  const every = o.every ?? Math.max(1, Math.floor(impressions / 200));
  const settings = { minExploration: o.minExploration ?? 0.1, perSegment: false, bucketMs: 3_600_000 };
  const names = arms(ctrs.length);
  const best = ctrs.indexOf(Math.max(...ctrs));
  const meanCtr = ctrs.reduce((s, c) => s + c, 0) / ctrs.length;
  const clicksRng = Prng.fromKey('sim-clicks', String(seed));
  let state = initialBanditState(`sim-${seed}`, names);
  const pendingImp = new Array<number>(ctrs.length).fill(0);
  const pendingClk = new Array<number>(ctrs.length).fill(0);
  // ring buffer of the last `window` choices: 1 when the best arm
  const ring = new Uint8Array(window);
  let inWindow = 0;
  let bestTotal = 0;
  let regret = 0;
  let reachedTargetAt: number | null = null;
  const curve = { t: [] as number[], regret: [] as number[], uniform: [] as number[], bestShare: [] as number[] };
  for (let t = 0; t < impressions; t++) {
    const now = t * 1000;
    const i = names.indexOf(chooseArm(state, settings, `sim-${seed}-user-${t}`, now).arm);
    const clicked = clicksRng.chance(ctrs[i]);
    pendingImp[i]++;
    if (clicked) pendingClk[i]++;
    regret += ctrs[best] - ctrs[i];
    const isBest = i === best ? 1 : 0;
    bestTotal += isBest;
    inWindow += isBest - ring[t % window];
    ring[t % window] = isBest;
    const n = t + 1;
    if (reachedTargetAt === null && n >= window && inWindow >= target * window) reachedTargetAt = n;
    if (n % batch === 0 || n === impressions) {
      for (let a = 0; a < ctrs.length; a++) {
        if (pendingImp[a] > 0) state = recordOutcome(state, names[a], null, pendingImp[a], pendingClk[a]);
        pendingImp[a] = pendingClk[a] = 0;
      }
    }
    if (n % every === 0) {
      curve.t.push(n);
      curve.regret.push(regret);
      curve.uniform.push(n * (ctrs[best] - meanCtr));
      curve.bestShare.push(inWindow / Math.min(n, window));
    }
  }
  return {
    reachedTargetAt,
    bestShareOverall: bestTotal / impressions,
    bestShareLastWindow: inWindow / Math.min(impressions, window),
    regret,
    uniformRegret: impressions * (ctrs[best] - meanCtr),
    curve,
    state,
  };
}

/** A fixed-allocation experiment of k equal variants, everyone eligible, all traffic, its own layer. */
export function equalSplit(id: string, k: number, salt = id): Experiment {
  return {
    id,
    layer: id,
    traffic: 1,
    sliceFrom: 0,
    salt,
    allocation: 'fixed',
    bandit: null,
    start: null,
    stop: null,
    eligible: { segments: null, countries: null, devices: null },
    variants: arms(k).map((a) => ({ id: a, strategy: 'hybrid', share: 1 / k, params: {} })),
    line: 0,
    col: 0,
  };
}

export interface AbSimResult {
  counts: Proportion[];
  /** The arm with the highest observed CTR. */
  observedBest: number;
  /** z-test of the observed best against each other arm (p-values; the best's own entry is 1). */
  pVsBest: number[];
  chiSquareP: number;
}

/** `users` users, each shown one list of the variant `assign` gives them, clicking with the variant's CTR. */
export function simulateAb(ctrs: readonly number[], users: number, seed: number, salt = `ab-${seed}`): AbSimResult {
  const e = equalSplit('ab', ctrs.length, salt);
  const config: ExperimentsConfig = { experiments: [e] };
  const counts = ctrs.map(() => ({ successes: 0, trials: 0 }));
  const rng = Prng.fromKey('sim-ab-clicks', String(seed));
  const ctx = { segments: [], country: null, device: null, now: 0 };
  for (let u = 0; u < users; u++) {
    const [a] = assign(config, `ab-${seed}-user-${u}`, ctx);
    const i = Number(a.variant.slice(3));
    counts[i].trials++;
    if (rng.chance(ctrs[i])) counts[i].successes++;
  }
  const rate = (c: Proportion) => (c.trials ? c.successes / c.trials : 0);
  let observedBest = 0;
  counts.forEach((c, i) => {
    if (rate(c) > rate(counts[observedBest])) observedBest = i;
  });
  return {
    counts,
    observedBest,
    pVsBest: counts.map((c, i) => (i === observedBest ? 1 : twoProportionZTest(counts[observedBest], c).pValue)),
    chiSquareP: chiSquareTest(counts).pValue,
  };
}

/** The share of `runs` seeded A/A runs (two variants, both `ctr`) whose z-test rejects at `alpha`. */
export function aaFalsePositiveRate(ctr: number, usersPerRun: number, runs: number, alpha = 0.05, firstSeed = 1): number {
  let rejected = 0;
  for (let r = 0; r < runs; r++) {
    const res = simulateAb([ctr, ctr], usersPerRun, firstSeed + r, `aa-${firstSeed + r}`);
    if (res.pVsBest[1 - res.observedBest] < alpha) rejected++;
  }
  return rejected / runs;
}
