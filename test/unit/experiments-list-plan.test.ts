/** List plans: the strategy, params and recorded choices of a user's list, from their experiment assignments. */
import { describe, expect, it } from 'vitest';
import type { AssignmentContext } from '../../src/experiments/assignment.js';
import { parseExperiments } from '../../src/experiments/file.js';
import { NO_EXPERIMENT, planFromRecorded, planList, type ListPlan, type Recorded } from '../../src/experiments/list-plan.js';
import { decisionBucket, initialBanditState, recordOutcome, type BanditState } from '../../src/experiments/thompson.js';

const NOW = Date.UTC(2027, 0, 10, 12, 30);
const ctx: AssignmentContext = { segments: [], country: null, device: null, now: NOW };
const NO_BANDITS = new Map<string, BanditState>();

/** The first user (u0, u1, ...) whose plan satisfies `pred`. */
function userWhere(plan: (user: string) => ListPlan, pred: (p: ListPlan) => boolean): string {
  for (let i = 0; i < 20_000; i++) if (pred(plan(`u${i}`))) return `u${i}`;
  throw new Error('no such user among 20,000');
}
const variantsOf = (p: ListPlan) => p.assignments.map((a) => `${a.experiment}:${a.variant}`);

describe('planList', () => {
  it('a user in no experiment gets NO_EXPERIMENT: the default strategy, no params, nothing recorded', () => {
    const config = parseExperiments(`
experiments:
  fr_only:
    eligible: { countries: [France] }
    variants:
      a: { strategy: collaborative, share: 0.5 }
      b: { strategy: content, share: 0.5 }
  later:
    start: 2028-01-01T00:00:00Z
    variants:
      a: { strategy: trending, share: 0.5 }
      b: { strategy: content, share: 0.5 }
`);
    for (const user of ['u1', 'u2', 'u3']) {
      const p = planList(config, user, { ...ctx, country: 'United Kingdom' }, NO_BANDITS, []);
      expect(p).toEqual(NO_EXPERIMENT);
      expect(p.strategy).toBeNull();
      expect(p.params).toEqual({});
      expect(p.recorded).toEqual([]);
    }
    expect(planList(parseExperiments('experiments: {}\n'), 'u1', ctx, NO_BANDITS, [])).toEqual(NO_EXPERIMENT);
    // the same user in France is in fr_only
    expect(planList(config, 'u1', { ...ctx, country: 'France' }, NO_BANDITS, []).strategy).not.toBeNull();
  });

  it('a fixed A/B gives the assigned variant\'s strategy and params, recorded with bucket -1', () => {
    const config = parseExperiments(`
experiments:
  ab:
    variants:
      control: { strategy: hybrid, share: 0.5 }
      treat:
        strategy: collaborative
        share: 0.5
        params: { blend: { collaborative: 0.9, seedItems: 3 }, diversity: { mode: none } }
`);
    const plan = (u: string) => planList(config, u, ctx, NO_BANDITS, []);
    const treated = userWhere(plan, (p) => p.assignments[0]?.variant === 'treat');
    const control = userWhere(plan, (p) => p.assignments[0]?.variant === 'control');
    expect(plan(treated)).toMatchObject({
      strategy: 'collaborative',
      params: { blend: { collaborative: 0.9, seedItems: 3 }, diversity: { mode: 'none' } },
      recorded: [['ab', 'treat', null, -1]],
    });
    expect(plan(treated).assignments).toEqual([{ experiment: 'ab', layer: 'ab', variant: 'treat', strategy: 'collaborative', allocation: 'fixed', segment: null }]);
    expect(plan(control)).toMatchObject({ strategy: 'hybrid', params: {}, recorded: [['ab', 'control', null, -1]] });
    // a recorded choice does not move a fixed allocation: it is a function of the user alone
    expect(planList(config, control, ctx, NO_BANDITS, [['ab', 'treat', null, -1]]).assignments[0].variant).toBe('control');
    // the plan is the same on every call
    expect(plan(treated)).toEqual(plan(treated));
  });

  it('two layers: the strategy of the first assignment in file order, params merged with the later layer overriding', () => {
    // layer names sort the other way round from the file order
    const config = parseExperiments(`
experiments:
  first:
    layer: zeta
    variants:
      x1:
        strategy: collaborative
        share: 0.5
        params: { blend: { collaborative: 0.9, content: 0.2 }, diversity: { mode: none } }
      x2:
        strategy: content
        share: 0.5
        params: { blend: { collaborative: 0.8, content: 0.3 }, diversity: { mode: mmr } }
  second:
    layer: alpha
    variants:
      y1:
        strategy: trending
        share: 0.5
        params: { blend: { collaborative: 0.1 }, filters: { purchasedWithinMs: 0 } }
      y2:
        strategy: buy-again
        share: 0.5
        params: { blend: { collaborative: 0.2, trending: 0.5 } }
`);
    const first: Record<string, { strategy: string; content: number; diversity: string }> = {
      x1: { strategy: 'collaborative', content: 0.2, diversity: 'none' },
      x2: { strategy: 'content', content: 0.3, diversity: 'mmr' },
    };
    const second: Record<string, { collaborative: number; trending?: number; purchasedWithinMs?: number }> = {
      y1: { collaborative: 0.1, purchasedWithinMs: 0 },
      y2: { collaborative: 0.2, trending: 0.5 },
    };
    const plan = (u: string) => planList(config, u, ctx, NO_BANDITS, []);
    for (const x of ['x1', 'x2']) {
      for (const y of ['y1', 'y2']) {
        const user = userWhere(plan, (p) => variantsOf(p).join() === `first:${x},second:${y}`);
        const p = plan(user);
        expect(p.strategy).toBe(first[x].strategy);
        expect(p.params).toEqual({
          blend: { collaborative: second[y].collaborative, content: first[x].content, ...(second[y].trending === undefined ? {} : { trending: second[y].trending }) },
          diversity: { mode: first[x].diversity },
          ...(second[y].purchasedWithinMs === undefined ? {} : { filters: { purchasedWithinMs: second[y].purchasedWithinMs } }),
        });
        expect(p.recorded).toEqual([['first', x, null, -1], ['second', y, null, -1]]);
      }
    }
  });

  it('a variant\'s params do not leak into another user\'s plan', () => {
    const config = parseExperiments(`
experiments:
  ab:
    variants:
      a: { strategy: hybrid, share: 0.5, params: { blend: { collaborative: 0.9 } } }
      b: { strategy: hybrid, share: 0.5 }
`);
    const plan = (u: string) => planList(config, u, ctx, NO_BANDITS, []);
    const a = userWhere(plan, (p) => p.assignments[0]?.variant === 'a');
    const b = userWhere(plan, (p) => p.assignments[0]?.variant === 'b');
    expect(plan(a).params).toEqual({ blend: { collaborative: 0.9 } });
    expect(plan(b).params).toEqual({});
    // planning (which merges params) leaves the file's variants as they were
    expect(config.experiments[0].variants.map((v) => v.params)).toEqual([{ blend: { collaborative: 0.9 } }, {}]);
  });

  describe('a Thompson experiment', () => {
    const config = parseExperiments(`
experiments:
  band:
    allocation: thompson
    bandit: { min_exploration: 0, bucket: 1h, per_segment: true }
    eligible: { segments: [vip, other] }
    variants:
      hybrid: { strategy: hybrid }
      collab: { strategy: collaborative, params: { blend: { collaborative: 1 } } }
      trend: { strategy: trending, params: { diversity: { mode: none } } }
`);
    // the state favours collab by far, globally and in the segment
    let state = initialBanditState('band', ['hybrid', 'collab', 'trend']);
    for (const seg of ['vip', 'other']) {
      state = recordOutcome(state, 'hybrid', seg, 5000, 10);
      state = recordOutcome(state, 'collab', seg, 5000, 4000);
      state = recordOutcome(state, 'trend', seg, 5000, 10);
    }
    const bandits = new Map([['band', state]]);
    const vip: AssignmentContext = { ...ctx, segments: ['vip'] };
    const bucket = decisionBucket(NOW, config.experiments[0].bandit!);

    it('without a record, the bandit decides (here: the arm it strongly favours), recorded with its bucket', () => {
      for (const user of ['u1', 'u2', 'u3', 'u4']) {
        const p = planList(config, user, vip, bandits, []);
        expect(p.assignments).toEqual([{ experiment: 'band', layer: 'band', variant: 'collab', strategy: 'collaborative', allocation: 'thompson', segment: 'vip' }]);
        expect(p.strategy).toBe('collaborative');
        expect(p.params).toEqual({ blend: { collaborative: 1 } });
        expect(p.recorded).toEqual([['band', 'collab', 'vip', bucket]]);
      }
    });

    it('a recorded choice of the same bucket is kept although the bandit would now pick another', () => {
      const recorded: Recorded[] = [['band', 'trend', 'vip', bucket]];
      const p = planList(config, 'u1', vip, bandits, recorded);
      expect(p.assignments).toEqual([{ experiment: 'band', layer: 'band', variant: 'trend', strategy: 'trending', allocation: 'thompson', segment: 'vip' }]);
      expect(p.strategy).toBe('trending');
      expect(p.params).toEqual({ diversity: { mode: 'none' } });
      expect(p.recorded).toEqual(recorded);
      // later in the same hour too
      const hourEnd = (bucket + 1) * 3_600_000 - 1;
      expect(planList(config, 'u1', { ...vip, now: hourEnd }, bandits, recorded).assignments[0].variant).toBe('trend');
      // the recorded segment is the one kept (its posterior is what the choice was made with)
      const other = planList(config, 'u1', vip, bandits, [['band', 'hybrid', 'other', bucket]]);
      expect(other.assignments[0]).toMatchObject({ variant: 'hybrid', strategy: 'hybrid', segment: 'other' });
      expect(other.params).toEqual({});
    });

    it('a recorded choice of another bucket, experiment or a variant not in the file does not count: the bandit decides', () => {
      for (const recorded of [
        [['band', 'trend', 'vip', bucket - 1]],
        [['band', 'trend', 'vip', bucket + 1]],
        [['band', 'trend', 'vip', -1]],
        [['other_exp', 'trend', 'vip', bucket]],
        [['band', 'removed', 'vip', bucket]],
      ] as Recorded[][]) {
        const p = planList(config, 'u1', vip, bandits, recorded);
        expect(p.assignments[0].variant, JSON.stringify(recorded)).toBe('collab');
        expect(p.recorded).toEqual([['band', 'collab', 'vip', bucket]]);
      }
      // in the next hour the recorded choice of this hour is stale
      const next = { ...vip, now: (bucket + 1) * 3_600_000 };
      expect(planList(config, 'u1', next, bandits, [['band', 'trend', 'vip', bucket]]).recorded).toEqual([['band', 'collab', 'vip', bucket + 1]]);
    });

    it('a user no longer eligible is in no experiment, whatever was recorded', () => {
      expect(planList(config, 'u1', ctx, bandits, [['band', 'trend', 'vip', bucket]])).toEqual(NO_EXPERIMENT);
    });
  });
});

