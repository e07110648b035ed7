/** Thompson sampling: deterministic decisions, serialisable state, exploration floor, per-segment posteriors. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Prng } from '../../src/experiments/prng.js';
import { banditShares, chooseArm, initialBanditState, recordOutcome, type BanditState } from '../../src/experiments/thompson.js';
import { assign } from '../../src/experiments/assignment.js';
import { parseExperiments } from '../../src/experiments/file.js';

const HOUR = 3_600_000;
const settings = { minExploration: 0.1, perSegment: false, bucketMs: HOUR };
const users = (n: number, tag = 'u') => Array.from({ length: n }, (_, i) => `${tag}-${i}`);
function withinBinomial(count: number, n: number, p: number, z = 4.5): void {
  expect(Math.abs(count - n * p)).toBeLessThanOrEqual(z * Math.sqrt(n * p * (1 - p)) + 1);
}
/** A state where arm `a` clicks 50% and the others never, after many impressions. */
function settled(): BanditState {
  let s = initialBanditState('exp', ['a', 'b', 'c']);
  s = recordOutcome(s, 'a', null, 100_000, 50_000);
  s = recordOutcome(s, 'b', null, 100_000, 0);
  return recordOutcome(s, 'c', null, 100_000, 0);
}

describe('the seeded generator', () => {
  it('is a pure function of its key, with uniform output', () => {
    const a = Prng.fromKey('k', 'x');
    const b = Prng.fromKey('k', 'x');
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(Prng.fromKey('k', 'y').next()).not.toBe(xs[0]);
    const r = Prng.fromSeed(1);
    const n = 100_000;
    let below = 0;
    for (let i = 0; i < n; i++) if (r.next() < 0.3) below++;
    withinBinomial(below, n, 0.3);
  });

  it('Beta draws have the Beta mean and variance', () => {
    const r = Prng.fromSeed(7);
    for (const [al, be] of [[2, 5], [0.5, 0.5], [60, 940]]) {
      const n = 40_000;
      const xs = Array.from({ length: n }, () => r.beta(al, be));
      const mean = xs.reduce((s, x) => s + x, 0) / n;
      const varc = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / n;
      const m = al / (al + be);
      const v = (al * be) / ((al + be) ** 2 * (al + be + 1));
      expect(Math.abs(mean - m)).toBeLessThan(5 * Math.sqrt(v / n));
      expect(Math.abs(varc / v - 1)).toBeLessThan(0.05);
    }
  });
});

