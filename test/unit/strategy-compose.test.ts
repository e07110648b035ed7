import { describe, expect, it } from 'vitest';
import type { CatalogItem, UserEvent } from '../../src/domain/events.js';
import { parseRecommenderConfig, type RecommenderConfig } from '../../src/stages/recommend/model/config.js';
import { Recommender } from '../../src/stages/recommend/model/recommender.js';
import { CategoryCap, NoDiversity } from '../../src/stages/recommend/model/strategy/diversity.js';
import { CandidateFilters } from '../../src/stages/recommend/model/strategy/filters.js';
import { emptyPurchaseLog, flattenPurchases } from '../../src/stages/recommend/model/strategy/purchase-log.js';
import { StrategyRanker } from '../../src/stages/recommend/model/strategy/ranker.js';
import { Selection } from '../../src/stages/recommend/model/strategy/selection.js';
import { BuyAgainSource } from '../../src/stages/recommend/model/strategy/sources/buy-again.js';
import { collaborativeSource } from '../../src/stages/recommend/model/strategy/sources/seed-neighbours.js';
import { TrendingSource } from '../../src/stages/recommend/model/strategy/sources/trending.js';
import type { CandidateSource, ScoreRequest, ScoringInputs, Strategy } from '../../src/stages/recommend/model/strategy/types.js';
import { newUserState, recordPurchase } from '../../src/stages/recommend/model/user-state.js';

const DAY = 86_400_000;
let seq = 0;
function ev(userId: string, itemId: string, t: number, country = 'UK'): UserEvent {
  return {
    eventId: `e${seq++}`, userId, type: 'purchase', eventTime: t, itemId, quantity: 1, price: 1, rating: null, sessionId: null,
    context: { device: null, country, referrer: null, userAgent: null }, properties: {},
  };
}
const item = (itemId: string, categories: string[]): CatalogItem =>
  ({ itemId, title: null, categories, tags: [], price: 1, available: true, deleted: false, updatedAt: 0 });

/** Baskets with graded co-occurrence: a is bought with b (5×), c (3×), d (2×), e (1×); f and g are bought alone. */
function trained(strategy?: (cfg: RecommenderConfig, inputs: ScoringInputs) => Strategy): { rec: Recommender; now: number } {
  const rec = new Recommender({ filters: { purchasedWithinMs: 0 }, diversity: { mode: 'none' } }, { strategy });
  for (const id of 'abcdefg') rec.upsertItem(item(id, [`cat-${id}`]));
  let t = 0;
  let u = 0;
  for (const [other, times] of [['b', 5], ['c', 3], ['d', 2], ['e', 1]] as const) {
    for (let k = 0; k < times; k++, u++) {
      rec.learn(ev(`u${u}`, 'a', (t += 1000)));
      rec.learn(ev(`u${u}`, other, (t += 1000)));
    }
  }
  for (let k = 0; k < 4; k++) rec.learn(ev(`g${k}`, 'g', (t += 1000), 'France'));
  rec.learn(ev('f0', 'f', (t += 1000), 'France'));
  rec.learn(ev('me', 'a', (t += 1000)));
  return { rec, now: t };
}

const onlySources =
  (name: string, build: (cfg: RecommenderConfig, inputs: ScoringInputs) => CandidateSource[]) =>
  (cfg: RecommenderConfig, inputs: ScoringInputs): Strategy => ({
    name,
    version: 1,
    sources: build(cfg, inputs),
    filters: new CandidateFilters(cfg, inputs.blocked),
    diversity: new NoDiversity(),
  });

