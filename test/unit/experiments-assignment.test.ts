/** Assignment: stable per (experiment, user), shares honoured, layers exclusive and independent of each other. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { assign, fixedVariant, inSlice, type AssignmentContext } from '../../src/experiments/assignment.js';
import { parseExperiments } from '../../src/experiments/file.js';
import { keyedUnit } from '../../src/experiments/keyed-hash.js';
import { chiSquareTest } from '../../src/experiments/stats.js';

const ctx: AssignmentContext = { segments: [], country: null, device: null, now: Date.UTC(2027, 0, 10) };
const users = (n: number, tag = 'u') => Array.from({ length: n }, (_, i) => `${tag}-${i}`);
/** |observed − expected| within z binomial standard deviations. */
function withinBinomial(count: number, n: number, p: number, z = 4.5): void {
  expect(Math.abs(count - n * p)).toBeLessThanOrEqual(z * Math.sqrt(n * p * (1 - p)) + 1);
}

const FILE = `
experiments:
  left:
    layer: home
    traffic: 0.3
    variants:
      a: { strategy: hybrid, share: 0.5 }
      b: { strategy: collaborative, share: 0.5 }
  right:
    layer: home
    traffic: 0.5
    variants:
      a: { strategy: hybrid, share: 0.2 }
      b: { strategy: content, share: 0.8 }
  other:
    layer: search
    variants:
      x: { strategy: hybrid, share: 0.5 }
      y: { strategy: trending, share: 0.5 }
  later:
    start: 2027-02-01T00:00:00Z
    variants:
      x: { strategy: hybrid, share: 0.5 }
      y: { strategy: trending, share: 0.5 }
  uk_mobile:
    eligible: { countries: [United Kingdom], devices: [mobile], segments: [vip, loyal] }
    variants:
      x: { strategy: hybrid, share: 0.5 }
      y: { strategy: buy-again, share: 0.5 }
`;

describe('assignment', () => {
  const config = parseExperiments(FILE);

  it('is a pure function of (file, user, context): equal on a re-read file (a restart, another worker)', () => {
    const again = parseExperiments(FILE);
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (user) => {
        expect(assign(again, user, ctx)).toEqual(assign(config, user, ctx));
      }),
      { seed: 14, numRuns: 300 },
    );
  });

  it('a fixed position: HMAC-SHA256 keyed by the salt, so the ids do not leak how they are placed', () => {
    // pinned: a change of the hash would move every user of every running experiment
    expect(keyedUnit('left', 'user-1')).toBe(keyedUnit('left', 'user-1'));
    expect(keyedUnit('left', 'user-1')).not.toBe(keyedUnit('right', 'user-1'));
    // the first 53 bits of HMAC-SHA256(key 'salt', 'abc') over 2^53, computed independently (Python hmac)
    expect(keyedUnit('salt', 'abc')).toBe(0.3132610148026336);
  });

  it('experiments of one layer never share a user; each takes its traffic share of the layer', () => {
    const n = 10_000;
    let left = 0;
    let right = 0;
    for (const u of users(n)) {
      const got = assign(config, u, ctx).filter((a) => a.layer === 'home');
      expect(got.length).toBeLessThanOrEqual(1);
      if (got[0]?.experiment === 'left') left++;
      if (got[0]?.experiment === 'right') right++;
    }
    withinBinomial(left, n, 0.3);
    withinBinomial(right, n, 0.5);
  });

  it('variants get their shares within binomial error, for any shares and salt', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 2, maxLength: 5 }),
        fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/),
        (weights, salt) => {
          const total = weights.reduce((s, w) => s + w, 0);
          const variants = weights.map((w, i) => ({ id: `v${i}`, strategy: 'hybrid', share: w / total, params: {} }));
          const n = 6000;
          const counts = new Map<string, number>();
          for (const u of users(n, salt)) {
            const v = fixedVariant({ salt, variants }, u).id;
            counts.set(v, (counts.get(v) ?? 0) + 1);
          }
          for (const v of variants) withinBinomial(counts.get(v.id) ?? 0, n, v.share);
        },
      ),
      { seed: 14, numRuns: 15 },
    );
  });

  it('layers are independent: the variant in one says nothing of the variant in another', () => {
    const n = 10_000;
    const table = new Map<string, { successes: number; trials: number }>();
    for (const u of users(n, 'indep')) {
      const got = assign(config, u, ctx);
      const home = got.find((a) => a.layer === 'home');
      const search = got.find((a) => a.layer === 'search')!;
      const key = home ? `${home.experiment}/${home.variant}` : 'none';
      const row = table.get(key) ?? { successes: 0, trials: 0 };
      row.trials++;
      if (search.variant === 'x') row.successes++;
      table.set(key, row);
    }
    expect(table.size).toBe(5);
    // chi-square of homogeneity over the home cells = the test of independence of the two layers
    expect(chiSquareTest([...table.values()]).pValue).toBeGreaterThan(0.001);
  });

  it('the slice does not depend on the variant draw (different keys)', () => {
    const e = config.experiments[1];
    const inside = users(20_000, 'slice').filter((u) => inSlice(e, u));
    const b = inside.filter((u) => fixedVariant(e, u).id === 'b').length;
    withinBinomial(b, inside.length, 0.8);
  });

  it('honours the period: none before start, in from start on', () => {
    const before = users(200).filter((u) => assign(config, u, ctx).some((a) => a.experiment === 'later'));
    expect(before).toEqual([]);
    const after = users(200).filter((u) => assign(config, u, { ...ctx, now: Date.UTC(2027, 1, 1) }).some((a) => a.experiment === 'later'));
    expect(after).toHaveLength(200);
  });

  it('honours eligibility: every listed condition must hold, any value of a list', () => {
    const has = (c: Partial<AssignmentContext>) => assign(config, 'someone', { ...ctx, ...c }).some((a) => a.experiment === 'uk_mobile');
    expect(has({ country: 'United Kingdom', device: 'mobile', segments: ['loyal'] })).toBe(true);
    expect(has({ country: 'United Kingdom', device: 'mobile', segments: ['other'] })).toBe(false);
    expect(has({ country: 'France', device: 'mobile', segments: ['vip'] })).toBe(false);
    expect(has({ country: 'United Kingdom', device: null, segments: ['vip'] })).toBe(false);
  });

  it('the assignment names the experiment, variant and strategy', () => {
    const [a] = assign(config, 'someone', ctx).filter((x) => x.experiment === 'other');
    expect(a).toMatchObject({ experiment: 'other', layer: 'search', allocation: 'fixed', segment: null });
    expect(a.strategy).toBe(a.variant === 'x' ? 'hybrid' : 'trending');
  });
});