describe('Thompson sampling', () => {
  it('decides the same for the same (state, user, time bucket) — also after a JSON round trip of the state', () => {
    const s = recordOutcome(initialBanditState('exp', ['a', 'b', 'c']), 'b', null, 30, 4);
    const copy = JSON.parse(JSON.stringify(s)) as BanditState;
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), fc.integer({ min: 0, max: 2 ** 40 }), (user, now) => {
        const d = chooseArm(s, settings, user, now);
        expect(chooseArm(copy, settings, user, now)).toEqual(d);
        // anywhere in the same bucket
        const start = Math.floor(now / HOUR) * HOUR;
        expect(chooseArm(s, settings, user, start + HOUR - 1)).toEqual(d);
      }),
      { seed: 14, numRuns: 200 },
    );
  });

  it('a decision varies across users and buckets (it is a draw, not a fixed order)', () => {
    const s = initialBanditState('exp', ['a', 'b', 'c']);
    const arms = new Set(users(60).map((u) => chooseArm(s, settings, u, 0).arm));
    expect(arms).toEqual(new Set(['a', 'b', 'c']));
    const overTime = new Set(Array.from({ length: 60 }, (_, h) => chooseArm(s, settings, 'one', h * HOUR).arm));
    expect(overTime.size).toBe(3);
  });

  it('keeps the exploration floor: each arm gets at least minExploration / k of decisions', () => {
    const s = settled();
    const n = 20_000;
    const counts = { a: 0, b: 0, c: 0 } as Record<string, number>;
    let explored = 0;
    for (const u of users(n)) {
      const d = chooseArm(s, settings, u, 0);
      counts[d.arm]++;
      if (d.explored) explored++;
    }
    withinBinomial(explored, n, 0.1);
    withinBinomial(counts.b, n, 0.1 / 3);
    withinBinomial(counts.c, n, 0.1 / 3);
    withinBinomial(counts.a, n, 0.9 + 0.1 / 3);
  });

  it('reports the shares its decisions follow', () => {
    let s = initialBanditState('exp', ['a', 'b']);
    s = recordOutcome(s, 'a', null, 200, 12);
    s = recordOutcome(s, 'b', null, 200, 8);
    const shares = banditShares(s, settings);
    expect(shares.a + shares.b).toBeCloseTo(1, 12);
    expect(shares.a).toBeGreaterThan(0.6);
    const n = 20_000;
    const a = users(n).filter((u) => chooseArm(s, settings, u, 0).arm === 'a').length;
    withinBinomial(a, n, shares.a, 5);
  });

  it('records outcomes into new objects, per segment and globally; clicks before their impression never count as failures', () => {
    const s0 = initialBanditState('exp', ['a', 'b']);
    const s1 = recordOutcome(s0, 'a', 'vip', 10, 3);
    expect(s0.global.a).toEqual({ impressions: 0, clicks: 0 });
    expect(s1.global.a).toEqual({ impressions: 10, clicks: 3 });
    expect(s1.segments).toEqual({ vip: { a: { impressions: 10, clicks: 3 }, b: { impressions: 0, clicks: 0 } } });
    const early = recordOutcome(s0, 'b', null, 0, 2);
    expect(() => chooseArm(early, settings, 'u', 0)).not.toThrow();
    expect(() => recordOutcome(s0, 'z', null, 1, 0)).toThrow('unknown arm "z" (arms: a, b)');
    expect(() => recordOutcome(s0, 'a', null, -1, 0)).toThrow(RangeError);
    expect(() => initialBanditState('exp', ['a'])).toThrow(/at least two arms/);
  });

  it('per segment: a segment’s own posterior decides for its users', () => {
    let s = initialBanditState('exp', ['a', 'b']);
    s = recordOutcome(s, 'a', 'vip', 50_000, 25_000);
    s = recordOutcome(s, 'b', 'vip', 50_000, 0);
    s = recordOutcome(s, 'b', 'new', 500_000, 250_000);
    s = recordOutcome(s, 'a', 'new', 500_000, 0);
    const per = { ...settings, perSegment: true, minExploration: 0 };
    expect(new Set(users(50).map((u) => chooseArm(s, per, u, 0, 'vip').arm))).toEqual(new Set(['a']));
    expect(new Set(users(50).map((u) => chooseArm(s, per, u, 0, 'new').arm))).toEqual(new Set(['b']));
    // a segment named like an Object property is a segment like any other
    const odd = recordOutcome(initialBanditState('exp', ['a', 'b']), 'a', 'constructor', 3, 1);
    expect(odd.segments.constructor).toEqual({ a: { impressions: 3, clicks: 1 }, b: { impressions: 0, clicks: 0 } });
    expect(() => chooseArm(initialBanditState('exp', ['a', 'b']), per, 'u', 0, 'toString')).not.toThrow();
    // globally b leads (more clicks overall)
    expect(new Set(users(50).map((u) => chooseArm(s, { ...per, perSegment: false }, u, 0, 'vip').arm))).toEqual(new Set(['b']));
  });

  it('assignment asks the bandit of a thompson experiment, with the user’s eligibility segment', () => {
    const config = parseExperiments(`experiments:
  bandit:
    allocation: thompson
    bandit: { min_exploration: 0, per_segment: true }
    eligible: { segments: [vip, new] }
    variants:
      a: { strategy: hybrid }
      b: { strategy: trending }
`);
    let s = initialBanditState('bandit', ['a', 'b']);
    s = recordOutcome(s, 'b', 'vip', 50_000, 25_000);
    s = recordOutcome(s, 'a', 'vip', 50_000, 0);
    const got = assign(config, 'someone', { segments: ['other', 'vip'], country: null, device: null, now: 0 }, new Map([['bandit', s]]));
    expect(got).toEqual([{ experiment: 'bandit', layer: 'bandit', variant: 'b', strategy: 'trending', allocation: 'thompson', segment: 'vip' }]);
    const stale = initialBanditState('bandit', ['a', 'c']);
    expect(() => assign(config, 'someone', { segments: ['vip'], country: null, device: null, now: 0 }, new Map([['bandit', stale]]))).toThrow(
      /has arms a, c but the file has a, b/,
    );
  });
});
