/** The stored experiment counts: reading the hash, per-variant totals, and the bandit state built from them. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ALL_SEGMENTS, banditStateFrom, countField, parseCounts, variantCounts, type Metric } from '../../src/experiments/counts.js';
import { parseExperiments } from '../../src/experiments/file.js';
import { banditShares, chooseArm } from '../../src/experiments/thompson.js';

const FILE = `
experiments:
  ab:
    variants:
      control: { strategy: hybrid, share: 0.5 }
      collab: { strategy: collaborative, share: 0.25 }
      content: { strategy: content, share: 0.25 }
  band:
    allocation: thompson
    bandit: { min_exploration: 0, per_segment: true }
    eligible: { segments: [constructor, vip] }
    variants:
      a: { strategy: hybrid }
      b: { strategy: collaborative }
      c: { strategy: trending }
`;
const config = parseExperiments(FILE);
const [AB, BAND] = config.experiments;

describe('parseCounts', () => {
  it('reads experiment → variant → segment → { i, c, v }', () => {
    const got = parseCounts({ 'ab|control|*|i': '10', 'ab|control|*|c': '3', 'ab|control|vip|v': '1', 'band|a|*|i': '7' });
    expect(got.get('ab')?.get('control')?.get('*')).toEqual({ i: 10, c: 3, v: 0 });
    expect(got.get('ab')?.get('control')?.get('vip')).toEqual({ i: 0, c: 0, v: 1 });
    expect(got.get('band')?.get('a')?.get('*')).toEqual({ i: 7, c: 0, v: 0 });
    expect([...got.keys()].sort()).toEqual(['ab', 'band']);
  });

  it('ignores fields of another shape and values that are not numbers', () => {
    const got = parseCounts({
      'ab|control|*|i': '5',
      'ab|control|*': '1', // three parts
      'ab|control|*|c|x': '1', // five parts
      'ab|control|*|x': '1', // unknown metric
      'ab|control|*|I': '1', // metric is case-sensitive
      'ab|collab|*|i': 'lots', // not a number
      'ab|collab|*|c': 'NaN',
      'ab|collab|*|v': 'Infinity',
      'ab:content:*:i': '4', // another separator
      'noise': '9',
    });
    expect(got.get('ab')?.get('control')?.get('*')).toEqual({ i: 5, c: 0, v: 0 });
    // a variant whose only fields are malformed is absent, not zero
    expect(got.get('ab')?.has('collab')).toBe(false);
    expect([...got.keys()]).toEqual(['ab']);
    expect([...got.get('ab')!.keys()]).toEqual(['control']);
    expect(parseCounts({}).size).toBe(0);
  });

  it('keeps names that are properties of every object as plain keys', () => {
    const got = parseCounts({ 'constructor|toString|__proto__|i': '2', 'hasOwnProperty|a|*|c': '1' });
    expect(got.get('constructor')?.get('toString')?.get('__proto__')).toEqual({ i: 2, c: 0, v: 0 });
    expect(got.get('hasOwnProperty')?.get('a')?.get('*')).toEqual({ i: 0, c: 1, v: 0 });
  });

  it('round-trips countField → hash → parseCounts', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,12}$/);
    const entry = fc.record({
      e: name,
      v: name,
      s: fc.option(name, { nil: null }),
      m: fc.constantFrom<Metric>('i', 'c', 'v'),
      n: fc.nat({ max: 1e9 }),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 30 }), (entries) => {
        const hash: Record<string, string> = {};
        const want = new Map<string, number>();
        for (const x of entries) {
          const f = countField(x.e, x.v, x.s, x.m);
          hash[f] = String(x.n);
          want.set(`${x.e}\u0000${x.v}\u0000${x.s ?? ALL_SEGMENTS}\u0000${x.m}`, x.n);
        }
        const got = parseCounts(hash);
        const flat = new Map<string, number>();
        for (const [e, byV] of got) for (const [v, byS] of byV) for (const [s, c] of byS) {
          for (const m of ['i', 'c', 'v'] as const) if (want.has(`${e}\u0000${v}\u0000${s}\u0000${m}`) || c[m] !== 0) flat.set(`${e}\u0000${v}\u0000${s}\u0000${m}`, c[m]);
        }
        expect(flat).toEqual(want);
      }),
      { seed: 7, numRuns: 200 },
    );
  });

  it('countField puts the segment or * third', () => {
    expect(parseCounts({ [countField('ab', 'control', null, 'c')]: '4' }).get('ab')?.get('control')?.get(ALL_SEGMENTS)?.c).toBe(4);
    expect(parseCounts({ [countField('ab', 'control', 'vip', 'v')]: '2' }).get('ab')?.get('control')?.get('vip')?.v).toBe(2);
    expect(countField('ab', 'control', null, 'i')).not.toBe(countField('ab', 'control', 'vip', 'i'));
  });
});

describe('variantCounts', () => {
  it('gives the file order with zeros for variants without events; segments and unknown variants do not count', () => {
    const counts = parseCounts({
      'ab|content|*|i': '40',
      'ab|content|*|c': '4',
      'ab|content|*|v': '1',
      'ab|control|vip|i': '99', // a segment's count is part of *, not added to it
      'ab|retired|*|i': '1000',
      'band|a|*|i': '5',
    });
    expect(variantCounts(AB, counts)).toEqual([
      { variant: 'control', impressions: 0, clicks: 0, conversions: 0 },
      { variant: 'collab', impressions: 0, clicks: 0, conversions: 0 },
      { variant: 'content', impressions: 40, clicks: 4, conversions: 1 },
    ]);
    expect(variantCounts(AB, parseCounts({})).map((c) => c.impressions)).toEqual([0, 0, 0]);
  });
});

describe('banditStateFrom', () => {
  it('is the prior state when the experiment has no counts', () => {
    const s = banditStateFrom(BAND, parseCounts({ 'ab|control|*|i': '3' }));
    expect(s.experiment).toBe('band');
    expect(s.arms).toEqual(['a', 'b', 'c']);
    expect(s.global).toEqual({ a: { impressions: 0, clicks: 0 }, b: { impressions: 0, clicks: 0 }, c: { impressions: 0, clicks: 0 } });
    expect(s.segments).toEqual({});
  });

  it('builds the global counts from * and a posterior per segment (zeros for arms without events there)', () => {
    const s = banditStateFrom(
      BAND,
      parseCounts({
        'band|a|*|i': '100', 'band|a|*|c': '5', 'band|a|*|v': '2',
        'band|b|*|i': '80', 'band|b|*|c': '20',
        'band|b|vip|i': '30', 'band|b|vip|c': '9',
        'band|c|constructor|i': '12', 'band|c|constructor|c': '1',
        'band|gone|*|i': '500', // an arm no longer in the file
      }),
    );
    expect(s.global).toEqual({ a: { impressions: 100, clicks: 5 }, b: { impressions: 80, clicks: 20 }, c: { impressions: 0, clicks: 0 } });
    expect(Object.keys(s.segments).sort()).toEqual(['constructor', 'vip']);
    expect(Object.hasOwn(s.segments, 'constructor')).toBe(true);
    expect(s.segments.vip).toEqual({ a: { impressions: 0, clicks: 0 }, b: { impressions: 30, clicks: 9 }, c: { impressions: 0, clicks: 0 } });
    expect(s.segments.constructor).toEqual({ a: { impressions: 0, clicks: 0 }, b: { impressions: 0, clicks: 0 }, c: { impressions: 12, clicks: 1 } });
    // a plain JSON object: survives a round trip through JSON (what a stage would store)
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('gives a state chooseArm and banditShares decide with, globally and per segment (also for "constructor")', () => {
    // globally a wins by far; in segment "constructor" c does, in "vip" b does
    const hash: Record<string, string> = {
      'band|a|*|i': '5000', 'band|a|*|c': '2500',
      'band|b|*|i': '5000', 'band|b|*|c': '50',
      'band|c|*|i': '5000', 'band|c|*|c': '50',
      'band|a|constructor|i': '2000', 'band|a|constructor|c': '20',
      'band|b|constructor|i': '2000', 'band|b|constructor|c': '20',
      'band|c|constructor|i': '2000', 'band|c|constructor|c': '1400',
      'band|a|vip|i': '2000', 'band|a|vip|c': '20',
      'band|b|vip|i': '2000', 'band|b|vip|c': '1400',
      'band|c|vip|i': '2000', 'band|c|vip|c': '20',
    };
    const s = banditStateFrom(BAND, parseCounts(hash));
    const settings = BAND.bandit!;
    expect(settings.minExploration).toBe(0);
    const now = Date.UTC(2027, 0, 10);
    const users = Array.from({ length: 50 }, (_, i) => `u${i}`);
    expect(new Set(users.map((u) => chooseArm(s, settings, u, now).arm))).toEqual(new Set(['a']));
    expect(new Set(users.map((u) => chooseArm(s, settings, u, now, 'constructor').arm))).toEqual(new Set(['c']));
    expect(new Set(users.map((u) => chooseArm(s, settings, u, now, 'vip').arm))).toEqual(new Set(['b']));
    // a segment without counts decides from the prior: every arm gets some users
    expect(new Set(users.map((u) => chooseArm(s, settings, u, now, 'new_segment').arm)).size).toBeGreaterThan(1);
    expect(banditShares(s, settings, null, 2000).a).toBeGreaterThan(0.99);
    expect(banditShares(s, settings, 'constructor', 2000).c).toBeGreaterThan(0.99);
    expect(banditShares(s, { ...settings, minExploration: 0.3 }, 'vip', 2000).b).toBeCloseTo(0.1 + 0.7, 2);
  });
});
