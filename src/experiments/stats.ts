/**
 * The statistics of an experiment report: Wilson score intervals for a rate, the two-proportion z-test, the
 * chi-square test of homogeneity for more than two variants, and the distribution functions behind their
 * p-values. Tail probabilities are computed as tails (never 1 − CDF), so small p-values keep their digits.
 */

/** Φ(x), the standard normal CDF. */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const t = normalTail(Math.abs(x));
  return x > 0 ? 1 - t : t;
}

/**
 * P(Z > x) for x ≥ 0, Z standard normal: ½·Q(½, x²/2), the same incomplete gamma function as the chi-square's
 * (a 1-df chi-square is Z²), so the two agree to the last bits.
 */
function normalTail(x: number): number {
  return x === 0 ? 0.5 : 0.5 * gammaQ(0.5, (x * x) / 2);
}

/** The two-sided p-value of a standard normal statistic: P(|Z| ≥ |z|). */
export function twoSidedP(z: number): number {
  return Math.min(1, 2 * normalTail(Math.abs(z)));
}

/** Φ⁻¹(p) for p in (0, 1), by bisection on Φ (exact to the last bits; only used for interval widths). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  let lo = -40;
  let hi = 40;
  for (let i = 0; i < 200 && hi - lo > 1e-15; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: ~1e-15 relative). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Q(a, x) = Γ(a, x) / Γ(a), the regularised upper incomplete gamma function: by its series when x < a + 1
 * (where the series converges fast; Q = 1 − P), else by its continued fraction (modified Lentz), which gives the
 * small upper tail directly.
 */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0) || x < 0 || Number.isNaN(x)) return NaN;
  if (x === 0) return 1;
  const lnPre = a * Math.log(x) - x - lnGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-17) break;
    }
    return Math.max(0, 1 - sum * Math.exp(lnPre));
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(lnPre) * h;
}

/** P(X ≥ x) for X chi-square with `df` degrees of freedom. */
export function chiSquareSf(x: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`chiSquareSf: df must be > 0, got ${df}`);
  if (x <= 0) return 1;
  return gammaQ(df / 2, x / 2);
}

export interface Interval {
  lo: number;
  hi: number;
}

/** The Wilson score interval of `successes` in `trials` at `confidence` (default 95%); [0, 1] when no trials. */
export function wilsonInterval(successes: number, trials: number, confidence = 0.95): Interval {
  checkCounts(successes, trials);
  if (trials === 0) return { lo: 0, hi: 1 };
  const z = normalQuantile(1 - (1 - confidence) / 2);
  const p = successes / trials;
  const z2n = (z * z) / trials;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / trials + z2n / (4 * trials));
  // at p = 0 or 1 the bound is exactly 0 or 1; the arithmetic above can leave 1e-17 of rounding
  return { lo: successes === 0 ? 0 : Math.max(0, centre - half), hi: successes === trials ? 1 : Math.min(1, centre + half) };
}

export interface Proportion {
  successes: number;
  trials: number;
}

export interface TestResult {
  statistic: number;
  /** Degrees of freedom (1 for the z-test, whose statistic squared is the 1-df chi-square). */
  df: number;
  pValue: number;
}

/**
 * The pooled two-proportion z-test of H0: p_a = p_b, two-sided. z > 0 when a's rate is higher. With no
 * successes or no failures at all there is no evidence either way: z = 0, p = 1.
 */
export function twoProportionZTest(a: Proportion, b: Proportion): TestResult {
  checkCounts(a.successes, a.trials);
  checkCounts(b.successes, b.trials);
  if (a.trials === 0 || b.trials === 0) return { statistic: 0, df: 1, pValue: 1 };
  const pooled = (a.successes + b.successes) / (a.trials + b.trials);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / a.trials + 1 / b.trials));
  if (se === 0) return { statistic: 0, df: 1, pValue: 1 };
  const z = (a.successes / a.trials - b.successes / b.trials) / se;
  return { statistic: z, df: 1, pValue: twoSidedP(z) };
}

/**
 * Pearson's chi-square test of homogeneity over k ≥ 2 variants (a k×2 table of successes and failures),
 * df = k − 1 (variants without trials left out). For two variants the statistic is the z-test's z².
 */
export function chiSquareTest(groups: readonly Proportion[]): TestResult {
  for (const g of groups) checkCounts(g.successes, g.trials);
  const live = groups.filter((g) => g.trials > 0);
  const df = live.length - 1;
  if (df < 1) return { statistic: 0, df: Math.max(df, 0), pValue: 1 };
  const n = live.reduce((s, g) => s + g.trials, 0);
  const p = live.reduce((s, g) => s + g.successes, 0) / n;
  if (p === 0 || p === 1) return { statistic: 0, df, pValue: 1 };
  let x2 = 0;
  for (const g of live) {
    const e1 = g.trials * p;
    const e0 = g.trials * (1 - p);
    x2 += (g.successes - e1) ** 2 / e1 + (g.trials - g.successes - e0) ** 2 / e0;
  }
  return { statistic: x2, df, pValue: chiSquareSf(x2, df) };
}

function checkCounts(successes: number, trials: number): void {
  if (!(Number.isInteger(successes) && Number.isInteger(trials) && successes >= 0 && trials >= successes)) {
    throw new RangeError(`counts must be integers with 0 ≤ successes ≤ trials, got ${successes}/${trials}`);
  }
}