describe('planFromRecorded', () => {
  const v1 = `
experiments:
  ab:
    layer: home
    variants:
      control: { strategy: hybrid, share: 0.5 }
      treat: { strategy: collaborative, share: 0.5, params: { blend: { collaborative: 0.9, content: 0.1 } } }
  band:
    layer: bandit
    allocation: thompson
    variants:
      hybrid: { strategy: hybrid }
      trend: { strategy: trending, params: { blend: { content: 0.7 }, diversity: { mode: none } } }
`;

  it('rebuilds strategy and params from the file for the recorded assignments, in their order', () => {
    const config = parseExperiments(v1);
    const recorded: Recorded[] = [['ab', 'treat', null, -1], ['band', 'trend', 'vip', 471_234]];
    const p = planFromRecorded(config, recorded);
    expect(p.assignments).toEqual([
      { experiment: 'ab', layer: 'home', variant: 'treat', strategy: 'collaborative', allocation: 'fixed', segment: null },
      { experiment: 'band', layer: 'bandit', variant: 'trend', strategy: 'trending', allocation: 'thompson', segment: 'vip' },
    ]);
    expect(p.strategy).toBe('collaborative');
    expect(p.params).toEqual({ blend: { collaborative: 0.9, content: 0.7 }, diversity: { mode: 'none' } });
    expect(p.recorded).toEqual(recorded);
    // the strategy comes from the file now, not from when the list was made
    const changed = parseExperiments(v1.replace('treat: { strategy: collaborative', 'treat: { strategy: content'));
    expect(planFromRecorded(changed, recorded).strategy).toBe('content');
  });

  it('drops experiments and variants no longer in the file', () => {
    const config = parseExperiments(v1);
    const recorded: Recorded[] = [['gone', 'x', null, -1], ['ab', 'retired', null, -1], ['band', 'hybrid', null, 12], ['ab', 'control', null, -1]];
    const p = planFromRecorded(config, recorded);
    expect(variantsOf(p)).toEqual(['band:hybrid', 'ab:control']);
    expect(p.strategy).toBe('hybrid');
    expect(p.params).toEqual({});
    expect(p.recorded).toEqual([['band', 'hybrid', null, 12], ['ab', 'control', null, -1]]);
    expect(planFromRecorded(config, [['gone', 'x', null, -1], ['ab', 'retired', null, -1]])).toEqual(NO_EXPERIMENT);
    expect(planFromRecorded(config, [])).toEqual(NO_EXPERIMENT);
  });

  it('agrees with planList for the choices planList recorded', () => {
    const config = parseExperiments(v1);
    for (const user of ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']) {
      const p = planList(config, user, ctx, NO_BANDITS, []);
      const again = planFromRecorded(config, p.recorded);
      expect(again).toEqual(p);
    }
  });
});
