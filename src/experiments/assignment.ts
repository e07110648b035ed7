/**
 * Assignment of users to experiments and variants, deterministic per (experiment, user) by keyed hashes:
 *
 * - Layers: a user's position in a layer is HMAC-SHA256(key "layer:<name>", user) as a number in [0, 1); each
 *   experiment of the layer owns a slice [sliceFrom, sliceFrom + traffic) of it, so experiments of one layer never
 *   share a user, and positions in different layers are independent (different keys).
 * - Variants (fixed allocation): HMAC-SHA256(key = the experiment's salt, user) in [0, 1) against the cumulative
 *   shares, independent of the layer position (another key), so the variants split the slice by their shares.
 * - Thompson allocation: the bandit chooses (thompson.ts), deterministic given its state, the user and the bucket.
 *
 * A user outside an experiment's active period or eligibility is not in it, and their slice is not handed to
 * another experiment (that would make one experiment's population depend on another's rules). The user id is the
 * pseudonymous id the stages see. Pure: same inputs, same assignment, on every worker and in every replay.
 */
import { keyedUnit } from './keyed-hash.js';
import type { Eligibility, Experiment, ExperimentsConfig } from './model.js';
import { chooseArm, initialBanditState, type BanditState } from './thompson.js';

export interface AssignmentContext {
  /** The segments the user is in now. */
  segments: readonly string[];
  country: string | null;
  device: string | null;
  /** Decision time (ms): the request's event time, so a replay decides as the original run did. */
  now: number;
}

export interface Assignment {
  experiment: string;
  layer: string;
  variant: string;
  strategy: string;
  allocation: Experiment['allocation'];
  /** The segment whose posterior a per-segment bandit used (null otherwise). */
  segment: string | null;
}

/** The user's position in a layer, in [0, 1). */
export function layerPosition(layer: string, user: string): number {
  return keyedUnit(`layer:${layer}`, user);
}

export function isActive(e: Pick<Experiment, 'start' | 'stop'>, now: number): boolean {
  return (e.start === null || now >= e.start) && (e.stop === null || now < e.stop);
}

export function isEligible(el: Eligibility, ctx: Pick<AssignmentContext, 'segments' | 'country' | 'device'>): boolean {
  if (el.segments && !el.segments.some((s) => ctx.segments.includes(s))) return false;
  if (el.countries && !(ctx.country !== null && el.countries.includes(ctx.country))) return false;
  if (el.devices && !(ctx.device !== null && el.devices.includes(ctx.device))) return false;
  return true;
}

/** Whether the user's layer position falls in the experiment's slice (before period and eligibility). */
export function inSlice(e: Pick<Experiment, 'layer' | 'sliceFrom' | 'traffic'>, user: string): boolean {
  const u = layerPosition(e.layer, user);
  return u >= e.sliceFrom && u < e.sliceFrom + e.traffic;
}

/** The variant of a fixed-allocation experiment for the user (ignores slice, period and eligibility). */
export function fixedVariant(e: Pick<Experiment, 'salt' | 'variants'>, user: string): Experiment['variants'][number] {
  const u = keyedUnit(e.salt, user);
  let acc = 0;
  for (const v of e.variants) {
    acc += v.share;
    if (u < acc) return v;
  }
  // shares sum to 1 within rounding: the last variant takes the remainder
  return e.variants[e.variants.length - 1];
}

/**
 * Every experiment the user is in now, at most one per layer, in file order. `bandits` holds the state of the
 * Thompson experiments (an experiment without state decides from its prior).
 */
export function assign(
  config: ExperimentsConfig,
  user: string,
  ctx: AssignmentContext,
  bandits: ReadonlyMap<string, BanditState> = new Map(),
): Assignment[] {
  const out: Assignment[] = [];
  const positions = new Map<string, number>();
  for (const e of config.experiments) {
    // an experiment with the whole layer holds every position: no hash needed (half the work of an A/B test alone)
    if (!(e.sliceFrom === 0 && e.traffic >= 1)) {
      let u = positions.get(e.layer);
      if (u === undefined) positions.set(e.layer, (u = layerPosition(e.layer, user)));
      if (!(u >= e.sliceFrom && u < e.sliceFrom + e.traffic)) continue;
    }
    if (!isActive(e, ctx.now) || !isEligible(e.eligible, ctx)) continue;
    if (e.allocation === 'fixed') {
      const v = fixedVariant(e, user);
      out.push({ experiment: e.id, layer: e.layer, variant: v.id, strategy: v.strategy, allocation: e.allocation, segment: null });
      continue;
    }
    const segment = e.bandit!.perSegment ? (e.eligible.segments!.find((s) => ctx.segments.includes(s)) ?? null) : null;
    const arms = e.variants.map((v) => v.id);
    const state = bandits.get(e.id) ?? initialBanditState(e.id, arms);
    if (state.arms.join('\u0000') !== arms.join('\u0000')) {
      throw new Error(`bandit state of experiment "${e.id}" has arms ${state.arms.join(', ')} but the file has ${arms.join(', ')}; a changed variant list needs a new experiment id (or a reset of its state)`);
    }
    const { arm } = chooseArm(state, e.bandit!, user, ctx.now, segment);
    const v = e.variants.find((x) => x.id === arm)!;
    out.push({ experiment: e.id, layer: e.layer, variant: v.id, strategy: v.strategy, allocation: e.allocation, segment });
  }
  return out;
}