describe('strategies composed from the parts', () => {
  it('a collaborative-only strategy ranks by the seeds’ collaborative neighbours, with only their reasons', () => {
    const { rec, now } = trained(onlySources('collaborative', (cfg, i) => [collaborativeSource(cfg, i)]));
    const got = rec.recommend('me', { n: 10, now });
    expect(got.map((x) => x.itemId)).toEqual(['b', 'c', 'd', 'e']);
    expect(got.map((x) => x.itemId)).toEqual(rec.neighboursOf('a').map((x) => x.itemId));
    // normalised by the maximum: the best candidate scores the source's full weight
    expect(got[0].score).toBeCloseTo(0.6, 12);
    for (const x of got) expect(x.reasons).toEqual([{ kind: 'bought_together', text: 'bought together with a', relatedItemId: 'a' }]);
  });

  it('a trending-only strategy gives a cold user what the hybrid gives (trending is all a cold user has)', () => {
    const trending = trained(onlySources('trending', (cfg, i) => [new TrendingSource(i, cfg.blend.trending)]));
    const hybrid = trained();
    const opts = { n: 10, now: trending.now, country: 'France' };
    const got = trending.rec.recommend('stranger', opts);
    expect(got.map((x) => x.itemId)).toEqual(['g', 'f', 'a', 'b', 'c', 'd', 'e']);
    expect(got).toEqual(hybrid.rec.recommend('stranger', opts));
    expect(got[0].reasons).toEqual([{ kind: 'trending', text: 'trending in France', relatedItemId: null }]);
  });

  it('blends any number of sources: two slots, the score is the sum of the weighted parts', () => {
    const { rec, now } = trained(onlySources('two', (cfg, i) => [collaborativeSource(cfg, i), new TrendingSource(i, 0.5)]));
    const raw = rec.recommendRaw('me', 10, { now });
    expect(raw.map((x) => rec.items.name(x.item))).toEqual(['b', 'c', 'd', 'e', 'a', 'g', 'f']);
    for (const x of raw) {
      expect(x.parts).toHaveLength(2);
      expect(x.score).toBe(x.parts[0] + x.parts[1]);
    }
    // a, g and f are trending-only (the window filter is off, so the seed itself may come back): at most 0.5
    for (const x of raw.slice(4)) {
      expect(x.parts[0]).toBe(0);
      expect(x.score).toBeGreaterThan(0);
      expect(x.score).toBeLessThanOrEqual(0.5);
    }
  });

  it('a buy-again-only strategy recommends the user’s due repeat purchases', () => {
    const { rec, now } = trained(onlySources('buy-again', (cfg) => [new BuyAgainSource(cfg.buyAgain, 1)]));
    expect(rec.recommend('me', { n: 10, now })).toEqual([]); // bought today: not due
    const later = rec.recommend('me', { n: 10, now: now + 2 * DAY });
    expect(later.map((x) => [x.itemId, x.score, x.reasons.map((r) => r.kind)])).toEqual([['a', 1, ['buy_again']]]);
  });

  it('refuses a bounded source before an unbounded one and a reason order that does not name each source', () => {
    const cfg = parseRecommenderConfig({});
    const { rec } = trained();
    const inputs = { blocked: () => false } as unknown as ScoringInputs;
    const base = { name: 'x', version: 1, filters: new CandidateFilters(cfg, () => false), diversity: new NoDiversity() };
    const tr = new TrendingSource(inputs, 0.1);
    const co = collaborativeSource(cfg, { ...inputs, collab: rec.collaborative.neighbours });
    expect(() => new StrategyRanker({ ...base, sources: [tr, co] })).toThrow(/bounded sources must come last/);
    expect(() => new StrategyRanker({ ...base, sources: [co, tr], reasonOrder: ['trending'] })).toThrow(/reasonOrder/);
    expect(() => new StrategyRanker({ ...base, sources: [co, tr], reasonOrder: ['trending', 'trending'] })).toThrow(/reasonOrder/);
  });
});

describe('strategy parts', () => {
  const cfg = parseRecommenderConfig({});
  const req = (over: Partial<ScoreRequest>): ScoreRequest => {
    const r: ScoreRequest = { user: undefined, now: 10 * DAY, itemCount: 16, country: null, device: null, segments: [], cold: true, purchases: emptyPurchaseLog(), explain: false, exclude: undefined, ...over };
    flattenPurchases(r.user, r.purchases);
    return r;
  };

  it('filters: blocked items, and items bought within the window unless buy-again applies', () => {
    const f = new CandidateFilters(cfg, (i) => i === 1);
    const user = newUserState();
    const now = 10 * DAY;
    recordPurchase(user.purchases, 2, now - 3_600_000, 100); // this order: filtered
    recordPurchase(user.purchases, 3, now - 3 * DAY, 100); // outside the window
    f.prepare(req({ user, now }));
    expect([0, 1, 2, 3].map((i) => f.passes(i))).toEqual([true, false, false, true]);
    const off = new CandidateFilters(parseRecommenderConfig({ filters: { purchasedWithinMs: 0 } }), () => false);
    off.prepare(req({ user, now }));
    expect(off.passes(2)).toBe(true);
  });

  it('selection pops best first (ties by id), skipping filtered candidates, at most the limit', () => {
    const f = new CandidateFilters(cfg, (i) => i === 4);
    f.prepare(req({}));
    const sel = new Selection();
    const cands: Array<[number, number]> = [[5, 0.2], [4, 0.9], [3, 0.5], [7, 0.5], [1, 0.7]];
    sel.reserve(cands.length);
    cands.forEach(([c, s], i) => ((sel.heapIds[i] = c), (sel.heapSc[i] = s)));
    sel.build(cands.length, 3, f);
    expect(sel.pull(2)).toBe(true);
    expect(sel.pull(3)).toBe(false);
    expect([...sel.ids.subarray(0, 3)]).toEqual([1, 3, 7]);
  });

  it('category cap keeps at most cap of a category, then fills with the best capped ones in rank order', () => {
    const f = new CandidateFilters(cfg, () => false);
    f.prepare(req({}));
    const sel = new Selection();
    // ids 0..5 ranked by id; categories: 0, 1, 2 → cat 9; 3 → cat 8; 4, 5 → cat 9
    const cat = [9, 9, 9, 8, 9, 9];
    sel.reserve(6);
    for (let i = 0; i < 6; i++) ((sel.heapIds[i] = i), (sel.heapSc[i] = 1 - i / 10));
    const capped = new CategoryCap(2, (i) => cat[i]);
    sel.build(6, capped.poolSize(4), f);
    const out = new Int32Array(4);
    const len = capped.select(sel, 4, out);
    expect([...out.subarray(0, len)].map((at) => sel.ids[at])).toEqual([0, 1, 2, 3]);
    const sel2 = new Selection();
    sel2.reserve(6);
    for (let i = 0; i < 6; i++) ((sel2.heapIds[i] = i), (sel2.heapSc[i] = 1 - i / 10));
    sel2.build(6, capped.poolSize(3), f);
    expect([...out.subarray(0, capped.select(sel2, 3, out))].map((at) => sel2.ids[at])).toEqual([0, 1, 3]);
  });
});
