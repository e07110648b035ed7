import { describe, expect, it } from 'vitest';
import type { CatalogItem, UserEvent } from '../../src/domain/events.js';
import { parseRecommenderConfig, RecommenderConfigSchema } from '../../src/stages/recommend/model/config.js';
import { Recommender } from '../../src/stages/recommend/model/recommender.js';

const DAY = 86_400_000;
let seq = 0;
function ev(userId: string, itemId: string, t: number, country = 'UK', type: UserEvent['type'] = 'purchase'): UserEvent {
  return {
    eventId: `e${seq++}`, userId, type, eventTime: t, itemId, quantity: 1, price: 1, rating: null,
    sessionId: null, context: { device: null, country, referrer: null, userAgent: null }, properties: {},
  };
}
function item(itemId: string, title: string, categories: string[], over: Partial<CatalogItem> = {}): CatalogItem {
  return { itemId, title, categories, tags: [], price: 1, available: true, deleted: false, updatedAt: 0, ...over };
}
const CATALOG = [
  item('mug-red', 'RED SPOTTY MUG', ['kitchen']),
  item('mug-blue', 'BLUE SPOTTY MUG', ['kitchen']),
  item('plate-red', 'RED SPOTTY PLATE', ['kitchen']),
  item('bag-red', 'RED SPOTTY BAG', ['bags']),
  item('lantern', 'WHITE METAL LANTERN', ['lights']),
  item('candle', 'WHITE PILLAR CANDLE', ['lights']),
  item('fr-only', 'FRENCH CHEESE BOARD', ['kitchen']),
];

function trained(cfg = {}) {
  const r = new Recommender(cfg);
  for (const c of CATALOG) r.upsertItem(c);
  let t = 0;
  // baskets: mug-red + plate-red bought together by many; lantern + candle together
  for (let u = 0; u < 6; u++) {
    r.learn(ev(`u${u}`, 'mug-red', (t += 1000)));
    r.learn(ev(`u${u}`, 'plate-red', (t += 1000)));
  }
  for (let u = 6; u < 9; u++) {
    r.learn(ev(`u${u}`, 'lantern', (t += 1000)));
    r.learn(ev(`u${u}`, 'candle', (t += 1000)));
  }
  for (let u = 20; u < 23; u++) r.learn(ev(`f${u}`, 'fr-only', (t += 1000), 'France'));
  return { r, t };
}

describe('hybrid recommender', () => {
  it('config has defaults for every knob (the tuned 0.6 / 0.3 blend)', () => {
    const c = parseRecommenderConfig();
    expect(c.blend.collaborative).toBe(0.6);
    expect(c.blend.content).toBe(0.3);
    expect(c.blend.seedDecay).toBe(0.5);
    expect(c.collaborative.recency).toBe('position');
    expect(c.collaborative.historySize).toBe(20);
    expect(c.collaborative.neighbours).toBe(50);
    expect(() => RecommenderConfigSchema.parse({ collaborative: { historySize: 0 } })).toThrow();
  });

  it('recommends co-purchased items with a "bought together" reason, and content neighbours as "similar to"', () => {
    const { r, t } = trained();
    r.learn(ev('new', 'mug-red', t + 10 * DAY));
    const recs = r.recommend('new', { n: 5, now: t + 10 * DAY });
    expect(recs[0].itemId).toBe('plate-red');
    expect(recs[0].reasons[0]).toMatchObject({ kind: 'bought_together', relatedItemId: 'mug-red', text: 'bought together with RED SPOTTY MUG' });
    const blue = recs.find((x) => x.itemId === 'mug-blue');
    expect(blue?.reasons.some((x) => x.kind === 'similar' && x.relatedItemId === 'mug-red')).toBe(true);
    for (const x of recs) expect(x.reasons.length).toBeGreaterThan(0);
    // the item bought just now is filtered (purchased within the window, buy-again not yet due)
    expect(recs.some((x) => x.itemId === 'mug-red')).toBe(false);
  });

  it('buy again: a repeat item comes back after the minimum gap with "you bought this before"', () => {
    const { r, t } = trained({ blend: { buyAgain: 5 } });
    r.learn(ev('w', 'lantern', t + DAY));
    r.learn(ev('w', 'lantern', t + 5 * DAY));
    const recs = r.recommend('w', { n: 3, now: t + 30 * DAY });
    expect(recs[0].itemId).toBe('lantern');
    expect(recs[0].reasons[0]).toEqual({ kind: 'buy_again', text: 'you bought this before', relatedItemId: null });
  });

  it('cold user cascade: trending in the user country first, then global', () => {
    const { r } = trained();
    const fr = r.recommend('nobody', { n: 3, country: 'France' });
    expect(fr[0].itemId).toBe('fr-only');
    expect(fr[0].reasons[0]).toMatchObject({ kind: 'trending', text: 'trending in France' });
    const uk = r.recommend('nobody', { n: 3, country: null });
    expect(uk[0].reasons[0].text).toBe('trending now');
    expect(['mug-red', 'plate-red']).toContain(uk[0].itemId);
  });

  it('filters unavailable / deleted items and category rules', () => {
    const { r, t } = trained({ filters: { excludeCategories: ['bags'] } });
    r.upsertItem(item('plate-red', 'RED SPOTTY PLATE', ['kitchen'], { available: false }));
    r.learn(ev('new', 'mug-red', t + DAY));
    const recs = r.recommend('new', { n: 10, now: t + DAY });
    const ids = recs.map((x) => x.itemId);
    expect(ids).not.toContain('plate-red');
    expect(ids).not.toContain('bag-red');
    expect(r.isRecommendable('plate-red')).toBe(false);
    const inc = trained({ filters: { includeCategories: ['lights'] } });
    inc.r.learn(ev('new', 'mug-red', inc.t + DAY));
    for (const x of inc.r.recommend('new', { n: 10, now: inc.t + DAY })) expect(['lantern', 'candle']).toContain(x.itemId);
  });

  it('diversity: a per-category cap pushes other categories up; MMR also diversifies', () => {
    const { r, t } = trained({ diversity: { mode: 'category-cap', categoryCap: 1 } });
    r.learn(ev('new', 'mug-red', t + DAY));
    const recs = r.recommend('new', { n: 3, now: t + DAY });
    const cats = recs.map((x) => CATALOG.find((c) => c.itemId === x.itemId)!.categories[0]);
    expect(new Set(cats).size).toBe(cats.length);
    const m = trained({ diversity: { mode: 'mmr', mmrLambda: 0.3 } });
    m.r.learn(ev('new', 'mug-red', m.t + DAY));
    expect(m.r.recommend('new', { n: 3, now: m.t + DAY }).length).toBe(3);
  });

  it('neighbours of the items involved change with a purchase', () => {
    const { r, t } = trained();
    expect(r.neighboursOf('lantern').map((x) => x.itemId)).toEqual(['candle']);
    r.learn(ev('z', 'lantern', t + DAY));
    r.learn(ev('z', 'bag-red', t + DAY));
    expect(r.neighboursOf('lantern').map((x) => x.itemId)).toContain('bag-red');
    expect(r.contentNeighboursOf('mug-red').slice(0, 2).map((x) => x.itemId)).toContain('mug-blue');
  });

  it('is deterministic', () => {
    const a = trained().r.recommend('u1', { n: 5 });
    const b = trained().r.recommend('u1', { n: 5 });
    expect(a).toEqual(b);
  });
});
