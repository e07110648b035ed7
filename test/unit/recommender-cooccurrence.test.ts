import { describe, expect, it } from 'vitest';
import { CollaborativeModel } from '../../src/stages/recommend/model/collaborative.js';
import { parseRecommenderConfig } from '../../src/stages/recommend/model/config.js';
import { batchDeltas, CoocBatchDelta, EMPTY_HISTORY, interactionDeltas, pairKey, type DeltaParams, type UserHistory } from '../../src/stages/recommend/model/deltas.js';
import { storedRowDeltas } from '../../src/stages/recommend/store.js';
import { NeighbourIndex, asymmetricCosineSim, cosineSim } from '../../src/stages/recommend/model/neighbours.js';

const P: DeltaParams = { historySize: 3, recency: 'none', positionDecay: 1, timeHalfLifeMs: 1 };

function collab(over: Record<string, unknown> = {}) {
  return new CollaborativeModel(parseRecommenderConfig({ collaborative: { recency: 'none', decayHalfLifeMs: 0, ...over } }).collaborative);
}

describe('co-occurrence deltas', () => {
  it('pairs a new item with every history item, weighted by both interaction weights', () => {
    const d = new CoocBatchDelta();
    let h: UserHistory = EMPTY_HISTORY;
    h = interactionDeltas(h, 1, 1, 0, 1, P, d); // view
    h = interactionDeltas(h, 2, 3, 1, 1, P, d); // purchase
    expect(d.pairs.get(pairKey(1, 2))).toBe(3);
    expect(d.norms.get(1)).toBe(1);
    expect(d.norms.get(2)).toBe(9);
    // upgrade of item 1 from view (1) to purchase (3): adds (3 - 1) · 3
    h = interactionDeltas(h, 1, 3, 2, 1, P, d);
    expect(d.pairs.get(pairKey(1, 2))).toBe(9);
    expect(d.norms.get(1)).toBe(9);
    // a repeat of no greater weight only moves the item to the newest end
    h = interactionDeltas(h, 2, 3, 3, 1, P, d);
    expect(d.pairs.get(pairKey(1, 2))).toBe(9);
    expect(h.items).toEqual([1, 2]);
  });

  it('caps the history at H distinct items (bounded work)', () => {
    const d = new CoocBatchDelta();
    let h: UserHistory = EMPTY_HISTORY;
    for (const i of [1, 2, 3, 4, 5]) h = interactionDeltas(h, i, 1, i, 1, P, d);
    expect(h.items).toEqual([3, 4, 5]);
    expect(d.pairs.has(pairKey(1, 5))).toBe(false);
    expect(d.pairs.get(pairKey(3, 5))).toBe(1);
    expect(d.pairs.get(pairKey(2, 4))).toBe(1);
  });

  it('recency weights older history items less', () => {
    const d = new CoocBatchDelta();
    const p: DeltaParams = { ...P, recency: 'time', timeHalfLifeMs: 10 };
    let h: UserHistory = EMPTY_HISTORY;
    h = interactionDeltas(h, 1, 1, 0, 1, p, d);
    h = interactionDeltas(h, 2, 1, 10, 1, p, d);
    expect(d.pairs.get(pairKey(1, 2))).toBeCloseTo(0.5, 12);
  });

  it('a combined micro-batch gives the same state as per-event learning', () => {
    const evs = [
      { userId: 'u', item: 1, weight: 1, time: 1 },
      { userId: 'u', item: 2, weight: 3, time: 2 },
      { userId: 'v', item: 2, weight: 1, time: 3 },
      { userId: 'v', item: 3, weight: 3, time: 4 },
      { userId: 'u', item: 3, weight: 2, time: 5 },
    ];
    const a = collab();
    const hist = new Map<string, UserHistory>();
    for (const e of evs) hist.set(e.userId, a.learn(hist.get(e.userId) ?? EMPTY_HISTORY, e.item, e.weight, e.time));
    const b = collab();
    const delta = batchDeltas(evs, () => undefined, b.scaleAt, b.params);
    b.applyBatch(delta);
    for (const [x, y] of [[1, 2], [2, 3], [1, 3]]) expect(b.sim(x, y)).toBeCloseTo(a.sim(x, y), 12);
    expect(delta.histories.get('u')!.items).toEqual(hist.get('u')!.items);
    // In the stored rows' layout each pair is written once, in the row of its smaller id (string order).
    const names = ['', 'i1', 'i2', 'i10'];
    const rows = storedRowDeltas(delta, (i) => names[i]!);
    expect(rows.get('i10')).toEqual(expect.arrayContaining([['i:i2', delta.pairs.get(pairKey(2, 3))], ['_n', delta.norms.get(3)]]));
    expect(rows.get('i2')!.find(([f]) => f === 'i:i10')).toBeUndefined();
    const fields = [...rows.values()].flat().filter(([f]) => f !== '_n');
    expect(fields).toHaveLength(delta.pairs.size);
  });
});

