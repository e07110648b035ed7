/**
 * Which strategy and settings produce a user's list, from the user's experiment assignments (assignment.ts).
 * Pure; the recommend stage calls it for every list it computes.
 *
 * - Layers are independent, so a user can be in one experiment per layer. The list's strategy is that of the
 *   first assignment (file order); the variants' params are merged over each other in file order (a later layer
 *   overrides an earlier one's setting). Layers meant to run together should change different things.
 * - A Thompson experiment's choice is recorded with the list (`Recorded`): a list computed again within the same
 *   decision bucket (a replay after a crash, a holder correction, the user's next event within the hour) keeps
 *   the recorded variant even when the bandit's counts moved meanwhile, so a replay re-emits what was chosen.
 *   Fixed allocations need no record: they are a function of the user alone.
 */
import { mergeConfig, type RecommenderConfigInput } from '../stages/recommend/model/config.js';
import { assign, type Assignment, type AssignmentContext } from './assignment.js';
import type { ExperimentsConfig } from './model.js';
import { decisionBucket, type BanditState } from './thompson.js';

/**
 * A recorded assignment of a list: [experiment, variant, segment or null, decision bucket (-1 for a fixed
 * allocation)]. A Thompson choice is reused within its bucket; a holder correction re-ranks with all of them.
 */
export type Recorded = [string, string, string | null, number];

export interface ListPlan {
  assignments: Assignment[];
  /** The strategy name (strategies.ts), null for the worker's default. */
  strategy: string | null;
  params: RecommenderConfigInput;
  /** The choices to store with the list. */
  recorded: Recorded[];
}

export const NO_EXPERIMENT: ListPlan = Object.freeze({ assignments: [], strategy: null, params: {}, recorded: [] }) as ListPlan;

export function planList(
  config: ExperimentsConfig,
  user: string,
  ctx: AssignmentContext,
  bandits: ReadonlyMap<string, BanditState>,
  recorded: readonly Recorded[],
): ListPlan {
  const assignments = assign(config, user, ctx, bandits);
  if (assignments.length === 0) return NO_EXPERIMENT;
  let params: RecommenderConfigInput = {};
  const keep: Recorded[] = [];
  const out = assignments.map((a) => {
    const e = config.experiments.find((x) => x.id === a.experiment)!;
    let chosen = a;
    let bucket = -1;
    if (a.allocation === 'thompson') {
      bucket = decisionBucket(ctx.now, e.bandit!);
      const r = recorded.find((x) => x[0] === a.experiment && x[3] === bucket);
      const v = r && e.variants.find((x) => x.id === r[1]);
      if (r && v) chosen = { ...a, variant: v.id, strategy: v.strategy, segment: r[2] };
    }
    keep.push([chosen.experiment, chosen.variant, chosen.segment, bucket]);
    params = mergeConfig(params, e.variants.find((x) => x.id === chosen.variant)!.params);
    return chosen;
  });
  return { assignments: out, strategy: out[0].strategy, params, recorded: keep };
}

/**
 * The plan of a list's recorded assignments (a holder correction re-ranks the user's last list as it was
 * assigned); assignments of experiments or variants no longer in the file are dropped.
 */
export function planFromRecorded(config: ExperimentsConfig, recorded: readonly Recorded[]): ListPlan {
  const assignments: Assignment[] = [];
  let params: RecommenderConfigInput = {};
  const keep: Recorded[] = [];
  for (const r of recorded) {
    const e = config.experiments.find((x) => x.id === r[0]);
    const v = e?.variants.find((x) => x.id === r[1]);
    if (!e || !v) continue;
    assignments.push({ experiment: e.id, layer: e.layer, variant: v.id, strategy: v.strategy, allocation: e.allocation, segment: r[2] });
    params = mergeConfig(params, v.params);
    keep.push(r);
  }
  return assignments.length === 0 ? NO_EXPERIMENT : { assignments, strategy: assignments[0].strategy, params, recorded: keep };
}
