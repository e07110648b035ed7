/**
 * The recommend processor and the rights marks, over an in-memory store that behaves like Redis (compare-and-set
 * user commits, holders sets, stored lists): a reset withdraws the last list (holders, {u}:recs) before the
 * user's commit, a withdrawn user gets no list, records are keyed by the real id, and replays change nothing.
 */
import { describe, expect, it } from 'vitest';
import { RecommendStage, type RecommendDeps } from '../../src/stages/recommend/processor.js';
import { ListExperiments } from '../../src/stages/recommend/experiments.js';
import { Recommender } from '../../src/stages/recommend/model/recommender.js';
import { loadRecommenderConfig } from '../../src/stages/recommend/model/load-config.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { OffsetEvent } from '../../src/stages/ingest/plan.js';
import type { UserEvent, Recommendations } from '../../src/domain/events.js';
import { testConfig } from '../support/env.js';

const T = Date.UTC(2024, 0, 1);
const ev = (userId: string, type: UserEvent['type'], itemId: string | null, k: number): UserEvent => ({
  eventId: `e${k}`, userId, type, eventTime: T + k * 1000, itemId, quantity: 1, price: 1, rating: null,
  sessionId: null, context: null, properties: {},
});
const at = (offset: number, e: UserEvent, mark: Partial<OffsetEvent> = {}): OffsetEvent => ({ offset, event: e, ...mark });

function setUp(real: Record<string, string> = { P1: 'alice', P2: 'bob' }) {
  const cfg = testConfig();
  const users = new Map<string, { offset: number; state: string }>();
  const holders = new Map<string, Set<string>>();
  const recs = new Map<string, Recommendations>();
  const calls: string[] = [];
  let failCommitOnce = false;
  const store = {
    decayEpoch: async (c: number) => c,
    loadUser: async (u: string) => ({ offset: users.get(u)?.offset ?? -1, state: users.get(u)?.state ?? null }),
    commitUser: async (u: string, _f: string, expected: number, next: number, state: string) => {
      if (failCommitOnce) { failCommitOnce = false; throw new Error('connection lost'); }
      if ((users.get(u)?.offset ?? -1) !== expected) throw new Error('conflict');
      calls.push(`commit ${u}`);
      users.set(u, { offset: next, state });
    },
    applyRows: async () => 0,
    updateHolders: async (u: string, before: string[], after: string[]) => {
      for (const i of before) if (!after.includes(i)) holders.get(i)?.delete(u);
      for (const i of after) { if (!holders.has(i)) holders.set(i, new Set()); holders.get(i)!.add(u); }
    },
    clearList: async (u: string, items: string[]) => {
      calls.push(`clear ${u} ${items.join(',')}`);
      for (const i of items) holders.get(i)?.delete(u);
      recs.delete(u);
    },
  };
  const rec = new Recommender(loadRecommenderConfig(cfg));
  const stage = new RecommendStage({
      experiments: ListExperiments.none(rec, createMetrics()),
    cfg, rec, metrics: createMetrics(), topics: {} as RecommendDeps['topics'], producer: {} as RecommendDeps['producer'],
    codec: { encodeRecommendations: async (r: Recommendations) => Buffer.from(JSON.stringify(r)) } as unknown as RecommendDeps['codec'],
    store: store as unknown as RecommendDeps['store'],
    state: { saveRecommendations: async (r: Recommendations) => { recs.set(r.userId, r); } } as unknown as RecommendDeps['state'],
    identities: {
      resolve: async (ps) => { calls.push('resolve'); return new Map([...ps].filter((p) => p in real).map((p) => [p, real[p]])); },
      personalizable: async (ps) => new Set(ps),
    },
  });
  const holdersOf = (u: string) => [...holders].filter(([, s]) => s.has(u)).map(([i]) => i).sort();
  const stateOf = (u: string) => JSON.parse(users.get(u)!.state) as { h: { i: string[] }; p: unknown[]; c: string | null; lh: string; li: string[] };
  return { stage, rec, users, recs, calls, holdersOf, stateOf, failCommit: () => { failCommitOnce = true; } };
}

const FIRST = [at(0, ev('P1', 'purchase', 'a', 0)), at(1, ev('P1', 'purchase', 'b', 1)), at(2, ev('P2', 'purchase', 'a', 2)), at(3, ev('P2', 'purchase', 'c', 3))];

