/**
 * The holders index never names a user for an item outside the stored `li` (header of stages/recommend/processor.ts,
 * (3)), so the erase sweep, which removes the holders of `li`, removes them all. Checked after every write of a fake
 * store that behaves like Redis (CAS commits, holders sets), through changed lists, resets, a crash after the commit
 * and a replay whose recomputed list differs from the committed one. Also: an unreadable stored state does not block
 * a user's reset.
 */
import { describe, expect, it, vi } from 'vitest';
import { RecommendStage, type RecommendDeps } from '../../src/stages/recommend/processor.js';
import { ListExperiments } from '../../src/stages/recommend/experiments.js';
import { Recommender } from '../../src/stages/recommend/model/recommender.js';
import { loadRecommenderConfig } from '../../src/stages/recommend/model/load-config.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { OffsetEvent } from '../../src/stages/ingest/plan.js';
import type { UserEvent, Recommendations } from '../../src/domain/events.js';
import { log } from '../../src/log.js';
import { testConfig } from '../support/env.js';

const T = Date.UTC(2024, 0, 1);
const ev = (userId: string, type: UserEvent['type'], itemId: string | null, k: number): UserEvent => ({
  eventId: `e${k}`, userId, type, eventTime: T + k * 1000, itemId, quantity: 1, price: 1, rating: null,
  sessionId: null, context: null, properties: {},
});
const at = (offset: number, e: UserEvent, mark: Partial<OffsetEvent> = {}): OffsetEvent => ({ offset, event: e, ...mark });
const buy = (offset: number, u: string, item: string) => at(offset, ev(u, 'purchase', item, offset));

function setUp() {
  const cfg = testConfig();
  const users = new Map<string, { offset: number; state: string }>();
  const holders = new Map<string, Set<string>>();
  const violations: string[] = [];
  let crashAfterCommit = false;
  const li = (u: string): string[] => { const s = users.get(u)?.state; try { return s ? ((JSON.parse(s) as { li?: string[] }).li ?? []) : []; } catch { return []; } };
  const holdersOf = (u: string) => [...holders].filter(([, s]) => s.has(u)).map(([i]) => i).sort();
  /** holders ⊆ li for every user, after every write. */
  const check = (what: string) => {
    for (const u of new Set([...holders.values()].flatMap((s) => [...s]))) {
      const out = holdersOf(u).filter((i) => !li(u).includes(i));
      if (out.length) violations.push(`${what}: ${u} holds ${out.join(',')} outside li`);
    }
  };
  const store = {
    decayEpoch: async (c: number) => c,
    loadUser: async (u: string) => ({ offset: users.get(u)?.offset ?? -1, state: users.get(u)?.state ?? null }),
    commitUser: async (u: string, _f: string, expected: number, next: number, state: string) => {
      if ((users.get(u)?.offset ?? -1) !== expected) throw new Error('conflict');
      users.set(u, { offset: next, state });
      check(`commit ${u}`);
      if (crashAfterCommit) { crashAfterCommit = false; throw new Error('crash after the commit'); }
    },
    applyRows: async () => 0,
    updateHolders: async (u: string, before: string[], after: string[]) => {
      for (const i of before) if (!after.includes(i)) holders.get(i)?.delete(u);
      for (const i of after) { if (!holders.has(i)) holders.set(i, new Set()); holders.get(i)!.add(u); }
      check(`holders ${u}`);
    },
    clearList: async (u: string, items: string[]) => {
      for (const i of items) holders.get(i)?.delete(u);
      check(`clear ${u}`);
    },
  };
  const rec = new Recommender(loadRecommenderConfig(cfg));
  const metrics = createMetrics();
  const stage = new RecommendStage({
      experiments: ListExperiments.none(rec, createMetrics()),
    cfg, rec, metrics, topics: {} as RecommendDeps['topics'], producer: {} as RecommendDeps['producer'],
    codec: { encodeRecommendations: async (r: Recommendations) => Buffer.from(JSON.stringify(r)) } as unknown as RecommendDeps['codec'],
    store: store as unknown as RecommendDeps['store'],
    state: { saveRecommendations: async () => undefined } as unknown as RecommendDeps['state'],
    identities: { resolve: async (ps) => new Map([...ps].map((p) => [p, `real-${p}`])), personalizable: async (ps) => new Set(ps) },
  });
  return { stage, rec, users, holders, holdersOf, li, violations, metrics, crashAfterCommit: () => { crashAfterCommit = true; } };
}

const itemsOf = (out: Awaited<ReturnType<RecommendStage['process']>>, key: string) =>
  (JSON.parse(String(out.find((r) => r.key === key)!.value)) as Recommendations).items.map((i) => i.itemId);

