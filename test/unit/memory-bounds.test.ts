/**
 * What input can make the in-memory recommender hold is bounded: item ids past limits.maxItems are refused (not
 * learned, not evicted), country scopes past limits.maxCountryScopes are not created, and a request for a country
 * never creates one.
 */
import { describe, expect, it } from 'vitest';
import type { UserEvent } from '../../src/domain/events.js';
import { Recommender } from '../../src/stages/recommend/model/recommender.js';
import { IdInterner } from '../../src/stages/recommend/model/interner.js';
import { loadRecommenderConfig } from '../../src/stages/recommend/model/load-config.js';
import { loadConfig } from '../../src/config/config.js';

const T0 = Date.UTC(2024, 0, 1);
let seq = 0;
const buy = (userId: string, itemId: string, country: string | null = null): UserEvent => ({
  eventId: `e${seq++}`, userId, type: 'purchase', eventTime: T0 + seq * 1000, itemId, quantity: 1, price: 1, rating: null,
  sessionId: null, context: country ? { device: null, country, referrer: null, userAgent: null } : null, properties: {},
});

describe('the bounded interner', () => {
  it('accepts names up to its size, then refuses new ones and keeps answering known ones', () => {
    const i = new IdInterner(3);
    expect(['a', 'b', 'c'].map((x) => i.tryIntern(x))).toEqual([0, 1, 2]);
    expect(i.tryIntern('d')).toBe(-1);
    expect(i.tryIntern('b')).toBe(1);
    expect(i.size).toBe(3);
    expect(i.refused).toBe(1);
  });
});

describe('the recommender under a flood of unknown ids', () => {
  it('learns at most limits.maxItems items and still recommends from them', () => {
    const r = new Recommender({ limits: { maxItems: 10 } });
    for (let k = 0; k < 1000; k++) r.learnBatch([buy(`u${k % 7}`, `item${k % 3}`), buy(`u${k % 7}`, `junk${k}`)]);
    expect(r.items.size).toBe(10);
    expect(r.items.refused).toBeGreaterThan(900);
    expect(r.similarity('item0', 'item1')).toBeGreaterThan(0);
    for (const x of r.recommend('u1', { n: 5, now: T0 + 2_000_000 })) expect(Number.isFinite(x.score)).toBe(true);
  });

  it('creates at most limits.maxCountryScopes country scopes, and none for a request', () => {
    const r = new Recommender({ limits: { maxItems: 100, maxCountryScopes: 5 } });
    for (let k = 0; k < 500; k++) r.learn(buy(`u${k}`, `item${k % 4}`, `free text ${k}`));
    const learned = r.trending.scopeCount;
    expect(learned).toBeLessThanOrEqual(1 + 5); // global + 5 countries (no categories without a catalog)
    for (let k = 0; k < 500; k++) r.recommend('u1', { n: 5, now: T0 + 2_000_000, country: `request ${k}` });
    expect(r.trending.scopeCount).toBe(learned);
  });

  it('takes the item cap from ATTUNE_MAX_ITEMS', () => {
    const cfg = loadConfig({ ATTUNE_MAX_ITEMS: '1234' });
    expect(loadRecommenderConfig(cfg).limits.maxItems).toBe(1234);
    expect(new Recommender(loadRecommenderConfig(cfg)).items.maxSize).toBe(1234);
    expect(loadRecommenderConfig(loadConfig({})).limits.maxItems).toBe(1_000_000);
  });

  it('takes the pair bound from ATTUNE_MAX_PAIRS, and a recommender learning from input holds no more pairs', () => {
    const cfg = loadConfig({ ATTUNE_MAX_PAIRS: '2000' });
    const r = new Recommender(loadRecommenderConfig(cfg));
    expect(r.collaborative.state.maxPairs).toBe(2000);
    for (let k = 0; k < 3000; k++) r.learn(buy(`u${k % 40}`, `item${(k * 7919) % 600}`, 'x'));
    expect(r.collaborative.state.prunes).toBeGreaterThan(0);
    expect(r.collaborative.state.pairCount).toBeLessThanOrEqual(2000);
    expect(loadRecommenderConfig(loadConfig({})).limits.maxPairs).toBe(8_388_608);
  });
});
