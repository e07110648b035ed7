/** `attune experiments report`'s pure part: the report object, its text table and its SVG chart. */
import { describe, expect, it } from 'vitest';
import { parseExperiments } from '../../src/experiments/file.js';
import { countField, parseCounts } from '../../src/experiments/counts.js';
import type { ExperimentsConfig } from '../../src/experiments/model.js';
import { experimentsReport, formatP, formatReport, reportSvg, type ExperimentReport } from '../../src/experiments/report-format.js';
import { twoProportionZTest, wilsonInterval } from '../../src/experiments/stats.js';

const FILE = `
version: 1
experiments:
  home_abc:
    layer: home
    traffic: 0.5
    variants:
      control: { strategy: hybrid, share: 0.34 }
      better: { strategy: collaborative, share: 0.33 }
      worse: { strategy: trending, share: 0.33 }
  bandit_ab:
    layer: bandit
    allocation: thompson
    bandit: { min_exploration: 0.1, per_segment: true }
    eligible: { segments: [frequent_buyer, new_visitor] }
    variants:
      a: { strategy: hybrid }
      b: { strategy: collaborative }
  close_call:
    variants:
      control: { strategy: hybrid, share: 0.5 }
      treatment: { strategy: content, share: 0.5 }
  fresh:
    variants:
      control: { strategy: hybrid, share: 0.5 }
      untouched: { strategy: content, share: 0.5 }
`;

/** The stored hash: one field per (experiment, variant, segment, metric), as applyCounts-2.lua leaves it. */
function hashOf(rows: Array<[string, string, string | null, number, number, number]>): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [e, v, seg, i, c, conv] of rows) {
    h[countField(e, v, seg, 'i')] = String(i);
    h[countField(e, v, seg, 'c')] = String(c);
    h[countField(e, v, seg, 'v')] = String(conv);
  }
  return h;
}

const HASH = {
  ...hashOf([
    // 4% / 6% / 3% CTR at 5,000 impressions each
    ['home_abc', 'control', null, 5000, 200, 50],
    ['home_abc', 'better', null, 5000, 300, 80],
    ['home_abc', 'worse', null, 5000, 150, 40],
    // globally a leads (123/1800 vs 105/2000); among new visitors b does (90/1500 vs 3/300)
    ['bandit_ab', 'a', null, 1800, 123, 10],
    ['bandit_ab', 'b', null, 2000, 105, 9],
    ['bandit_ab', 'a', 'frequent_buyer', 1500, 120, 9],
    ['bandit_ab', 'b', 'frequent_buyer', 500, 15, 1],
    ['bandit_ab', 'a', 'new_visitor', 300, 3, 1],
    ['bandit_ab', 'b', 'new_visitor', 1500, 90, 8],
    ['close_call', 'control', null, 100, 5, 1],
    ['close_call', 'treatment', null, 100, 6, 1],
    ['fresh', 'control', null, 10, 1, 0],
    // left behind by a removed experiment and a removed variant
    ['retired', 'x', null, 7, 1, 0],
    ['close_call', 'gone', null, 3, 0, 0],
  ]),
  'not|a|count': '5',
};

const config = parseExperiments(FILE);
const report = experimentsReport(config, parseCounts(HASH));
const byId = (id: string): ExperimentReport => report.experiments.find((e) => e.id === id)!;
const sum = (xs: Record<string, number>) => Object.values(xs).reduce((a, b) => a + b, 0);

