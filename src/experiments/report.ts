/**
 * The statistics of an experiment report from per-variant counts: CTR (clicks per impression) and conversion
 * (attributed purchases per impression), each with its Wilson interval, each variant tested against the control
 * (the first variant, file order) by the two-proportion z-test, and all variants together by the chi-square
 * test when there are more than two. Pure: `attune experiments report` formats it; the counts come from Redis.
 */
import { chiSquareTest, twoProportionZTest, wilsonInterval, type Interval, type TestResult } from './stats.js';

export interface VariantCounts {
  variant: string;
  impressions: number;
  clicks: number;
  conversions: number;
}

export interface RateSummary {
  rate: number;
  interval: Interval;
  /** Against the control (null for the control itself). */
  vsControl: TestResult | null;
}

export interface VariantSummary {
  variant: string;
  impressions: number;
  ctr: RateSummary;
  conversion: RateSummary;
}

export interface ExperimentSummary {
  control: string;
  variants: VariantSummary[];
  /** Chi-square over all variants (null with two variants: the z-test is the test then). */
  ctrChiSquare: TestResult | null;
  conversionChiSquare: TestResult | null;
  confidence: number;
}

/**
 * Summarises the counts of an experiment's variants (the first is the control). Clicks or conversions above the
 * impressions (events attributed before their impression was counted) are capped at the impressions, so a
 * rate never exceeds 1.
 */
export function summariseExperiment(counts: readonly VariantCounts[], confidence = 0.95): ExperimentSummary {
  if (counts.length < 2) throw new RangeError(`an experiment report needs at least two variants, got ${counts.length}`);
  const ctrs = counts.map((c) => ({ successes: Math.min(c.clicks, c.impressions), trials: c.impressions }));
  const convs = counts.map((c) => ({ successes: Math.min(c.conversions, c.impressions), trials: c.impressions }));
  const rate = (p: { successes: number; trials: number }, i: number, all: typeof ctrs): RateSummary => ({
    rate: p.trials ? p.successes / p.trials : 0,
    interval: wilsonInterval(p.successes, p.trials, confidence),
    vsControl: i === 0 ? null : twoProportionZTest(p, all[0]),
  });
  return {
    control: counts[0].variant,
    variants: counts.map((c, i) => ({ variant: c.variant, impressions: c.impressions, ctr: rate(ctrs[i], i, ctrs), conversion: rate(convs[i], i, convs) })),
    ctrChiSquare: counts.length > 2 ? chiSquareTest(ctrs) : null,
    conversionChiSquare: counts.length > 2 ? chiSquareTest(convs) : null,
    confidence,
  };
}
