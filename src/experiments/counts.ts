/**
 * The experiments' counts as stored in Redis: one hash (`{g}:experiments`, Keys.experimentCounts) whose fields
 * are `<experiment>|<variant>|<segment or *>|<metric>`, metric `i` (impressions), `c` (clicks) or `v`
 * (conversions), added exactly once per source offset by applyCounts-2.lua. `*` holds every event of the
 * variant; a per-segment bandit's events are also counted under their segment. These counts are the bandit's
 * state too: `banditStateFrom` builds a thompson.ts state from them, so there is one record of what happened,
 * not a second one that could drift. Pure.
 */
import type { Experiment } from './model.js';
import type { VariantCounts } from './report.js';
import { initialBanditState, type ArmCounts, type BanditState } from './thompson.js';

export type Metric = 'i' | 'c' | 'v';
export const ALL_SEGMENTS = '*';

export function countField(experiment: string, variant: string, segment: string | null, metric: Metric): string {
  return `${experiment}|${variant}|${segment ?? ALL_SEGMENTS}|${metric}`;
}

/** experiment → variant → segment (`*` for all) → counts. */
export type ExperimentCounts = Map<string, Map<string, Map<string, { i: number; c: number; v: number }>>>;

/** Reads the stored hash (HGETALL); fields of another shape, and values that are not non-negative integers, are ignored. */
export function parseCounts(hash: Readonly<Record<string, string>>): ExperimentCounts {
  const out: ExperimentCounts = new Map();
  for (const [field, value] of Object.entries(hash)) {
    const p = field.split('|');
    const n = Number(value);
    // Counts are HINCRBY integers: anything else was not written by applyCounts and would break the statistics.
    if (p.length !== 4 || !(p[3] === 'i' || p[3] === 'c' || p[3] === 'v') || !/^\d{1,15}$/.test(value) || !Number.isSafeInteger(n)) continue;
    const [e, variant, seg, metric] = p as [string, string, string, Metric];
    let byVariant = out.get(e);
    if (!byVariant) out.set(e, (byVariant = new Map()));
    let bySeg = byVariant.get(variant);
    if (!bySeg) byVariant.set(variant, (bySeg = new Map()));
    let c = bySeg.get(seg);
    if (!c) bySeg.set(seg, (c = { i: 0, c: 0, v: 0 }));
    c[metric] = n;
  }
  return out;
}

/** Per-variant totals of an experiment, in the file's variant order (zero for a variant without events). */
export function variantCounts(e: Pick<Experiment, 'id' | 'variants'>, counts: ExperimentCounts): VariantCounts[] {
  const byVariant = counts.get(e.id);
  return e.variants.map((v) => {
    const c = byVariant?.get(v.id)?.get(ALL_SEGMENTS);
    return { variant: v.id, impressions: c?.i ?? 0, clicks: c?.c ?? 0, conversions: c?.v ?? 0 };
  });
}

/** The bandit state of a Thompson experiment from the counts (global and per segment). */
export function banditStateFrom(e: Pick<Experiment, 'id' | 'variants'>, counts: ExperimentCounts): BanditState {
  const arms = e.variants.map((v) => v.id);
  const state = initialBanditState(e.id, arms);
  const byVariant = counts.get(e.id);
  if (!byVariant) return state;
  for (const arm of arms) {
    for (const [seg, c] of byVariant.get(arm) ?? []) {
      const counted: ArmCounts = { impressions: c.i, clicks: c.c };
      if (seg === ALL_SEGMENTS) state.global[arm] = counted;
      else {
        // own properties only: a segment may be called "constructor"
        if (!Object.hasOwn(state.segments, seg)) state.segments[seg] = Object.fromEntries(arms.map((a) => [a, { impressions: 0, clicks: 0 }]));
        state.segments[seg][arm] = counted;
      }
    }
  }
  return state;
}
