/**
 * Input strings that are also the names of Object.prototype members (or of reserved fields) must behave like any
 * other id: categories named `constructor` or `__proto__` get finite affinities of their own, users named
 * `__proto__` keep their state, and co-occurrence row fields of such items can never be read as the norm or an
 * applied offset.
 */
import { describe, expect, it } from 'vitest';
import type { CatalogItem, UserEvent } from '../../src/domain/events.js';
import {
  applyEvent, createFeatureView, emptyFeatureState, parseFeatureState, resolveFeatureConfig, serializeFeatureState,
} from '../../src/stages/segments/features/index.js';
import { PartitionEngine } from '../../src/stages/segments/core/engine.js';
import { compileRules } from '../../src/stages/segments/core/compile.js';
import { parseSegmentRules } from '../../src/stages/segments/core/rules.js';
import { Recommender } from '../../src/stages/recommend/model/recommender.js';
import { Keys } from '../../src/stores/keys.js';
import { parseCoocRow } from '../../src/stages/recommend/store.js';
import { deriveCategoriesAndTags } from '../../src/data/online-retail.js';

export const NASTY = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '_n', 'o:attune.events:3', '{x}', 'a:b', '*', '?', '[', 'i:', 'ünï©ødé ✓'];

const cfg = resolveFeatureConfig();
const T0 = Date.UTC(2024, 0, 1);
let seq = 0;
function ev(t: number, extra: Partial<UserEvent> = {}): UserEvent {
  return {
    eventId: `e${seq++}`, userId: 'u1', type: 'purchase', eventTime: t, itemId: 'i1', quantity: 1, price: 2, rating: null,
    sessionId: null, context: null, properties: {}, ...extra,
  };
}

describe('category names as keys of the feature state', () => {
  it('gives every nasty category a finite affinity of its own, through JSON and structuredClone round trips', () => {
    const cats = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
    let s = emptyFeatureState();
    cats.forEach((c, i) => applyEvent(s, ev(T0 + i * 1000, { properties: { category: c } }), cfg));
    s = parseFeatureState(serializeFeatureState(s));
    applyEvent(s, ev(T0 + 10_000, { properties: { category: 'constructor' } }), cfg);
    s = structuredClone(s);
    applyEvent(s, ev(T0 + 20_000, { properties: { category: '__proto__' } }), cfg);
    const aff = Object.entries(s.aff.s);
    expect(aff.map(([c]) => c).sort()).toEqual([...cats].sort());
    for (const [, v] of aff) expect(Number.isFinite(v) && v > 0).toBe(true);
    expect(Object.keys(s.cs).sort()).toEqual([...cats].sort());
    expect(new Set(Object.values(s.cs)).size).toBe(cats.length);
    const view = createFeatureView(s, cfg);
    for (const c of cats) expect(view.affinityRank(c)).not.toBeNull();
    // Counting by a nasty category finds its own events only (2 for constructor and __proto__, 1 otherwise).
    const now = T0 + 30_000;
    expect(view.count({ category: 'constructor', window: '24h' }, now)).toBe(2);
    expect(view.count({ category: '__proto__', window: '24h' }, now)).toBe(2);
    expect(view.count({ category: 'toString', window: '24h' }, now)).toBe(1);
    expect(view.count({ category: 'valueOf', window: '24h' }, now)).toBe(0);
    expect(view.count({ window: '24h' }, now)).toBe(6);
  });

  it('keeps a user named __proto__ in the reference engine and its snapshot', () => {
    const rules = 'version: 1\nsegments:\n  buyer:\n    when:\n      count: { type: purchase, window: 24h }\n      gte: 1\n';
    const segments = compileRules(parseSegmentRules(rules, cfg), cfg);
    const engine = new PartitionEngine({ features: cfg, segments });
    for (const u of ['__proto__', 'constructor']) {
      const r = engine.process(ev(T0, { userId: u }));
      expect(r.changes.map((c) => [c.userId, c.segmentId, c.change])).toEqual([[u, 'buyer', 'enter']]);
    }
    const snap = engine.snapshot();
    expect(Object.keys(snap.users).sort()).toEqual(['__proto__', 'constructor']);
    const again = new PartitionEngine({ features: cfg, segments, snapshot: snap });
    expect(again.user('__proto__')?.segments).toEqual(['buyer']);
  });
});

describe('the recommender with nasty ids, categories and countries', () => {
  const item = (itemId: string, categories: string[]): CatalogItem =>
    ({ itemId, title: itemId, categories, tags: [], price: 1, available: true, deleted: false, updatedAt: 0 });
  it('learns and recommends them with finite scores, each in its own state', () => {
    const r = new Recommender();
    NASTY.forEach((id, i) => r.upsertItem(item(id, [NASTY[(i + 1) % NASTY.length]!])));
    let t = T0;
    for (const u of NASTY) for (const it of NASTY) r.learn(ev((t += 1000), { userId: u, itemId: it, context: { device: null, country: u, referrer: null, userAgent: null } }));
    for (const u of NASTY) {
      const list = r.recommend(u, { n: 5, now: t, country: u });
      for (const x of list) {
        expect(Number.isFinite(x.score)).toBe(true);
        expect(NASTY).toContain(x.itemId);
      }
    }
    expect(r.items.size).toBe(NASTY.length);
    expect(r.similarity('_n', 'o:attune.events:3')).toBeGreaterThan(0);
  });
});

describe('co-occurrence row fields', () => {
  it('put every item id in the i: namespace, apart from the norm and the offsets', () => {
    const fields: Record<string, string> = Object.create(null);
    for (const [k, id] of NASTY.entries()) fields[Keys.coocItemField(id)] = String(k + 1);
    fields[Keys.COOC_NORM_FIELD] = '0.5';
    fields[Keys.partitionField('attune.events', 3)] = '99';
    const row = parseCoocRow(fields);
    expect(row.norm).toBe(0.5);
    expect(row.pairs).toEqual(NASTY.map((id, k) => [id, k + 1]));
    for (const id of NASTY) {
      expect(Keys.parseCoocField(Keys.coocItemField(id))).toEqual({ kind: 'pair', itemId: id });
      expect(Keys.coocItemField(id)).not.toBe(Keys.COOC_NORM_FIELD);
      expect(Keys.coocItemField(id).startsWith('o:')).toBe(false);
    }
  });
});

describe('catalog keywords of the bundled data set', () => {
  it('do not find prototype members for words such as constructor', () => {
    const d = deriveCategoriesAndTags('CONSTRUCTOR TOSTRING HASOWNPROPERTY');
    for (const c of d.categories) expect(typeof c).toBe('string');
  });
});
