/** The built-in strategies: each source of the hybrid alone, by name, with the hybrid's filters and cold start. */
import { describe, expect, it } from 'vitest';
import type { CatalogItem, UserEvent } from '../../src/domain/events.js';
import type { RecommenderConfigInput } from '../../src/stages/recommend/model/config.js';
import { Recommender, strategyLabel } from '../../src/stages/recommend/model/recommender.js';
import { STRATEGY_NAMES, strategyByName } from '../../src/stages/recommend/model/strategy/strategies.js';

const DAY = 86_400_000;
let seq = 0;
function ev(userId: string, itemId: string, t: number, country = 'UK'): UserEvent {
  return {
    eventId: `e${seq++}`, userId, type: 'purchase', eventTime: t, itemId, quantity: 1, price: 1, rating: null, sessionId: null,
    context: { device: null, country, referrer: null, userAgent: null }, properties: {},
  };
}
const item = (itemId: string, title: string, categories: string[]): CatalogItem =>
  ({ itemId, title, categories, tags: [], price: 1, available: true, deleted: false, updatedAt: 0 });

/**
 * a is bought with b (3×) and c (1×); 'mug red' and 'mug blue' share a title word but are never bought together;
 * g is trending in France; 'me' just bought red and a; 'loyal' bought 'repeat' twice, two days ago.
 */
function trained(name: string, config: RecommenderConfigInput = {}): { rec: Recommender; now: number } {
  const rec = new Recommender({ diversity: { mode: 'none' }, ...config }, { strategy: strategyByName(name) });
  rec.upsertItem(item('a', 'lamp', ['home']));
  rec.upsertItem(item('b', 'shade', ['home']));
  rec.upsertItem(item('c', 'bulb', ['home']));
  rec.upsertItem(item('g', 'scarf', ['wear']));
  rec.upsertItem(item('red', 'mug red', ['kitchen']));
  rec.upsertItem(item('blue', 'mug blue', ['kitchen']));
  rec.upsertItem(item('repeat', 'tea', ['kitchen']));
  let t = 0;
  let u = 0;
  for (const [other, times] of [['b', 3], ['c', 1]] as const) {
    for (let k = 0; k < times; k++, u++) {
      rec.learn(ev(`u${u}`, 'a', (t += 1000)));
      rec.learn(ev(`u${u}`, other, (t += 1000)));
    }
  }
  rec.learn(ev('x', 'blue', (t += 1000)));
  for (let k = 0; k < 5; k++) rec.learn(ev(`g${k}`, 'g', (t += 1000), 'France'));
  rec.learn(ev('loyal', 'repeat', (t += 1000)));
  rec.learn(ev('loyal', 'repeat', (t += 1000)));
  t += 2 * DAY;
  rec.learn(ev('me', 'red', (t += 1000)));
  rec.learn(ev('me', 'a', (t += 1000)));
  // me's purchases are within the filter window (not recommended back), loyal's repeat item is due again
  return { rec, now: t + 1000 };
}

const ids = (rec: Recommender, user: string, now: number, country?: string) =>
  rec.recommend(user, { n: 10, now, country }).map((x) => x.itemId);
const kinds = (rec: Recommender, user: string, now: number) =>
  new Set(rec.recommend(user, { n: 10, now }).flatMap((x) => x.reasons.map((r) => r.kind)));

describe('the built-in strategies', () => {
  it('are known by name, each with the label its lists carry', () => {
    expect(STRATEGY_NAMES).toEqual(['hybrid', 'collaborative', 'content', 'trending', 'buy-again']);
    const labels = STRATEGY_NAMES.map((n) => strategyLabel(new Recommender({}, { strategy: strategyByName(n) }).strategy));
    expect(labels).toEqual(['hybrid-v1', 'collaborative-v1', 'content-v1', 'trending-v1', 'buy-again-v1']);
  });

  it('an unknown name is refused with the list of known ones', () => {
    expect(() => strategyByName('knn')).toThrow("unknown strategy 'knn' (known: hybrid, collaborative, content, trending, buy-again)");
    // not a property of every object
    expect(() => strategyByName('toString')).toThrow(/unknown strategy/);
  });

  it('collaborative: only the co-occurrence neighbours of the recent items, strongest first', () => {
    const { rec, now } = trained('collaborative');
    expect(ids(rec, 'me', now)).toEqual(['b', 'c']);
    expect(kinds(rec, 'me', now)).toEqual(new Set(['bought_together']));
  });

  it('content: only the content neighbours (a shared title word), never co-occurrence', () => {
    const { rec, now } = trained('content');
    const got = ids(rec, 'me', now);
    expect(got).toContain('blue');
    expect(kinds(rec, 'me', now)).toEqual(new Set(['similar']));
  });

  it('buy-again: only the user’s due repeat purchases (min 1 purchase, 1 day ago by default), even when the config turns buy-again off', () => {
    for (const config of [{}, { buyAgain: { enabled: false } }]) {
      const { rec, now } = trained('buy-again', config);
      expect(ids(rec, 'loyal', now)).toEqual(['repeat']);
      expect(kinds(rec, 'loyal', now)).toEqual(new Set(['buy_again']));
      // me's purchases are all from the last day, none due again: the source alone has nothing for them
      expect(ids(rec, 'me', now)).toEqual([]);
    }
  });

  it('trending: in the user’s context for everyone — country first, then the newest item’s category, then global', () => {
    const { rec, now } = trained('trending');
    const got = ids(rec, 'me', now, 'France');
    expect(got[0]).toBe('g');
    expect(kinds(rec, 'me', now)).toEqual(new Set(['trending']));
    // the category of the user's newest item (a: home) ranks above global
    const uk = rec.recommend('me', { n: 10, now, country: 'Nowhere' });
    expect(uk[0].reasons[0].text).toBe('trending in home');
  });

  it('every single-source strategy falls through to trending for a user without history, as the hybrid does', () => {
    const hybrid = trained('hybrid');
    const cold = ids(hybrid.rec, 'stranger', hybrid.now, 'France');
    expect(cold[0]).toBe('g');
    for (const name of ['collaborative', 'content', 'trending', 'buy-again']) {
      const { rec, now } = trained(name);
      expect(ids(rec, 'stranger', now, 'France')).toEqual(cold);
    }
  });

  it('the hybrid’s filters apply: a blocked item is never recommended', () => {
    const { rec, now } = trained('collaborative');
    rec.upsertItem({ ...item('b', 'shade', ['home']), available: false });
    expect(ids(rec, 'me', now)).toEqual(['c']);
  });
});
