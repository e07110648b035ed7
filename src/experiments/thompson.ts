/**
 * Thompson sampling over an experiment's variants (arms): Beta-Bernoulli on click per impression, optionally per
 * segment, with a minimum exploration share. Pure: the state is a plain JSON-serialisable object (a later stage
 * keeps it in Redis, updated once per attributed event), and a decision is a function of (state, user, decision
 * time bucket) — its random draws come from a generator seeded by HMAC(experiment, user, bucket), never
 * Math.random — so a replay or a restarted worker makes the same choice.
 */
import type { BanditSettings } from './model.js';
import { Prng } from './prng.js';

export interface ArmCounts {
  impressions: number;
  clicks: number;
}

export interface BanditState {
  version: 1;
  experiment: string;
  /** Arm (variant) ids, in the experiment's order: ties and uniform draws go by this order. */
  arms: string[];
  /** The Beta prior of every arm's click rate (Beta(1, 1) = uniform). */
  prior: { alpha: number; beta: number };
  /** Counts over every impression. */
  global: Record<string, ArmCounts>;
  /** Counts per segment (only segments that had impressions). */
  segments: Record<string, Record<string, ArmCounts>>;
}

export function initialBanditState(experiment: string, arms: readonly string[], prior = { alpha: 1, beta: 1 }): BanditState {
  if (arms.length < 2) throw new RangeError(`a bandit needs at least two arms, got ${arms.length}`);
  if (!(prior.alpha > 0 && prior.beta > 0)) throw new RangeError('the Beta prior needs alpha > 0 and beta > 0');
  return { version: 1, experiment, arms: [...arms], prior: { ...prior }, global: zeroCounts(arms), segments: {} };
}

function zeroCounts(arms: readonly string[]): Record<string, ArmCounts> {
  return Object.fromEntries(arms.map((a) => [a, { impressions: 0, clicks: 0 }]));
}

/**
 * The state after `impressions` impressions and `clicks` clicks of `arm` (in `segment` when per segment; the
 * global counts always). A new object: the input is not changed, so a caller can compare before and after.
 */
export function recordOutcome(state: BanditState, arm: string, segment: string | null, impressions: number, clicks: number): BanditState {
  if (!state.arms.includes(arm)) throw new RangeError(`unknown arm "${arm}" (arms: ${state.arms.join(', ')})`);
  if (!(Number.isInteger(impressions) && Number.isInteger(clicks) && impressions >= 0 && clicks >= 0)) {
    throw new RangeError(`impressions and clicks are non-negative integers, got ${impressions}, ${clicks}`);
  }
  const add = (c: Record<string, ArmCounts>): Record<string, ArmCounts> => ({
    ...c,
    [arm]: { impressions: c[arm].impressions + impressions, clicks: c[arm].clicks + clicks },
  });
  const segments = segment === null ? state.segments : { ...state.segments, [segment]: add(segmentCounts(state, segment)) };
  return { ...state, global: add(state.global), segments };
}

/** The counts a decision reads: the segment's when per segment and the segment is known, else the global ones. */
function countsFor(state: BanditState, settings: BanditSettings, segment: string | null): Record<string, ArmCounts> {
  if (settings.perSegment && segment !== null) return segmentCounts(state, segment);
  return state.global;
}

/** A segment's counts, zero when it had none (own properties only: a segment may be called "constructor"). */
function segmentCounts(state: BanditState, segment: string): Record<string, ArmCounts> {
  return Object.hasOwn(state.segments, segment) ? state.segments[segment] : zeroCounts(state.arms);
}

export interface Decision {
  arm: string;
  /** True when the exploration share chose uniformly (not the posterior). */
  explored: boolean;
}

/** The decision time bucket of `now` (ms). */
export function decisionBucket(now: number, settings: Pick<BanditSettings, 'bucketMs'>): number {
  return Math.floor(now / settings.bucketMs);
}

/**
 * The arm for `user` at time `now`: with probability minExploration a uniform arm, else the arm whose posterior
 * draw Beta(α + clicks, β + impressions − clicks) is largest (ties to the first). Clicks beyond impressions (a
 * click counted before its impression) count as no failure, never a negative one.
 */
export function chooseArm(state: BanditState, settings: BanditSettings, user: string, now: number, segment: string | null = null): Decision {
  return drawArm(state, settings, Prng.fromKey(`bandit:${state.experiment}`, user, String(decisionBucket(now, settings))), segment);
}

function drawArm(state: BanditState, settings: BanditSettings, rng: Prng, segment: string | null): Decision {
  const arms = state.arms;
  if (rng.next() < settings.minExploration) return { arm: arms[rng.int(arms.length)], explored: true };
  const counts = countsFor(state, settings, segment);
  let best = 0;
  let bestDraw = -1;
  for (let i = 0; i < arms.length; i++) {
    const c = counts[arms[i]];
    const draw = rng.beta(state.prior.alpha + c.clicks, state.prior.beta + Math.max(0, c.impressions - c.clicks));
    if (draw > bestDraw) {
      bestDraw = draw;
      best = i;
    }
  }
  return { arm: arms[best], explored: false };
}

/**
 * The share of decisions each arm would get now (for the report): minExploration/k plus (1 − minExploration)
 * × P(arm's draw is the largest), the latter estimated from `draws` seeded draws.
 */
export function banditShares(state: BanditState, settings: BanditSettings, segment: string | null = null, draws = 20_000): Record<string, number> {
  const rng = Prng.fromKey(`bandit-shares:${state.experiment}`, segment ?? '');
  const wins = new Array<number>(state.arms.length).fill(0);
  const greedy = { ...settings, minExploration: 0 };
  for (let i = 0; i < draws; i++) wins[state.arms.indexOf(drawArm(state, greedy, rng, segment).arm)]++;
  const k = state.arms.length;
  return Object.fromEntries(state.arms.map((a, i) => [a, settings.minExploration / k + ((1 - settings.minExploration) * wins[i]) / draws]));
}
