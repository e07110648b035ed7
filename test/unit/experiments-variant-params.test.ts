/**
 * Variant params: an experiment's variants share the worker's one model (Recommender.variant), so the file
 * accepts only the settings that rank a list; and a variant over a shared model ranks as a recommender of its
 * own strategy and settings trained on the same events would.
 */
import { describe, expect, it } from 'vitest';
import type { CatalogItem, UserEvent } from '../../src/domain/events.js';
import { ExperimentsFileError, parseExperiments } from '../../src/experiments/file.js';
import { mergeConfig, type RecommenderConfigInput } from '../../src/stages/recommend/model/config.js';
import { Recommender, strategyLabel, type LearnRecord } from '../../src/stages/recommend/model/recommender.js';
import { hybridStrategy } from '../../src/stages/recommend/model/strategy/hybrid.js';
import { collaborativeStrategy } from '../../src/stages/recommend/model/strategy/single-source.js';
import { strategyByName } from '../../src/stages/recommend/model/strategy/strategies.js';

const ALLOWED_TEXT = 'a variant may change blend, diversity, filters.purchasedWithinMs and buyAgain.enabled|minPurchases|minGapMs|halfLifeMs';

/** A file with one variant's params on line 5, given in flow style. */
const withParams = (params: string) =>
  `experiments:\n  ab:\n    variants:\n      a: { strategy: hybrid, share: 0.5 }\n      b: { strategy: hybrid, share: 0.5, params: ${params} }\n`;