describe('the report object', () => {
  it('gives rates, Wilson intervals and z-tests against the control per variant, in file order', () => {
    const r = byId('home_abc');
    expect(r).toMatchObject({ layer: 'home', traffic: 0.5, allocation: 'fixed', control: 'control', impressions: 15_000 });
    expect(r.variants.map((v) => [v.id, v.strategy, v.impressions, v.clicks, v.conversions])).toEqual([
      ['control', 'hybrid', 5000, 200, 50],
      ['better', 'collaborative', 5000, 300, 80],
      ['worse', 'trending', 5000, 150, 40],
    ]);
    const [control, better, worse] = r.variants;
    expect(better.ctr.rate).toBe(0.06);
    expect(worse.ctr.rate).toBe(0.03);
    expect(better.conversion.rate).toBe(0.016);
    expect({ lo: better.ctr.lo, hi: better.ctr.hi }).toEqual(wilsonInterval(300, 5000));
    expect(control.ctr.vsControl).toBeNull();
    expect(better.ctr.vsControl!.p).toBe(twoProportionZTest({ successes: 300, trials: 5000 }, { successes: 200, trials: 5000 }).pValue);
    expect(better.ctr.vsControl!.z).toBeGreaterThan(0);
    expect(worse.ctr.vsControl!.z).toBeLessThan(0);
    // 6% vs 4% is much clearer than 3% vs 4% at the same size
    expect(better.ctr.vsControl!.p).toBeLessThan(0.01);
    expect(better.ctr.vsControl!.p).toBeLessThan(worse.ctr.vsControl!.p);
  });

  it('adds the chi-square only with more than two variants', () => {
    expect(byId('home_abc').ctrChiSquare).toMatchObject({ df: 2 });
    expect(byId('home_abc').ctrChiSquare!.p).toBeLessThan(byId('home_abc').variants[1].ctr.vsControl!.p);
    expect(byId('home_abc').conversionChiSquare).not.toBeNull();
    for (const id of ['bandit_ab', 'close_call', 'fresh']) {
      expect(byId(id).ctrChiSquare).toBeNull();
      expect(byId(id).conversionChiSquare).toBeNull();
    }
  });

  it('names the best variant by CTR and how significant its lead over the control is', () => {
    expect(byId('home_abc').best).toEqual({ variant: 'better', isControl: false, p: byId('home_abc').variants[1].ctr.vsControl!.p, significantAt: 0.01 });
    expect(byId('close_call').best).toMatchObject({ variant: 'treatment', significantAt: null });
    expect(byId('close_call').best!.p).toBeGreaterThan(0.05);
    expect(byId('bandit_ab').best).toMatchObject({ variant: 'a', isControl: true, p: null });
  });

  it('grades the lead at p < 0.01, p < 0.05 or neither, and gives a tie to the control', () => {
    const two = { experiments: [config.experiments[2]] };
    const best = (clicks: number, control = 200) =>
      experimentsReport(two, parseCounts(hashOf([['close_call', 'control', null, 5000, control, 0], ['close_call', 'treatment', null, 5000, clicks, 0]]))).experiments[0].best!;
    expect(best(260)).toMatchObject({ variant: 'treatment', significantAt: 0.01 }); // p = 0.0042
    expect(best(245)).toMatchObject({ variant: 'treatment', significantAt: 0.05 }); // p = 0.029
    expect(best(240)).toMatchObject({ variant: 'treatment', significantAt: null }); // p = 0.051
    expect(best(200)).toMatchObject({ variant: 'control', isControl: true, p: null, significantAt: null });
    expect(formatReport(experimentsReport(two, parseCounts(hashOf([['close_call', 'control', null, 5000, 200, 0], ['close_call', 'treatment', null, 5000, 245, 0]])))))
      .toContain('p = 0.029: differs from the control at p < 0.05');
  });

  it('gives the bandit\'s shares, globally and per segment, from the same counts', () => {
    const b = byId('bandit_ab').bandit!;
    expect(b).toMatchObject({ minExploration: 0.1, perSegment: true });
    expect(sum(b.shares)).toBeCloseTo(1, 12);
    expect(b.shares.a).toBeGreaterThan(b.shares.b);
    // the exploration floor: every arm at least min_exploration / k
    expect(Math.min(...Object.values(b.shares))).toBeGreaterThanOrEqual(0.05);
    expect(b.segments.map((s) => [s.segment, s.impressions, s.clicks])).toEqual([
      ['frequent_buyer', 2000, 135],
      ['new_visitor', 1800, 93],
    ]);
    const [fb, nv] = b.segments;
    for (const s of b.segments) expect(sum(s.shares)).toBeCloseTo(1, 12);
    expect(fb.shares.a).toBeGreaterThan(0.9);
    // each segment's own posterior decides: new visitors favour b although a leads globally
    expect(nv.shares.b).toBeGreaterThan(0.9);
    expect(byId('home_abc').bandit).toBeNull();
  });

  it('shows a variant without counts as zeros, never NaN', () => {
    const untouched = byId('fresh').variants[1];
    expect(untouched).toEqual({
      id: 'untouched', strategy: 'content', impressions: 0, clicks: 0, conversions: 0,
      ctr: { rate: 0, lo: 0, hi: 1, vsControl: { z: 0, p: 1 } },
      conversion: { rate: 0, lo: 0, hi: 1, vsControl: { z: 0, p: 1 } },
    });
    expect(JSON.stringify(report)).not.toMatch(/NaN|null,"hi"|Infinity/);
  });

  it('lists what the counts hold but the file does not define, and ignores foreign fields', () => {
    expect(report.unknownExperiments).toEqual(['retired']);
    expect(byId('close_call').unknownVariants).toEqual(['gone']);
    expect(byId('home_abc').unknownVariants).toEqual([]);
  });

  it('is plain JSON and the same for the same counts (the shares are seeded)', () => {
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    expect(experimentsReport(config, parseCounts(HASH))).toEqual(report);
  });

  it('reports an experiment without any counts (before its first impression)', () => {
    const r = experimentsReport(config, parseCounts({}));
    expect(r.unknownExperiments).toEqual([]);
    expect(r.experiments.every((e) => e.best === null && e.impressions === 0)).toBe(true);
    // no data: the bandit is uniform (Beta(1, 1) priors)
    expect(r.experiments[1].bandit!.shares.a).toBeCloseTo(0.5, 1);
  });
});

