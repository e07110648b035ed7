/** One error model: every error class Attune exports comes from src/errors.ts and says whether it may pass. */
import { describe, it, expect } from 'vitest';
import * as errors from '../../src/errors.js';
import { SegmentRulesError } from '../../src/stages/segments/core/index.js';
import { UnknownWindowError } from '../../src/stages/segments/features/view.js';

describe('the error classes', () => {
  it('all extend AttuneError, so each has a code and a retriable flag', () => {
    const classes = Object.entries(errors).filter(([, v]) => typeof v === 'function' && v.prototype instanceof Error);
    expect(classes.map(([k]) => k)).toEqual(expect.arrayContaining(['ProduceError', 'SegmentRulesError', 'UnknownWindowError', 'StateStoreUnavailableError']));
    for (const [name, cls] of classes) {
      if (name !== 'AttuneError') expect((cls as () => unknown).prototype, name).toBeInstanceOf(errors.AttuneError);
    }
  });

  it('the classes moved into errors.ts are the ones importable from where they were', () => {
    expect(SegmentRulesError).toBe(errors.SegmentRulesError);
    expect(UnknownWindowError).toBe(errors.UnknownWindowError);
    const e = new SegmentRulesError('rules.yaml', [{ line: 3, col: 5, segmentId: 'vip', message: 'unknown feature' }]);
    expect(e.message).toBe('invalid segment rules in rules.yaml:\n  rules.yaml:3:5: segment "vip": unknown feature');
    expect(e.name).toBe('SegmentRulesError');
    expect([e.code, e.retriable, new UnknownWindowError('unknown window "9d"').retriable]).toEqual(['SEGMENT_RULES', false, false]);
  });

  it('a produce failure is retriable only as its constructor is told', () => {
    expect(errors.isRetriable(new errors.ProduceError('x', { retriable: true }))).toBe(true);
    expect(errors.isRetriable(new errors.ProduceError('x', { retriable: false }))).toBe(false);
  });
});
