/** The report's statistics against reference values (mpmath at 30 digits, scipy for the tests). */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  chiSquareSf,
  chiSquareTest,
  lnGamma,
  normalCdf,
  normalQuantile,
  twoProportionZTest,
  twoSidedP,
  wilsonInterval,
} from '../../src/experiments/stats.js';

/** |got − want| within `rel` of want (relative error). */
function close(got: number, want: number, rel = 1e-12): void {
  expect(Math.abs(got - want)).toBeLessThanOrEqual(rel * Math.abs(want));
}

describe('the normal distribution', () => {
  it('Φ at known points, tails included (tails computed as tails, not 1 − Φ)', () => {
    close(normalCdf(0), 0.5, 0);
    close(normalCdf(1.96), 0.9750021048517795);
    close(normalCdf(-1), 0.15865525393145705);
    close(normalCdf(-3), 0.0013498980316300933);
    close(normalCdf(-8), 6.22096057427174e-16);
    close(normalCdf(-12.5), 3.732564298877714e-36);
    expect(normalCdf(-40)).toBe(0);
    expect(normalCdf(40)).toBe(1);
  });

  it('is symmetric and monotone', () => {
    fc.assert(
      fc.property(fc.double({ min: -30, max: 30, noNaN: true }), fc.double({ min: 0, max: 5, noNaN: true }), (x, d) => {
        expect(Math.abs(normalCdf(x) + normalCdf(-x) - 1)).toBeLessThan(1e-15);
        expect(normalCdf(x + d)).toBeGreaterThanOrEqual(normalCdf(x));
      }),
    );
  });

  it('two-sided p-values and the quantile', () => {
    close(twoSidedP(1.959963984540054), 0.05, 1e-12);
    close(twoSidedP(-2.5758293035489004), 0.01, 1e-12);
    close(normalQuantile(0.975), 1.959963984540054, 1e-14);
    close(normalQuantile(0.005), -2.5758293035489004, 1e-14);
    expect(() => normalQuantile(1)).toThrow(RangeError);
  });
});

describe('the chi-square survival function', () => {
  it('matches reference values across df and tails', () => {
    const cases: Array<[number, number, number]> = [
      [3.841458820694124, 1, 0.05000000000000006],
      [1, 1, 0.3173105078629141],
      [10, 5, 0.07523524614651218],
      [20, 10, 0.029252688076961072],
      [50, 2, 1.3887943864964021e-11],
      [100, 3, 1.554159431389605e-21],
      [0.5, 10, 0.999993388289439],
      [0.001, 4, 0.9999998750416589],
      [300, 250, 0.01651827315786872],
    ];
    for (const [x, df, want] of cases) close(chiSquareSf(x, df), want, 1e-12);
    expect(chiSquareSf(0, 3)).toBe(1);
    expect(() => chiSquareSf(1, 0)).toThrow(RangeError);
  });

  it('df 2 is exactly exp(−x/2), and df 1 is the two-sided normal tail of √x', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 200, noNaN: true }), (x) => {
        close(chiSquareSf(x, 2), Math.exp(-x / 2), 1e-12);
        close(chiSquareSf(x, 1), twoSidedP(Math.sqrt(x)), 1e-12);
      }),
    );
  });

  it('ln Γ at known points', () => {
    close(lnGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-14);
    close(lnGamma(10), Math.log(362880), 1e-14);
    // ln Γ(1) = ln Γ(2) = 0: absolute error only
    expect(Math.abs(lnGamma(1))).toBeLessThan(1e-14);
    expect(Math.abs(lnGamma(2))).toBeLessThan(1e-14);
    close(lnGamma(0.1), 2.252712651734206, 1e-13);
  });
});

describe('Wilson intervals', () => {
  it('known intervals', () => {
    const a = wilsonInterval(0, 10);
    expect(a.lo).toBe(0);
    close(a.hi, 0.27753279986288903, 1e-12);
    const b = wilsonInterval(5, 10);
    close(b.lo, 0.2365930905125641, 1e-12);
    close(b.hi, 0.7634069094874358, 1e-12);
    expect(wilsonInterval(10, 10).hi).toBe(1);
    expect(wilsonInterval(0, 0)).toEqual({ lo: 0, hi: 1 });
    // 99% is wider than 95%
    const w99 = wilsonInterval(60, 1000, 0.99);
    const w95 = wilsonInterval(60, 1000);
    expect(w99.lo).toBeLessThan(w95.lo);
    expect(w99.hi).toBeGreaterThan(w95.hi);
  });

  it('always holds the observed rate, within [0, 1]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, f) => {
        const k = Math.floor(n * f);
        const { lo, hi } = wilsonInterval(k, n);
        expect(lo).toBeGreaterThanOrEqual(0);
        expect(hi).toBeLessThanOrEqual(1);
        expect(lo).toBeLessThanOrEqual(k / n + 1e-15);
        expect(hi).toBeGreaterThanOrEqual(k / n - 1e-15);
      }),
    );
  });

  it('refuses impossible counts', () => {
    expect(() => wilsonInterval(5, 3)).toThrow(/0 ≤ successes ≤ trials/);
    expect(() => wilsonInterval(1.5, 3)).toThrow(RangeError);
  });
});

describe('tests of proportions', () => {
  it('the pooled two-proportion z-test (6% vs 4% of 1000)', () => {
    const t = twoProportionZTest({ successes: 60, trials: 1000 }, { successes: 40, trials: 1000 });
    close(t.statistic, 2.051956704170308, 1e-12);
    close(t.pValue, 0.04017387028851216, 1e-10);
    expect(twoProportionZTest({ successes: 40, trials: 1000 }, { successes: 60, trials: 1000 }).statistic).toBeLessThan(0);
    expect(twoProportionZTest({ successes: 0, trials: 100 }, { successes: 0, trials: 100 })).toEqual({ statistic: 0, df: 1, pValue: 1 });
    expect(twoProportionZTest({ successes: 0, trials: 0 }, { successes: 3, trials: 100 }).pValue).toBe(1);
  });

  it('chi-square over three variants equals scipy’s chi2_contingency (no continuity correction)', () => {
    const t = chiSquareTest([
      { successes: 60, trials: 1000 },
      { successes: 40, trials: 1000 },
      { successes: 30, trials: 1000 },
    ]);
    close(t.statistic, 11.25703564727955, 1e-12);
    expect(t.df).toBe(2);
    close(t.pValue, 0.003593898172572243, 1e-10);
  });

  it('for two variants chi-square is z² with the same p-value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 5000 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (n1, n2, f1, f2) => {
        const a = { successes: Math.floor(n1 * f1), trials: n1 };
        const b = { successes: Math.floor(n2 * f2), trials: n2 };
        const z = twoProportionZTest(a, b);
        const c = chiSquareTest([a, b]);
        expect(Math.abs(c.statistic - z.statistic ** 2)).toBeLessThanOrEqual(1e-9 * Math.max(1, c.statistic));
        expect(Math.abs(c.pValue - z.pValue)).toBeLessThanOrEqual(1e-9);
      }),
    );
  });

  it('variants without trials are left out of the chi-square', () => {
    const t = chiSquareTest([{ successes: 60, trials: 1000 }, { successes: 0, trials: 0 }, { successes: 40, trials: 1000 }]);
    expect(t.df).toBe(1);
    expect(chiSquareTest([{ successes: 1, trials: 10 }]).pValue).toBe(1);
  });
});