describe('the text report', () => {
  const text = formatReport(report);
  const block = (id: string) => text.split('\n\n').find((b) => b.startsWith(`experiment ${id} `))!;

  it('has one block per experiment with a row per variant', () => {
    expect(text.split('\n').filter((l) => l.startsWith('experiment '))).toHaveLength(4);
    const rows = block('home_abc').split('\n').filter((l) => /^ {2}(control|better|worse)\b/.test(l));
    expect(rows).toHaveLength(3);
    expect(rows[1]).toMatch(/better\s+collaborative\s+5,000\s+300\s+6\.00%\s+\[5\.\d\d%, 6\.\d\d%\]\s+\d\.\de-\d/);
    // fixed width: the CTR column ends at the same place in every row
    const ends = rows.map((r) => r.search(/%\s+\[/));
    expect(new Set(ends).size).toBe(1);
  });

  it('names the best variant and whether it beats the control', () => {
    expect(block('home_abc')).toContain(`best by CTR: better, 6.00% vs 4.00% for the control (+50.0% relative), p = ${formatP(byId('home_abc').best!.p)}: differs from the control at p < 0.01`);
    expect(block('close_call')).toMatch(/best by CTR: treatment, .*not significantly different from the control/);
    expect(block('bandit_ab')).toContain('best by CTR: a (the control)');
    expect(block('home_abc')).toMatch(/chi-square over 3 variants: CTR p = \d\.\de-\d+ \(df 2\)/);
    expect(block('close_call')).not.toContain('chi-square');
  });

  it('shows the bandit shares, per segment too, and a share column', () => {
    const b = block('bandit_ab');
    expect(b).toMatch(/bandit shares of decisions now \(global posterior\): a \d+\.\d%, b \d+\.\d%/);
    expect(b).toMatch(/segment frequent_buyer \(2,000 impressions\): a 9\d\.\d%/);
    expect(b).toMatch(/segment new_visitor \(1,800 impressions\): a \d\.\d%, b 9\d\.\d%/);
    expect(b.split('\n')[1]).toMatch(/share$/);
  });

  it('prints zeros for a variant without counts, and what the file does not define', () => {
    expect(block('fresh')).toMatch(/untouched\s+content\s+0\s+0\s+0\.00%\s+\[0\.00%, 100\.00%\]\s+-\s+0\s+0\.00%\s+\[0\.00%, 100\.00%\]\s+-$/m);
    expect(text).not.toContain('NaN');
    expect(block('close_call')).toContain('counts of variants not in the file (not shown): gone');
    expect(text).toContain('counts of experiments not in the file (not shown): retired');
    expect(formatReport(experimentsReport({ experiments: [] }, parseCounts({})))).toBe('no experiments in the file\n');
  });

  it('writes p-values compactly', () => {
    expect([formatP(2.9e-6), formatP(0.0402), formatP(0.34), formatP(1), formatP(0.00099), formatP(0), formatP(null)])
      .toEqual(['2.9e-6', '0.04', '0.34', '1', '9.9e-4', '<1e-300', '-']);
  });
});

/** Tags balance and text holds no raw `<` or bare `&`: enough of XML's well-formedness to catch a broken chart. */
function checkWellFormed(svg: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < svg.length) {
    const lt = svg.indexOf('<', i);
    const text = svg.slice(i, lt === -1 ? svg.length : lt);
    expect(text).not.toMatch(/&(?!(amp|lt|gt|quot|#39);)/);
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(svg);
    expect(m, `malformed tag at ${svg.slice(lt, lt + 60)}`).not.toBeNull();
    const [, close, name, , selfClosing] = m!;
    if (close) expect(stack.pop()).toBe(name);
    else if (!selfClosing) stack.push(name);
    i = tag.lastIndex;
  }
  expect(stack).toEqual([]);
}

describe('the SVG chart', () => {
  const svg = reportSvg(report);

  it('is one well-formed, self-contained svg element', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    checkWellFormed(svg);
    expect(svg).not.toMatch(/NaN|undefined|Infinity|href=/);
  });

  it('draws a CTR bar per variant, whiskers for those with impressions, and a share bar per bandit arm', () => {
    expect(svg.match(/class="ctr-bar"/g)).toHaveLength(3 + 2 + 2 + 2);
    expect(svg.match(/class="ci"/g)).toHaveLength(9 - 1);
    expect(svg.match(/class="share-bar"/g)).toHaveLength(2);
    expect(svg).toContain('better');
    expect(svg).toContain('no impressions');
    // bars share a scale within an experiment: the 6% bar is twice the 3% one
    const widths = [...svg.matchAll(/class="ctr-bar" x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].slice(0, 3).map((m) => Number(m[1]));
    expect(widths[1] / widths[2]).toBeCloseTo(2, 1);
    expect(widths[1]).toBeGreaterThan(widths[0]);
  });

  it('escapes the text it draws', () => {
    const hostile: ExperimentsConfig = {
      experiments: [{
        ...config.experiments[2],
        id: 'x<y&"z',
        layer: "l'<b>",
        variants: [config.experiments[2].variants[0], { ...config.experiments[2].variants[1], id: 'v<script>' }],
      }],
    };
    const counts = parseCounts(hashOf([['x<y&"z', 'v<script>', null, 10, 1, 0]]));
    const out = reportSvg(experimentsReport(hostile, counts));
    checkWellFormed(out);
    expect(out).toContain('x&lt;y&amp;&quot;z');
    expect(out).toContain('v&lt;script&gt;');
    expect(out).not.toContain('<script>');
    expect(out).not.toContain("l'<b>");
  });

  it('is an svg with a note when there are no experiments', () => {
    const out = reportSvg(experimentsReport({ experiments: [] }, parseCounts({})));
    checkWellFormed(out);
    expect(out).toContain('no experiments in the file');
  });
});