describe('cosine and neighbour lists', () => {
  it('computes cosine on co-occurrence counts', () => {
    const m = collab({ eventWeights: { purchase: 1 } });
    let u1: UserHistory = EMPTY_HISTORY;
    let u2: UserHistory = EMPTY_HISTORY;
    u1 = m.learn(u1, 0, 1, 1);
    u1 = m.learn(u1, 1, 1, 2);
    u2 = m.learn(u2, 0, 1, 3);
    u2 = m.learn(u2, 2, 1, 4);
    // item 0 bought by 2 users, item 1 by one, co-bought once: 1 / √(2·1)
    expect(m.sim(0, 1)).toBeCloseTo(1 / Math.SQRT2, 12);
    expect(m.neighbours.sorted(0).map((x) => x.item).sort()).toEqual([1, 2]);
    expect(cosineSim(2, 4, 1)).toBe(1);
  });

  it('asymmetric cosine: each list holds C / (N_seed^α · N_candidate^(1−α)), and a popular candidate gains as α grows', () => {
    expect(asymmetricCosineSim(2, 4, 9, 0.5)).toBeCloseTo(cosineSim(2, 4, 9), 12);
    const world = (alpha: number) => {
      const m = collab({ eventWeights: { purchase: 1 }, asymmetry: alpha });
      // item 2 bought by six users alone, then 0 co-bought with 1 by two users and with 2 by three (in this order
      // every list entry is exact at the end: an entry is re-scored when its pair or its list's item is touched)
      let u = 0;
      const buy = (items: number[]) => {
        let h: UserHistory = EMPTY_HISTORY;
        for (const [k, i] of items.entries()) h = m.learn(h, i, 1, u * 10 + k);
        u++;
      };
      for (let k = 0; k < 6; k++) buy([2]);
      for (let k = 0; k < 2; k++) buy([0, 1]);
      for (let k = 0; k < 3; k++) buy([0, 2]);
      return m;
    };
    // N: 0 → 5, 1 → 2, 2 → 9; C(0,1) = 2, C(0,2) = 3
    const cos = world(0.5);
    expect(cos.neighbours.sorted(0).map((x) => x.item)).toEqual([1, 2]); // 2/√10 > 3/√45
    const asym = world(0.8);
    expect(asym.sim(0, 2)).toBeCloseTo(3 / (5 ** 0.8 * 9 ** 0.2), 12);
    expect(asym.sim(2, 0)).toBeCloseTo(3 / (9 ** 0.8 * 5 ** 0.2), 12);
    // the lists hold the directional values (float32), in both directions
    expect(asym.neighbours.sorted(0).map((x) => x.item)).toEqual([2, 1]);
    expect(asym.neighbours.sorted(0)[0].sim).toBeCloseTo(asym.sim(0, 2), 6);
    expect(asym.neighbours.sorted(2)[0].sim).toBeCloseTo(asym.sim(2, 0), 6);
  });

  it('keeps only the top K, evicting the weakest', () => {
    const idx = new NeighbourIndex(2);
    idx.offer(0, 1, 0.2);
    idx.offer(0, 2, 0.5);
    idx.offer(0, 3, 0.1); // weaker than all: pruned
    expect(idx.sorted(0)).toEqual([{ item: 2, sim: 0.5 }, { item: 1, sim: expect.closeTo(0.2, 6) }]);
    idx.offer(0, 3, 0.9); // evicts 1
    expect(idx.sorted(0).map((x) => x.item)).toEqual([3, 2]);
    idx.offer(0, 2, 0); // removal
    expect(idx.sorted(0).map((x) => x.item)).toEqual([3]);
  });

  it('decay: with a half-life, recent co-occurrence outweighs old co-occurrence', () => {
    const DAY = 86_400_000;
    const run = (halfLife: number) => {
      const m = collab({ decayHalfLifeMs: halfLife, eventWeights: { purchase: 1 } });
      // old: 0 with 1 (two users), recent: 0 with 2 (two users); 1 and 2 otherwise equally popular
      let t = 0;
      for (const [u, other] of [[0, 1], [1, 1], [2, 2], [3, 2]] as const) {
        if (u === 2) t = 100 * DAY;
        let h: UserHistory = EMPTY_HISTORY;
        h = m.learn(h, 0, 1, t);
        h = m.learn(h, other, 1, t);
      }
      return [m.sim(0, 1), m.sim(0, 2)];
    };
    const [old0, new0] = run(0);
    expect(old0).toBeCloseTo(new0, 12);
    const [old1, new1] = run(10 * DAY);
    expect(new1).toBeGreaterThan(old1 * 10);
  });
});