describe('recommend: holders stay within the stored li', () => {
  it('a replay whose recomputed list differs adds the holders of the stored li, not of the recomputed list', async () => {
    const t = setUp();
    await t.stage.process('ev', 0, [buy(0, 'P2', 'a'), buy(1, 'P2', 'b'), buy(2, 'P3', 'a'), buy(3, 'P3', 'c')], 3);
    const batch = [buy(4, 'P1', 'a')];
    await t.stage.process('ev', 0, batch, 4);
    const committed = t.li('P1');
    expect(t.holdersOf('P1')).toEqual([...committed].sort());
    // The model changes under the replay (as when the worker restarts and rebuilds it from rows that hold more).
    t.rec.learnBatch([ev('P9', 'purchase', 'a', 10), ev('P9', 'purchase', 'z', 11), ev('P8', 'purchase', 'a', 12), ev('P8', 'purchase', 'z', 13)]);
    const again = await t.stage.process('ev', 0, batch, 4);
    const recomputed = itemsOf(again, 'real-P1');
    expect(recomputed.filter((i) => !committed.includes(i)).length).toBeGreaterThan(0); // the scenario is real
    expect(t.li('P1')).toEqual(committed); // the replay commits nothing
    expect(t.holdersOf('P1')).toEqual([...committed].sort());
    expect(t.violations).toEqual([]);
  });

  it('a changed list leaves the dropped items before the commit; a crash after the commit is repaired by the replay', async () => {
    const t = setUp();
    await t.stage.process('ev', 0, [buy(0, 'P2', 'a'), buy(1, 'P2', 'b'), buy(2, 'P3', 'a'), buy(3, 'P3', 'c'), buy(4, 'P1', 'a')], 4);
    const first = t.li('P1');
    expect(first.length).toBeGreaterThan(0);
    // P1 buys what it was recommended, and more items appear: its list drops some items and gains others.
    const batch = [...first.map((i, k) => buy(5 + k, 'P1', i)), buy(20, 'P4', 'a'), buy(21, 'P4', 'y'), buy(22, 'P5', 'a'), buy(23, 'P5', 'y')];
    t.crashAfterCommit();
    await expect(t.stage.process('ev', 0, batch, 23)).rejects.toThrow('crash after the commit');
    const second = t.li('P1');
    expect(first.filter((i) => !second.includes(i)).length).toBeGreaterThan(0); // items were dropped
    expect(t.violations).toEqual([]); // the dropped items' holders were left before the commit
    await t.stage.process('ev', 0, batch, 23);
    expect(t.holdersOf('P1')).toEqual([...second].sort()); // the replay added the committed list's holders
    expect(t.violations).toEqual([]);
  });

  it('an erasure after a replay leaves no holders: those of li are all there are', async () => {
    const t = setUp();
    await t.stage.process('ev', 0, [buy(0, 'P2', 'a'), buy(1, 'P2', 'b'), buy(2, 'P1', 'a')], 2);
    t.rec.learnBatch([ev('P9', 'purchase', 'a', 10), ev('P9', 'purchase', 'z', 11)]);
    await t.stage.process('ev', 0, [buy(0, 'P2', 'a'), buy(1, 'P2', 'b'), buy(2, 'P1', 'a')], 2);
    await t.stage.process('ev', 0, [at(3, ev('P1', 'erase', null, 3), { reset: 'erasure' })], 3, new Set(['P1']));
    expect(t.holdersOf('P1')).toEqual([]);
    expect(t.violations).toEqual([]);
  });
});

describe('recommend: an unreadable stored state and a reset', () => {
  const unreadableCount = async (m: ReturnType<typeof createMetrics>) => (await m.unreadableStates.get()).values.reduce((a, v) => a + v.value, 0);

  it('reads the state of a user reset in the micro-batch as empty: the reset and later events apply, counts only in the log', async () => {
    const t = setUp();
    t.users.set('P1', { offset: 2, state: '{"h": broken' });
    const warn = vi.spyOn(log, 'warn').mockImplementation(() => undefined);
    await t.stage.process('ev', 0, [at(3, ev('P1', 'erase', null, 3), { reset: 'erasure' })], 3, new Set(['P1']));
    expect(t.users.get('P1')!.offset).toBe(3);
    expect(JSON.parse(t.users.get('P1')!.state)).toMatchObject({ h: { i: [] }, p: [], lh: '', li: [] });
    await t.stage.process('ev', 0, [at(4, ev('P1', 'consent', null, 4), { reset: 'consent' }), buy(5, 'P1', 'a')], 5);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toEqual({ topic: 'ev', partition: 0, users: 1 });
    warn.mockRestore();
    expect(await unreadableCount(t.metrics)).toBe(1);
    expect(t.users.get('P1')!.offset).toBe(5);
  });

  it('reads a parseable state without the history as unreadable too (a reset user), and keeps failing a user without a reset', async () => {
    const t = setUp();
    t.users.set('P1', { offset: 2, state: '{"lh":"x","li":"ab"}' });
    t.users.set('P2', { offset: 2, state: 'not json' });
    await expect(t.stage.process('ev', 0, [buy(3, 'P2', 'a')], 3)).rejects.toThrow();
    expect(t.users.get('P2')!.offset).toBe(2);
    const warn = vi.spyOn(log, 'warn').mockImplementation(() => undefined);
    await t.stage.process('ev', 0, [at(4, ev('P1', 'erase', null, 4), { reset: 'erasure' })], 4, new Set(['P1']));
    warn.mockRestore();
    expect(t.users.get('P1')!.offset).toBe(4);
  });
});
