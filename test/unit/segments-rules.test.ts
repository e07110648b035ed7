import { describe, expect, it } from 'vitest';
import { resolveFeatureConfig } from '../../src/stages/segments/features/index.js';
import { loadSegmentRulesFile, parseSegmentRules, SegmentRulesError, type RuleError } from '../../src/stages/segments/core/index.js';

const cfg = resolveFeatureConfig();

function errorsOf(text: string): RuleError[] {
  try {
    parseSegmentRules(text, cfg, 'rules.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(SegmentRulesError);
    return (e as SegmentRulesError).errors;
  }
  throw new Error('expected the rules to be rejected');
}

describe('segment rule parsing', () => {
  it('loads the shipped example rules', () => {
    const rules = loadSegmentRulesFile('config/segments.yaml', cfg);
    expect(rules.map((r) => r.id)).toEqual(
      expect.arrayContaining(['tech_enthusiast', 'at_risk', 'high_value', 'new_visitor', 'frequent_buyer', 'international_buyer']),
    );
    const tech = rules.find((r) => r.id === 'tech_enthusiast')!;
    expect(tech.when).toMatchObject({
      kind: 'cond',
      op: 'gt',
      value: 5,
      feature: { f: 'count', types: ['view'], category: 'tech', window: { name: '7d' } },
    });
  });

  it('accepts JSON too', () => {
    const rules = parseSegmentRules(
      JSON.stringify({ segments: { big: { when: { any: [{ sum: { field: 'quantity', window: '24h' }, gte: 10 }, { recency: 'view', lt: '5m' }] } } } }),
      cfg,
    );
    expect(rules[0]!.when).toMatchObject({ kind: 'any', items: [{ value: 10 }, { value: 300_000 }] });
  });

  it('rejects an unknown window with the rule id, position and the allowed windows', () => {
    const errs = errorsOf(`segments:
  weekly:
    when:
      count: { type: view, window: 8d }
      gt: 5
`);
    expect(errs).toEqual([
      { segmentId: 'weekly', line: 4, col: 36, message: expect.stringContaining('unknown window "8d"; allowed windows: 1h, 24h, 7d, 30d, 90d') },
    ]);
  });

  it('rejects an unknown feature or operator with its position', () => {
    const errs = errorsOf(`segments:
  a:
    when:
      all:
        - count: { window: 7d }
          gt: 1
        - visits: { window: 7d }
          gt: 1
  b:
    when:
      count: { window: 7d }
      greater: 3
`);
    expect(errs.map((e) => [e.segmentId, e.line, e.col])).toEqual([
      ['a', 7, 11],
      ['b', 12, 7],
    ]);
    expect(errs[0]!.message).toMatch(/unknown feature or operator "visits"; features: count, sum, recency/);
    expect(errs[1]!.message).toMatch(/unknown feature or operator "greater".*operators: gt, gte, lt, lte, eq, ne, in, not_in, exists/);
  });

  it('rejects unknown fields, event types, operators that do not apply, and bad values', () => {
    const errs = errorsOf(`segments:
  c1:
    when: { count: { type: view, colour: red, window: 7d }, gt: 1 }
  c2:
    when: { count: { type: vieww, window: 7d }, gt: 1 }
  c3:
    when: { context: country, gt: 3 }
  c4:
    when: { recency: purchase, gt: soon }
  c5:
    when: { context: planet, eq: mars }
  c6:
    when: { count: { type: view }, gt: 1 }
`);
    const by = Object.fromEntries(errs.map((e) => [e.segmentId, e]));
    expect(by.c1).toMatchObject({ line: 3, col: 34, message: expect.stringContaining('unknown field "colour" for count; allowed fields: type, category, window') });
    expect(by.c2).toMatchObject({ line: 5, col: 28, message: expect.stringContaining('unknown event type "vieww"; allowed types: view, click') });
    expect(by.c3).toMatchObject({ line: 7, col: 31, message: expect.stringContaining('operator "gt" does not apply to context (text); allowed: eq, ne, in, not_in, exists') });
    expect(by.c4).toMatchObject({ line: 9, col: 36, message: expect.stringContaining('takes a duration here, e.g. 30d') });
    expect(by.c5).toMatchObject({ line: 11, col: 22, message: expect.stringContaining('unknown context field "planet"; allowed: country, device') });
    expect(by.c6).toMatchObject({ line: 13, col: 13, message: expect.stringContaining('count needs a "window" field; allowed windows: 1h') });
  });

  it('rejects structural mistakes', () => {
    const errs = errorsOf(`segments:
  Bad-Id:
    when: { count: { window: 7d }, gt: 1 }
  two_ops:
    when: { count: { window: 7d }, gt: 1, lt: 5 }
  no_when:
    description: x
  mixed:
    when: { all: [{ count: { window: 7d }, gt: 1 }], count: { window: 7d } }
  empty_any:
    when: { any: [] }
`);
    expect(errs.map((e) => [e.segmentId, e.line])).toEqual([
      ['Bad-Id', 2],
      ['two_ops', 5],
      ['no_when', 6],
      ['mixed', 9],
      ['empty_any', 11],
    ]);
    expect(errs[1]!.message).toMatch(/exactly one operator/);
  });

  it('reports YAML syntax errors and duplicate ids with positions', () => {
    const errs = errorsOf(`segments:
  a:
    when: { count: { window: 7d }, gt: 1 }
  a:
    when: { count: { window: 7d }, gt: 2 }
`);
    expect(errs[0]).toMatchObject({ line: 4, message: expect.stringMatching(/syntax error: .*unique/i) });
    const err = (() => {
      try {
        parseSegmentRules('segments:\n  a: [', cfg, 'x.yaml');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toMatch(/^invalid segment rules in x\.yaml:\n  x\.yaml:\d+:\d+: syntax error/);
  });
});
