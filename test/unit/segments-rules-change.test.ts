import { describe, expect, it } from 'vitest';
import { applyEvent, emptyFeatureState, resolveFeatureConfig, MINUTE } from '../../src/stages/segments/features/index.js';
import { compileRules, parseSegmentRules, SegmentRulesError } from '../../src/stages/segments/core/index.js';
import { memberStates, reevaluateUsers } from '../../src/stages/segments/reevaluate-users.js';
import type { StoredUser } from '../../src/stages/segments/stored.js';
import type { UserEvent } from '../../src/domain/events.js';

const cfg = resolveFeatureConfig();
const compile = (text: string, c = cfg) => compileRules(parseSegmentRules(text, c), c);
const A = `segments:
  busy:
    description: three views
    when: { count: { type: view, window: 1h }, gte: 3 }
`;

describe('members flag', () => {
  it('is parsed, defaults to false, and must be a boolean', () => {
    expect(compile(A).segments).toEqual([{ id: 'busy', description: 'three views', members: false }]);
    expect(compile(A.replace('    description', '    members: true\n    description')).segments[0]!.members).toBe(true);
    try {
      parseSegmentRules(A.replace('    description', '    members: yes please\n    description'), cfg, 'r.yaml');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SegmentRulesError);
      expect((e as Error).message).toContain('r.yaml:3:14: segment "busy": "members" must be true or false');
    }
  });
});

describe('rules fingerprint', () => {
  it('ignores layout, comments and descriptions but not rules, members or feature configuration', () => {
    const fp = compile(A).fingerprint;
    expect(fp).toMatch(/^[0-9a-f]{32}$/);
    expect(compile(`# comment\nsegments:\n  busy: { description: other, when: { gte: 3, count: { window: 1h, type: view } } }\n`).fingerprint).toBe(fp);
    expect(compile(A.replace('gte: 3', 'gte: 2')).fingerprint).not.toBe(fp);
    expect(compile(A.replace('    description', '    members: true\n    description')).fingerprint).not.toBe(fp);
    expect(compile(A + `  other:\n    when: { count: { type: view, window: 1h }, gte: 1 }\n`).fingerprint).not.toBe(fp);
    const cfg2 = resolveFeatureConfig({ timerResolutionMs: 5000 });
    expect(compile(A, cfg2).fingerprint).not.toBe(fp);
  });
});

describe('reevaluateUsers', () => {
  const T0 = Date.UTC(2024, 0, 1, 10);
  const user = (views: number, segments: string[], due: number | null): StoredUser => {
    const features = emptyFeatureState();
    for (let i = 0; i < views; i++) {
      const e: UserEvent = { eventId: `e${i}`, userId: 'u', type: 'view', eventTime: T0 + i * 1000, itemId: 'i', quantity: null, price: null, rating: null, sessionId: null, context: null, properties: {} };
      applyEvent(features, e, cfg);
    }
    return { features, segments, due, offset: 7, pending: [], since: {} };
  };
  it('emits rules-caused changes at the watermark, reschedules, and writes only users that changed', () => {
    const B = compile(`segments:\n  busy:\n    when: { count: { type: view, window: 1h }, gte: 2 }\n  keen:\n    when: { count: { type: view, window: 1h }, gte: 3 }\n`);
    const now = T0 + 5000;
    const due = T0 + 60 * MINUTE;
    const users = [user(3, ['busy', 'gone'], due), user(2, [], due), user(2, ['busy'], due)];
    const res = reevaluateUsers(['a', 'b', 'c'], users, now, B, cfg, 1);
    expect(res.changes.map((c) => [c.userId, c.segmentId, c.change, c.cause, c.eventTime])).toEqual([
      ['a', 'gone', 'exit', 'rules', now], ['a', 'keen', 'enter', 'rules', now], ['b', 'busy', 'enter', 'rules', now],
    ]);
    expect(res.writes.map(([id, u]) => [id, u.segments, u.due, u.offset])).toEqual([['a', ['busy', 'keen'], due, 7], ['b', ['busy'], due, 7]]);
    expect(res.finals.map(([id]) => id)).toEqual(['a', 'b', 'c']);
    // Idempotent: re-running on the result changes nothing.
    const again = reevaluateUsers(['a', 'b', 'c'], res.finals.map(([, u]) => u), now, B, cfg, 2);
    expect(again.changes).toEqual([]);
    expect(again.writes).toEqual([]);
    expect(users[0]!.segments).toEqual(['busy', 'gone']); // inputs untouched
  });
});

describe('memberStates', () => {
  it('gives the membership state of every user for segments with member sets only', () => {
    expect(memberStates([], new Map([['a', ['x']]]))).toEqual([]);
    expect(memberStates(['x', 'y'], new Map([['a', ['x']], ['b', []]]))).toEqual([['x', 'a', 1], ['y', 'a', 0], ['x', 'b', 0], ['y', 'b', 0]]);
  });
});