function refusal(text: string): ExperimentsFileError {
  try {
    parseExperiments(text, 'exp.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ExperimentsFileError);
    return err as ExperimentsFileError;
  }
  throw new Error('the file was accepted');
}

describe('variant params in the experiments file', () => {
  it.each([
    ['{ collaborative: { neighbours: 10 } }', 'collaborative', 'params.collaborative'],
    ['{ filters: { excludeCategories: [x] } }', 'filters', 'params.filters.excludeCategories'],
    ['{ filters: { includeCategories: [x] } }', 'filters', 'params.filters.includeCategories'],
    ['{ buyAgain: { eventTypes: [purchase] } }', 'buyAgain', 'params.buyAgain.eventTypes'],
    ['{ buyAgain: { maxItems: 5 } }', 'buyAgain', 'params.buyAgain.maxItems'],
    ['{ content: { enabled: false } }', 'content', 'params.content'],
    ['{ trending: { halfLifeMs: 1000 } }', 'trending', 'params.trending'],
    ['{ limits: { maxItems: 10 } }', 'limits', 'params.limits'],
  ])('refuses %s at its line:col, naming the setting and what a variant may change', (params, key, setting) => {
    const text = withParams(params);
    const err = refusal(text);
    expect(err.errors).toHaveLength(1);
    const [p] = err.errors;
    expect(p.line).toBe(5);
    // at the setting, inside the params (the key of the model's part the setting belongs to)
    const line = text.split('\n')[4];
    expect(p.col).toBe(line.indexOf(`${key}:`, line.indexOf('params:')) + 1);
    expect(p.message).toContain(`${setting} cannot differ between variants`);
    expect(p.message).toContain(ALLOWED_TEXT);
    expect(err.message).toContain(`exp.yaml:5:${p.col}: experiment "ab": ${setting} cannot differ between variants`);
  });

  it('reports every refused setting of a variant', () => {
    const err = refusal(withParams('{ buyAgain: { maxItems: 5, eventTypes: [x], minGapMs: 0 }, limits: { maxItems: 3 }, blend: { content: 0 } }'));
    expect(err.errors.map((e) => e.message.split(' cannot')[0]).sort()).toEqual(['params.buyAgain.eventTypes', 'params.buyAgain.maxItems', 'params.limits']);
  });

  it('refuses an unknown setting, listing the recommender\'s settings', () => {
    const err = refusal(withParams('{ blnd: { content: 0 } }'));
    expect(err.errors[0]).toMatchObject({ line: 5 });
    expect(err.errors[0].message).toMatch(/unknown recommender setting "blnd"; allowed: .*blend.*diversity/);
  });

  it.each([
    ['{ blend: { collaborative: 0.9, content: 0.1, buyAgain: 0.5, trending: 0.2, seedItems: 3, seedDecay: 0.5 } }', { blend: { collaborative: 0.9, content: 0.1, buyAgain: 0.5, trending: 0.2, seedItems: 3, seedDecay: 0.5 } }],
    ['{ diversity: { mode: mmr, mmrLambda: 0.5, categoryCap: 2 } }', { diversity: { mode: 'mmr', mmrLambda: 0.5, categoryCap: 2 } }],
    ['{ filters: { purchasedWithinMs: 0 } }', { filters: { purchasedWithinMs: 0 } }],
    ['{ buyAgain: { minGapMs: 3600000 } }', { buyAgain: { minGapMs: 3_600_000 } }],
    ['{ buyAgain: { enabled: false, minPurchases: 2, halfLifeMs: 1000 } }', { buyAgain: { enabled: false, minPurchases: 2, halfLifeMs: 1000 } }],
    ['{ blend: { buyAgain: 0.5 }, diversity: { mode: none }, filters: { purchasedWithinMs: 5 }, buyAgain: { minGapMs: 0 } }', { blend: { buyAgain: 0.5 }, diversity: { mode: 'none' }, filters: { purchasedWithinMs: 5 }, buyAgain: { minGapMs: 0 } }],
  ])('accepts %s', (params, want) => {
    const [e] = parseExperiments(withParams(params)).experiments;
    expect(e.variants[1].params).toEqual(want);
    expect(e.variants[0].params).toEqual({});
  });

  it('still checks allowed settings against the schema', () => {
    const err = refusal(withParams('{ filters: { purchasedWithinMs: -1 } }'));
    expect(err.errors[0].message).toMatch(/^params\.filters\.purchasedWithinMs: /);
  });
});

// --- Recommender.variant ---------------------------------------------------------------------------------------

const DAY = 86_400_000;
const WORDS = ['lamp', 'mug', 'scarf', 'tea', 'candle', 'chair'];
const COLOURS = ['red', 'blue', 'green', 'black'];
const CATS = ['home', 'kitchen', 'wear'];
const CATALOG: CatalogItem[] = Array.from({ length: 24 }, (_, i) => ({
  itemId: `i${i}`,
  title: `${COLOURS[i % 4]} ${WORDS[i % 6]}`,
  categories: [CATS[i % 3]],
  tags: [],
  price: 1,
  available: true,
  deleted: false,
  updatedAt: 0,
}));

/** A small seeded generator (LCG), so the event stream is the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

let seq = 0;
function ev(userId: string, itemId: string, type: UserEvent['type'], t: number): UserEvent {
  return {
    eventId: `e${seq++}`, userId, type, eventTime: t, itemId, quantity: 1, price: 1, rating: null, sessionId: null,
    context: { device: null, country: Number(userId.slice(1)) % 2 ? 'France' : 'UK', referrer: null, userAgent: null }, properties: {},
  };
}

/** Users who mostly stay within a group of items (so co-occurrence has structure), with some repeat purchases. */
function events(seed: number, n: number, from: number): UserEvent[] {
  const rnd = lcg(seed);
  const out: UserEvent[] = [];
  let t = from;
  for (let k = 0; k < n; k++) {
    const u = Math.floor(rnd() * 16);
    const group = u % 4;
    const item = rnd() < 0.8 ? group * 6 + Math.floor(rnd() * 6) : Math.floor(rnd() * 24);
    const type = rnd() < 0.6 ? 'view' : rnd() < 0.5 ? 'add_to_cart' : 'purchase';
    out.push(ev(`u${u}`, `i${item}`, type, (t += 600_000 + Math.floor(rnd() * 3_600_000))));
  }
  return out;
}

const USERS = [...Array.from({ length: 16 }, (_, u) => `u${u}`), 'never-seen'];
const BASE: RecommenderConfigInput = { diversity: { mode: 'category-cap', categoryCap: 4 } };

/** Trains a recommender the way the worker does: catalog, micro-batches, then single events. */
function train(rec: Recommender, batch: readonly LearnRecord[], single: readonly UserEvent[]): Recommender {
  for (const item of CATALOG) rec.upsertItem(item);
  for (let k = 0; k < batch.length; k += 25) rec.learnBatch(batch.slice(k, k + 25));
  for (const e of single) rec.learn(e);
  return rec;
}

const lists = (recommend: (u: string) => Array<{ itemId: string; score: number }>) => USERS.map((u) => recommend(u));

describe('Recommender.variant', () => {
  const t0 = Date.UTC(2027, 0, 1);
  const first: LearnRecord[] = [...events(1, 300, t0), { reset: true, userId: 'u3' }, ...events(2, 40, t0 + 200 * DAY)];
  const single = events(3, 60, t0 + 400 * DAY);
  const later = events(4, 150, t0 + 500 * DAY);

  it('collaborative over a hybrid recommender\'s model ranks as a collaborative recommender trained on the same events', () => {
    const base = train(new Recommender(BASE), first, single);
    const ref = train(new Recommender(BASE, { strategy: collaborativeStrategy }), first, single);
    const variant = base.variant(strategyByName('collaborative'));
    expect(strategyLabel(variant.strategy)).toBe('collaborative-v1');
    const got = lists((u) => variant.recommend(u, { n: 10 }));
    expect(got).toEqual(lists((u) => ref.recommend(u, { n: 10 })));
    // not trivially: the lists are not empty, and the hybrid's differ
    expect(got.filter((l) => l.length > 0).length).toBeGreaterThan(10);
    expect(got).not.toEqual(lists((u) => base.recommend(u, { n: 10 })));
    // with the request's options too
    const now = t0 + 450 * DAY;
    expect(USERS.map((u) => variant.recommend(u, { n: 4, now, country: 'France' }))).toEqual(USERS.map((u) => ref.recommend(u, { n: 4, now, country: 'France' })));
    // and it stays equal as both learn more
    for (const e of later) {
      base.learn(e);
      ref.learn(e);
    }
    expect(lists((u) => variant.recommend(u, { n: 10 }))).toEqual(lists((u) => ref.recommend(u, { n: 10 })));
  });

  it('other blend weights over the hybrid change the scores, share the model, and leave the recommender as it was', () => {
    const blend: RecommenderConfigInput = { blend: { collaborative: 0.05, content: 1.5, trending: 0.6 } };
    const base = train(new Recommender(BASE), first, single);
    const plain = train(new Recommender(BASE), first, single);
    const ref = train(new Recommender(mergeConfig(BASE, blend)), first, single);
    const variant = base.variant(hybridStrategy, blend);
    expect(strategyLabel(variant.strategy)).toBe('hybrid-v1');

    const before = lists((u) => variant.recommend(u, { n: 10 }));
    expect(before).toEqual(lists((u) => ref.recommend(u, { n: 10 })));
    const hybrid = lists((u) => base.recommend(u, { n: 10 }));
    expect(before).not.toEqual(hybrid);
    // the scores, not only the order, differ for some user with history
    const scores = (l: Array<{ itemId: string; score: number }>) => l.map((x) => `${x.itemId}:${x.score}`);
    expect(before.some((l, k) => l.length > 0 && scores(l).join() !== scores(hybrid[k]).join())).toBe(true);
    // making a variant changes nothing for the recommender's own strategy or config
    expect(hybrid).toEqual(lists((u) => plain.recommend(u, { n: 10 })));
    expect(base.cfg.blend).toEqual(plain.cfg.blend);

    // the model is shared: what the recommender learns, the variant ranks from
    for (let k = 0; k < later.length; k += 30) {
      base.learnBatch(later.slice(k, k + 30));
      ref.learnBatch(later.slice(k, k + 30));
    }
    const after = lists((u) => variant.recommend(u, { n: 10 }));
    expect(after).not.toEqual(before);
    expect(after).toEqual(lists((u) => ref.recommend(u, { n: 10 })));
    // a catalog change too: an item made unavailable leaves the variant's lists
    const top = after.find((l) => l.length > 0)![0].itemId;
    base.upsertItem({ ...CATALOG.find((i) => i.itemId === top)!, available: false });
    expect(lists((u) => variant.recommend(u, { n: 10 })).flat().map((x) => x.itemId)).not.toContain(top);
  });

  it('a variant\'s filters.purchasedWithinMs decides whether the user\'s recent purchases come back', () => {
    const rec = new Recommender({ diversity: { mode: 'none' }, buyAgain: { enabled: false } });
    for (const item of CATALOG) rec.upsertItem(item);
    const t = Date.UTC(2027, 5, 1);
    // i1 is bought with i0 by others; "me" bought i1 an hour ago and then looked at i0
    for (let u = 0; u < 4; u++) {
      rec.learn(ev(`o${u}`, 'i0', 'purchase', t + u * 10));
      rec.learn(ev(`o${u}`, 'i1', 'purchase', t + u * 10 + 1));
    }
    rec.learn(ev('me', 'i1', 'purchase', t + 100));
    rec.learn(ev('me', 'i0', 'view', t + 200));
    const now = t + 3_600_000;
    const ids = (v: { recommend: Recommender['recommend'] }) => v.recommend('me', { n: 10, now }).map((x) => x.itemId);
    expect(ids(rec)).not.toContain('i1');
    expect(ids(rec.variant(collaborativeStrategy))).not.toContain('i1');
    expect(ids(rec.variant(collaborativeStrategy, { filters: { purchasedWithinMs: 0 } }))).toContain('i1');
  });
});
