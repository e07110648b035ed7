/** The experiments file: what it accepts, and every mistake reported at its line:column with the fix. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ExperimentsFileError, loadExperimentsFile, parseExperiments } from '../../src/experiments/file.js';
import { ConfigError } from '../../src/errors.js';
import { parseSegmentRules } from '../../src/stages/segments/core/rules.js';
import { resolveFeatureConfig } from '../../src/stages/segments/features/config.js';

/** The messages of a refused file, as `line:col: text` (without the file name). */
function problems(text: string, opts = {}): string[] {
  try {
    parseExperiments(text, 'x.yaml', opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ExperimentsFileError);
    return (err as ExperimentsFileError).errors.map((e) => `${e.line}:${e.col}: ${e.segmentId ? `[${e.segmentId}] ` : ''}${e.message}`);
  }
  throw new Error('the file was accepted');
}

const ab = (body: string) => `experiments:\n  ab:\n${body}`;
const twoVariants = '    variants:\n      a: { strategy: hybrid, share: 0.5 }\n      b: { strategy: collaborative, share: 0.5 }\n';

describe('the experiments file', () => {
  it('reads the example file, whose segments are those of the example rules', () => {
    const segments = parseSegmentRules(readFileSync('config/segments.yaml', 'utf8'), resolveFeatureConfig()).map((s) => s.id);
    const cfg = loadExperimentsFile('config/experiments.example.yaml', { knownSegments: segments });
    expect(cfg.experiments.map((e) => [e.id, e.layer, e.sliceFrom, e.traffic, e.allocation])).toEqual([
      ['collaborative_vs_hybrid', 'home', 0, 0.5, 'fixed'],
      ['buy_again_weight', 'home', 0.5, 0.5, 'fixed'],
      ['strategy_bandit', 'bandit', 0, 0.2, 'thompson'],
    ]);
    const [first, second, bandit] = cfg.experiments;
    expect(first.start).toBe(Date.UTC(2027, 0, 4));
    expect(first.stop).toBe(Date.UTC(2027, 1, 1));
    expect(first.salt).toBe('collaborative_vs_hybrid_2027_01');
    expect(second.salt).toBe('buy_again_weight');
    expect(second.eligible).toEqual({ segments: ['frequent_buyer'], countries: ['United Kingdom', 'France'], devices: null });
    expect(second.variants[1]).toEqual({ id: 'more_buy_again', strategy: 'hybrid', share: 0.5, params: { blend: { buyAgain: 0.5 } } });
    expect(bandit.bandit).toEqual({ minExploration: 0.1, perSegment: true, bucketMs: 3_600_000 });
    // the bandit's variants get the uniform share as a reference
    expect(bandit.variants.map((v) => v.share)).toEqual([1 / 3, 1 / 3, 1 / 3]);
  });

  it('defaults: own layer, all traffic, the id as salt, no period, everyone eligible', () => {
    const [e] = parseExperiments(ab(twoVariants)).experiments;
    expect(e).toMatchObject({ layer: 'ab', traffic: 1, sliceFrom: 0, salt: 'ab', start: null, stop: null, bandit: null });
    expect(e.eligible).toEqual({ segments: null, countries: null, devices: null });
    expect(e).toMatchObject({ line: 2, col: 3 });
  });

  it('reports a syntax error at its position', () => {
    expect(problems('experiments:\n  ab: {\n')[0]).toMatch(/^\d+:\d+: syntax error/);
  });

  it('names unknown keys and what is allowed, at the key', () => {
    expect(problems(`experiments: {}\nflavour: 1\n`)).toContain('2:1: unknown top-level key "flavour"; allowed keys: experiments, version');
    expect(problems(ab(`    traffik: 0.5\n${twoVariants}`))).toEqual([
      '3:5: [ab] unknown experiment field "traffik"; allowed: description, layer, traffic, salt, allocation, bandit, start, stop, eligible, variants',
    ]);
  });

  it('refuses shares that do not sum to 1, naming the sum', () => {
    expect(problems(ab('    variants:\n      a: { strategy: hybrid, share: 0.5 }\n      b: { strategy: hybrid, share: 0.4 }\n'))).toEqual([
      "4:7: [ab] the variants' shares sum to 0.9; they must sum to 1",
    ]);
    // decimal fractions that do not add up exactly in binary are fine
    expect(() => parseExperiments(ab('    variants:\n      a: { strategy: hybrid, share: 0.1 }\n      b: { strategy: hybrid, share: 0.2 }\n      c: { strategy: hybrid, share: 0.7 }\n'))).not.toThrow();
  });

  it('refuses an unknown strategy listing the known ones, at the value', () => {
    expect(problems(ab('    variants:\n      a: { strategy: hybrid, share: 0.5 }\n      b: { strategy: knn, share: 0.5 }\n'))).toEqual([
      '5:22: [ab] unknown strategy "knn"; known strategies: hybrid, collaborative, content, trending, buy-again',
    ]);
  });

  it('collects every mistake of the file in one error, each with its experiment', () => {
    const text = [
      'experiments:',
      '  Bad-Id:',
      twoVariants.trimEnd(),
      '  ab:',
      '    traffic: 1.5',
      '    start: tomorrow',
      twoVariants.trimEnd(),
      '  one:',
      '    variants:',
      '      a: { strategy: hybrid, share: 1 }',
      '',
    ].join('\n');
    expect(problems(text)).toEqual([
      '2:3: [Bad-Id] experiment ids are lower_snake_case: a letter then letters, digits or _ (max 64)',
      '7:14: [ab] "traffic" is a fraction in (0, 1], e.g. 0.5 for half',
      '8:12: [ab] "start" is an ISO-8601 time with a zone, e.g. 2027-01-15T00:00:00Z',
      '14:7: [one] an experiment needs at least two variants (a control and a treatment; an A/A test repeats the control)',
    ]);
  });

  it('refuses a stop before the start', () => {
    expect(problems(ab(`    start: 2027-02-01T00:00:00Z\n    stop: 2027-01-01T00:00:00Z\n${twoVariants}`))).toEqual(['4:11: [ab] "stop" must be after "start"']);
  });

  it('refuses an over-allotted layer, naming its experiments', () => {
    const text = `experiments:\n  a1:\n    layer: l\n    traffic: 0.7\n${twoVariants}  a2:\n    layer: l\n    traffic: 0.4\n${twoVariants}`;
    expect(problems(text)).toEqual(['2:3: layer "l" is over-allotted: the traffic of a1, a2 sums to 1.1; lower it to at most 1 in total']);
  });

  it('checks variant params against the recommender config, at the offending node', () => {
    const text = ab('    variants:\n      a: { strategy: hybrid, share: 0.5 }\n      b:\n        strategy: hybrid\n        share: 0.5\n        params: { blend: { collaborative: -1 }, blnd: {} }\n');
    const got = problems(text);
    expect(got).toContain('8:49: [ab] unknown recommender setting "blnd"; allowed: collaborative, content, trending, buyAgain, blend, filters, limits, diversity');
    expect(got.some((p) => p === '8:43: [ab] params.blend.collaborative: Too small: expected number to be >=0')).toBe(true);
  });

  it('checks eligibility segments against the rule file when given, and the lists’ shape', () => {
    const text = ab(`    eligible:\n      segments: [vip, frequent_buyer]\n      devices: mobile\n${twoVariants}`);
    expect(problems(text, { knownSegments: ['frequent_buyer'] })).toEqual([
      '4:18: [ab] unknown segment "vip"; segments of the rule file: frequent_buyer',
      '5:16: [ab] "devices" is a non-empty list of names, e.g. [mobile]',
    ]);
  });

  it('thompson: no shares (the bandit sets them), bandit settings checked, per_segment needs eligibility segments', () => {
    const arms = '    variants:\n      a: { strategy: hybrid }\n      b: { strategy: trending }\n';
    const [e] = parseExperiments(ab(`    allocation: thompson\n    bandit: { min_exploration: 0.05, bucket: 15m }\n${arms}`)).experiments;
    expect(e.bandit).toEqual({ minExploration: 0.05, perSegment: false, bucketMs: 900_000 });
    expect(problems(ab(`    allocation: thompson\n    variants:\n      a: { strategy: hybrid, share: 0.5 }\n      b: { strategy: trending }\n`))).toEqual([
      '5:37: [ab] under allocation: thompson the bandit sets the shares; remove "share"',
    ]);
    expect(problems(ab(`    allocation: thompson\n    bandit: { min_exploration: 1, per_segment: true, bucket: soon }\n${arms}`))).toEqual([
      '4:32: [ab] "min_exploration" is a fraction in [0, 1), e.g. 0.1 (10% of decisions uniform over the variants)',
      '4:62: [ab] "bucket" is a duration of at least 1s, e.g. 1h or 15m (decisions are stable within a bucket)',
      '4:13: [ab] bandit per_segment keeps a posterior per eligibility segment: list them under eligible: { segments: [...] }',
    ]);
    expect(problems(ab(`    bandit: { min_exploration: 0.1 }\n${twoVariants}`))).toEqual([
      '3:13: [ab] "bandit" settings apply to allocation: thompson only; add it or remove them',
    ]);
  });

  it('formats the error as file:line:col lines, like the segment rules', () => {
    expect(() => parseExperiments(ab('    variants: 3\n'), 'exp.yaml')).toThrow(
      'invalid experiments file exp.yaml:\n  exp.yaml:3:15: experiment "ab": "variants" must be a non-empty mapping of variant id -> { strategy, share, params }',
    );
  });

  it('a file that cannot be read is a ConfigError naming where its path came from (worker, API and CLI alike)', () => {
    const missing = '/nonexistent/experiments.yaml';
    expect(() => loadExperimentsFile(missing)).toThrow(ConfigError);
    expect(() => loadExperimentsFile(missing)).toThrow(/^ATTUNE_EXPERIMENTS=\/nonexistent\/experiments.yaml: cannot read the experiments file: ENOENT/);
    expect(() => loadExperimentsFile(missing, { source: `--file ${missing}` })).toThrow(/^--file \/nonexistent/);
  });
});
