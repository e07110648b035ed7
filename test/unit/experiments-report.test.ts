/** The report's per-variant statistics from counts. */
import { describe, expect, it } from 'vitest';
import { summariseExperiment } from '../../src/experiments/report.js';
import { chiSquareTest, twoProportionZTest, wilsonInterval } from '../../src/experiments/stats.js';

describe('the experiment summary', () => {
  const counts = [
    { variant: 'control', impressions: 1000, clicks: 40, conversions: 10 },
    { variant: 'treatment', impressions: 1000, clicks: 60, conversions: 12 },
    { variant: 'other', impressions: 1000, clicks: 30, conversions: 5 },
  ];

  it('gives CTR and conversion per variant with Wilson intervals, each tested against the control', () => {
    const s = summariseExperiment(counts);
    expect(s.control).toBe('control');
    const t = s.variants[1];
    expect(t.ctr.rate).toBe(0.06);
    expect(t.ctr.interval).toEqual(wilsonInterval(60, 1000));
    expect(t.conversion.rate).toBe(0.012);
    expect(t.ctr.vsControl!.statistic).toBeCloseTo(2.051956704170308, 12);
    expect(t.ctr.vsControl!.pValue).toBeCloseTo(0.04017387028851216, 12);
    expect(t.conversion.vsControl).toEqual(twoProportionZTest({ successes: 12, trials: 1000 }, { successes: 10, trials: 1000 }));
    expect(s.variants[0].ctr.vsControl).toBeNull();
  });

  it('adds the chi-square over all variants when there are more than two', () => {
    const s = summariseExperiment(counts);
    expect(s.ctrChiSquare!.pValue).toBeCloseTo(0.003593898172572243, 12);
    expect(s.conversionChiSquare).toEqual(chiSquareTest(counts.map((c) => ({ successes: c.conversions, trials: c.impressions }))));
    expect(summariseExperiment(counts.slice(0, 2)).ctrChiSquare).toBeNull();
  });

  it('copes with a variant without impressions and with clicks counted before their impressions', () => {
    const s = summariseExperiment([
      { variant: 'a', impressions: 0, clicks: 2, conversions: 0 },
      { variant: 'b', impressions: 10, clicks: 12, conversions: 1 },
    ]);
    expect(s.variants[0].ctr).toEqual({ rate: 0, interval: { lo: 0, hi: 1 }, vsControl: null });
    expect(s.variants[1].ctr.rate).toBe(1);
    expect(s.variants[1].ctr.vsControl!.pValue).toBe(1);
    expect(() => summariseExperiment(counts.slice(0, 1))).toThrow(/at least two variants/);
  });
});