describe('recommend with resets and withdrawn users', () => {
  it('keys the records by the real id and stores the list under the pseudonym, with one resolve for the batch', async () => {
    const t = setUp();
    const out = await t.stage.process('ev', 0, FIRST, 3);
    expect(out.map((r) => r.key)).toEqual(['alice', 'bob']);
    expect(JSON.parse(out[0].value!.toString()).userId).toBe('alice');
    expect(t.recs.get('P1')!.userId).toBe('P1');
    expect(t.calls.filter((c) => c === 'resolve')).toHaveLength(1);
  });

  it('emits nothing for a pseudonym that does not resolve', async () => {
    const t = setUp({ P2: 'bob' });
    const out = await t.stage.process('ev', 0, FIRST, 3);
    expect(out.map((r) => r.key)).toEqual(['bob']);
    expect(t.recs.has('P1')).toBe(false);
  });

  it('an erased (withdrawn) user: the last list is withdrawn before the commit, no list after; a replay changes nothing', async () => {
    const t = setUp();
    await t.stage.process('ev', 0, FIRST, 3);
    const listed = t.stateOf('P1').li;
    expect(t.holdersOf('P1')).toEqual([...listed].sort());
    expect(listed.length).toBeGreaterThan(0);
    t.calls.length = 0;

    const second = [at(4, ev('P1', 'erase', null, 4), { reset: 'erasure' }), at(5, ev('P2', 'view', 'b', 5))];
    const withdrawn = new Map([['P1', { userId: 'alice', offset: 4 }]]);
    const out = await t.stage.process('ev', 0, second, 5, withdrawn);
    expect(out.map((r) => r.key)).toEqual(['bob']);
    expect(t.calls.indexOf(`clear P1 ${listed.join(',')}`)).toBeLessThan(t.calls.indexOf('commit P1'));
    expect(t.holdersOf('P1')).toEqual([]);
    expect(t.recs.has('P1')).toBe(false);
    expect(t.users.get('P1')!.offset).toBe(4);
    expect(t.stateOf('P1')).toMatchObject({ h: { i: [] }, p: [], c: null, lh: '', li: [] });

    // The same micro-batch again (a crash after the commit): no list, no holders, no state change for P1.
    const before = t.users.get('P1');
    const again = await t.stage.process('ev', 0, second, 5, withdrawn);
    expect(again.map((r) => r.key)).toEqual(['bob']);
    expect(t.users.get('P1')).toBe(before);
    expect(t.holdersOf('P1')).toEqual([]);
    expect(t.recs.has('P1')).toBe(false);
  });

  it('a crash between the clean-up and the commit: the replay withdraws the same list again, then commits', async () => {
    const t = setUp();
    await t.stage.process('ev', 0, FIRST, 3);
    const listed = t.stateOf('P1').li;
    const second = [at(4, ev('P1', 'consent', null, 4), { reset: 'consent' })];
    const withdrawn = new Map([['P1', { userId: 'alice', offset: 4 }]]);
    t.failCommit();
    await expect(t.stage.process('ev', 0, second, 4, withdrawn)).rejects.toThrow('connection lost');
    t.calls.length = 0;
    expect(await t.stage.process('ev', 0, second, 4, withdrawn)).toEqual([]);
    expect(t.calls).toEqual([`clear P1 ${listed.join(',')}`, 'commit P1']);
    expect(t.holdersOf('P1')).toEqual([]);
  });

  it('a reset then events in one micro-batch: a fresh profile gets a new list, its holders replace the old ones', async () => {
    const t = setUp();
    await t.stage.process('ev', 0, FIRST, 3);
    const second = [at(4, ev('P1', 'consent', null, 4), { reset: 'consent' }), at(5, ev('P1', 'purchase', 'c', 5))];
    const out = await t.stage.process('ev', 0, second, 5);
    expect(out.map((r) => r.key)).toEqual(['alice']);
    const s = t.stateOf('P1');
    expect(s.h.i).toEqual(['c']); // a and b are gone with the reset
    expect(t.holdersOf('P1')).toEqual([...s.li].sort());
    expect(t.recs.get('P1')!.items.map((i) => i.itemId)).toEqual(s.li);
  });

  it('anonymous events load and store no user state, and are not learned per user', async () => {
    const t = setUp();
    const out = await t.stage.process('ev', 0, [at(0, ev('P3', 'purchase', 'a', 0), { anonymous: true }), at(1, ev('P3', 'purchase', 'b', 1), { anonymous: true })], 1);
    expect(out).toEqual([]);
    expect(t.users.has('P3')).toBe(false);
    expect(t.rec.similarity('a', 'b')).toBe(0);
  });
});
