/**
 * The recommend stage's live-quality and list-outcome counts (attune_online_*_total, attune_recommendation_lists_total
 * {outcome="unchanged"}): a purchase is checked against the list the user was last emitted, before it changes the
 * user; users without an emitted list are not counted; a recomputed list equal to the last emitted one is counted
 * unchanged (and not emitted); a replayed micro-batch counts nothing again. Also the pure check itself.
 */
import { describe, expect, it } from 'vitest';
import { RecommendStage, type RecommendDeps } from '../../src/stages/recommend/processor.js';
import { ListExperiments } from '../../src/stages/recommend/experiments.js';
import { Recommender } from '../../src/stages/recommend/model/recommender.js';
import { loadRecommenderConfig } from '../../src/stages/recommend/model/load-config.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { onlineInteractions } from '../../src/stages/recommend/online-quality.js';
import type { OffsetEvent } from '../../src/stages/ingest/plan.js';
import type { UserEvent, Recommendations } from '../../src/domain/events.js';
import { testConfig } from '../support/env.js';

const T = Date.UTC(2024, 0, 1);
const ev = (userId: string, type: UserEvent['type'], itemId: string | null, time: number): UserEvent => ({
  eventId: `e${userId}${time}${type}${itemId}`, userId, type, eventTime: T + time * 1000, itemId, quantity: 1, price: 1, rating: null,
  sessionId: null, context: null, properties: {},
});
const at = (offset: number, e: UserEvent, mark: Partial<OffsetEvent> = {}): OffsetEvent => ({ offset, event: e, ...mark });
const buy = (offset: number, u: string, item: string, time = offset) => at(offset, ev(u, 'purchase', item, time));

/** A RecommendStage over an in-memory store that behaves like Redis for what the stage does (CAS commits). */
function setUp() {
  const cfg = testConfig();
  const users = new Map<string, { offset: number; state: string }>();
  const store = {
    decayEpoch: async (c: number) => c,
    loadUser: async (u: string) => ({ offset: users.get(u)?.offset ?? -1, state: users.get(u)?.state ?? null }),
    commitUser: async (u: string, _f: string, expected: number, next: number, state: string) => {
      if ((users.get(u)?.offset ?? -1) !== expected) throw new Error('conflict');
      users.set(u, { offset: next, state });
    },
    applyRows: async () => 0,
    updateHolders: async () => undefined,
    clearList: async () => undefined,
  };
  const metrics = createMetrics();
  const rec = new Recommender(loadRecommenderConfig(cfg));
  const stage = new RecommendStage({
    cfg, rec, metrics, experiments: ListExperiments.none(rec, metrics), topics: {} as RecommendDeps['topics'], producer: {} as RecommendDeps['producer'],
    codec: { encodeRecommendations: async (r: Recommendations) => Buffer.from(JSON.stringify(r)) } as unknown as RecommendDeps['codec'],
    store: store as unknown as RecommendDeps['store'],
    state: { saveRecommendations: async () => undefined } as unknown as RecommendDeps['state'],
    identities: { resolve: async (ps) => new Map([...ps].map((p) => [p, `real-${p}`])), personalizable: async (ps) => new Set(ps) },
  });
  const listOf = (u: string): string[] => (JSON.parse(users.get(u)!.state) as { li: string[] }).li;
  return { stage, metrics, listOf };
}

async function counts(metrics: Metrics) {
  const v = async (c: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number | undefined> }> }> }, labels: Record<string, string>) =>
    (await c.get()).values.filter((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l)).reduce((s, x) => s + x.value, 0);
  return {
    interactions: await v(metrics.onlineInteractions, { type: 'purchase' }),
    hits: await v(metrics.onlineHits, { type: 'purchase' }),
    unchanged: await v(metrics.lists, { outcome: 'unchanged' }),
  };
}

describe('recommend: live quality against the last emitted list', () => {
  it('counts a purchase of a shown item as a hit, one of another item as an interaction only, and nothing before a first list', async () => {
    const t = setUp();
    // Others buy a with b, and a with c: a buyer of a is shown b and c.
    await t.stage.process('ev', 0, [buy(0, 'P2', 'a'), buy(1, 'P2', 'b'), buy(2, 'P3', 'a'), buy(3, 'P3', 'c')], 3);
    expect(await counts(t.metrics)).toMatchObject({ interactions: 0, hits: 0 }); // nobody had a list before
    await t.stage.process('ev', 0, [buy(4, 'P1', 'a')], 4);
    expect(await counts(t.metrics)).toMatchObject({ interactions: 0, hits: 0 }); // P1's first list comes after its first purchase
    const shown = t.listOf('P1');
    expect(shown).toContain('b');
    expect(shown).not.toContain('zz');

    // P1 buys b (shown) and zz (not shown) in one micro-batch: both are checked against the list before it.
    const batch = [buy(5, 'P1', 'b'), buy(6, 'P1', 'zz')];
    await t.stage.process('ev', 0, batch, 6);
    expect(await counts(t.metrics)).toMatchObject({ interactions: 2, hits: 1 });
    // A replay of the same micro-batch (a retry after a crash) is not counted again.
    await t.stage.process('ev', 0, batch, 6);
    expect(await counts(t.metrics)).toMatchObject({ interactions: 2, hits: 1 });
    expect((await t.metrics.onlineHits.get()).values[0].labels).toEqual({ strategy: 'hybrid-v1', type: 'purchase' });
  });

  it('counts a recomputed list equal to the last emitted one as unchanged, and does not emit it', async () => {
    const t = setUp();
    await t.stage.process('ev', 0, [buy(0, 'P2', 'a'), buy(1, 'P2', 'b'), buy(2, 'P3', 'a'), buy(3, 'P3', 'c')], 3);
    const first = await t.stage.process('ev', 0, [buy(4, 'P1', 'a', 10)], 4);
    expect(first.map((r) => r.key)).toEqual(['real-P1']);
    // A removal from the cart (no weight in the model), at the same time: the list P1 is shown stays the same.
    const again = await t.stage.process('ev', 0, [at(5, ev('P1', 'remove_from_cart', 'a', 10))], 5);
    expect(again).toEqual([]);
    expect((await counts(t.metrics)).unchanged).toBe(1);
  });
});

describe('onlineInteractions (pure)', () => {
  const shown = ['x', 'y'];
  it('checks purchases and clicks only, and only while a list is shown', () => {
    const records = [
      at(0, ev('u', 'view', 'x', 0)), at(1, ev('u', 'click', 'x', 1)), at(2, ev('u', 'purchase', 'q', 2)),
      at(3, ev('u', 'add_to_cart', 'y', 3)), at(4, ev('u', 'purchase', 'y', 4)), at(5, ev('u', 'click', null, 5)),
    ];
    expect(onlineInteractions(records, shown)).toEqual([
      { type: 'click', hit: true }, { type: 'purchase', hit: false }, { type: 'purchase', hit: true },
    ]);
    expect(onlineInteractions(records, null)).toEqual([]);
  });
  it('a reset withdraws the list for the user\'s later events', () => {
    const records = [at(0, ev('u', 'purchase', 'x', 0)), at(1, ev('u', 'erase', null, 1), { reset: 'erasure' } as Partial<OffsetEvent>), at(2, ev('u', 'purchase', 'y', 2))];
    expect(onlineInteractions(records, shown)).toEqual([{ type: 'purchase', hit: true }]);
  });
});
