/**
 * Identity stitching in the recommender model: a known user absorbs an anonymous user's history and purchase log
 * (mergeHistories, a merge record in batchDeltas, UserMerge in learnBatch, mergeUser) without any co-occurrence
 * delta — the anonymous user's events were counted when they happened — while the known user's later events pair
 * with the merged history and see the merged purchase log.
 */
import { describe, expect, it } from 'vitest';
import type { UserEvent } from '../../src/domain/events.js';
import { batchDeltas, EMPTY_HISTORY, mergeHistories, pairKey, type DeltaParams, type UserHistory } from '../../src/stages/recommend/model/deltas.js';
import { Recommender, type LearnRecord, type UserMerge } from '../../src/stages/recommend/model/recommender.js';
import { mergePurchases, type PurchaseEntry } from '../../src/stages/recommend/model/user-state.js';

const T0 = Date.UTC(2024, 0, 1);
const at = (k: number) => T0 + k * 60_000;
const P: DeltaParams = { historySize: 4, recency: 'none', positionDecay: 1, timeHalfLifeMs: 1 };

const hist = (items: number[], weights: number[], times: number[]): UserHistory => ({ items, weights, times });

const ev = (userId: string, type: UserEvent['type'], itemId: string, k: number, country: string | null = null): UserEvent => ({
  eventId: `e${k}`, userId, type, eventTime: at(k), itemId, quantity: 1, price: 1, rating: type === 'rating' ? 4 : null,
  sessionId: null, context: country ? { device: null, country, referrer: null, userAgent: null } : null, properties: {},
});

const merge = (userId: string, state: Partial<UserMerge['state']>): UserMerge => ({
  merge: true,
  userId,
  state: { h: { i: [], w: [], t: [] }, p: [], c: null, lt: 0, ...state },
});

function model(over: Record<string, unknown> = {}): Recommender {
  const r = new Recommender({ collaborative: { historySize: 5, recency: 'none', decayHalfLifeMs: 0 }, buyAgain: { maxItems: 3 }, ...over });
  r.collaborative.setEpoch(T0);
  return r;
}

/** A user's state by item name. */
function stateOf(r: Recommender, userId: string) {
  const s = r.users.get(userId);
  if (!s) return undefined;
  const name = (i: number) => r.items.name(i);
  return {
    history: { items: s.history.items.map(name), weights: [...s.history.weights], times: [...s.history.times] },
    purchases: [...s.purchases].map(([i, e]) => [name(i), e.count, e.last]),
    country: s.country,
    lastTime: s.lastTime,
  };
}

/** Every norm and co-occurrence of the named items, and every pair's similarity. */
function cooc(r: Recommender, names: string[]) {
  const out: Record<string, number> = {};
  for (const a of names) {
    const ia = r.items.lookup(a);
    if (ia < 0) continue;
    out[`n:${a}`] = r.collaborative.state.normOf(ia);
    for (const b of names) {
      const ib = r.items.lookup(b);
      if (ib < 0 || a >= b) continue;
      out[`${a}|${b}`] = r.collaborative.state.cooc(ia, ib);
      out[`sim:${a}|${b}`] = r.similarity(a, b);
    }
  }
  return out;
}

describe('mergeHistories', () => {
  it('unions by item with the strongest weight and the latest time, oldest first, ties known then anon, newest H', () => {
    const known = hist([1, 2, 3], [1, 3, 1], [10, 20, 30]);
    const anon = hist([2, 4, 5], [5, 1, 2], [15, 30, 5]);
    // union: 1 (1, 10), 2 (5, 20), 3 (1, 30), 4 (1, 30), 5 (2, 5); by time: 5, 1, 2, 3, 4 (3 and 4 tie: known's first)
    expect(mergeHistories(known, anon, 10)).toEqual(hist([5, 1, 2, 3, 4], [2, 1, 5, 1, 1], [5, 10, 20, 30, 30]));
    // the oldest fall out beyond H
    expect(mergeHistories(known, anon, 4)).toEqual(hist([1, 2, 3, 4], [1, 5, 1, 1], [10, 20, 30, 30]));
    expect(mergeHistories(known, anon, 1)).toEqual(hist([4], [1], [30]));
    // the inputs are not modified
    expect(known).toEqual(hist([1, 2, 3], [1, 3, 1], [10, 20, 30]));
    expect(anon).toEqual(hist([2, 4, 5], [5, 1, 2], [15, 30, 5]));
  });

  it('keeps known\'s relative order, then anon\'s, among equal times', () => {
    expect(mergeHistories(hist([7, 3], [1, 1], [5, 5]), hist([9, 1, 3], [1, 1, 2], [5, 5, 5]), 10)).toEqual(hist([7, 3, 9, 1], [1, 2, 1, 1], [5, 5, 5, 5]));
  });

  it('with an empty side is the other side, capped', () => {
    const h = hist([1, 2, 3], [1, 2, 3], [1, 2, 3]);
    expect(mergeHistories(EMPTY_HISTORY, h, 10)).toEqual(h);
    expect(mergeHistories(h, EMPTY_HISTORY, 2)).toEqual(hist([2, 3], [2, 3], [2, 3]));
    expect(mergeHistories(EMPTY_HISTORY, EMPTY_HISTORY, 2)).toEqual(EMPTY_HISTORY);
  });
});

describe('mergePurchases', () => {
  it('sums counts, keeps the latest time, orders least recently purchased first and drops the oldest beyond the cap', () => {
    const log = new Map<number, PurchaseEntry>([[1, { count: 1, last: 10 }], [2, { count: 2, last: 30 }]]);
    mergePurchases(log, [[3, { count: 1, last: 5 }], [1, { count: 4, last: 40 }], [4, { count: 1, last: 20 }]], 3);
    // union: 1 (5, 40), 2 (2, 30), 3 (1, 5), 4 (1, 20); by time: 3, 4, 2, 1; the oldest (3) falls out
    expect([...log]).toEqual([[4, { count: 1, last: 20 }], [2, { count: 2, last: 30 }], [1, { count: 5, last: 40 }]]);
  });
});

describe('batchDeltas with a merge', () => {
  const anon = hist([2, 3], [1, 3], [5, 6]);

  it('emits no pair or norm for the merge and threads the merged history', () => {
    const historyOf = (u: string) => (u === 'K' ? hist([1], [3], [1]) : undefined);
    const d = batchDeltas([{ userId: 'K', item: -1, weight: 0, time: 0, merge: anon }], historyOf, () => 1, P);
    expect(d.pairs.size).toBe(0);
    expect(d.norms.size).toBe(0);
    expect(d.touched.size).toBe(0);
    expect(d.histories.get('K')).toEqual(hist([1, 2, 3], [3, 1, 3], [1, 5, 6]));
    // a user never seen gets the merged history as is
    const fresh = batchDeltas([{ userId: 'N', item: -1, weight: 0, time: 0, merge: anon }], historyOf, () => 1, P);
    expect(fresh.pairs.size + fresh.norms.size).toBe(0);
    expect(fresh.histories.get('N')).toEqual(anon);
  });

  it('a later event of the known user pairs with the anonymous items; earlier ones do not', () => {
    const historyOf = (u: string) => (u === 'K' ? hist([1], [3], [1]) : undefined);
    const d = batchDeltas([
      { userId: 'K', item: 4, weight: 1, time: 2 },
      { userId: 'K', item: -1, weight: 0, time: 0, merge: anon },
      { userId: 'K', item: 5, weight: 2, time: 7 },
    ], historyOf, () => 1, P);
    // event 4 (before the merge) pairs with 1 only
    expect(d.pairs.get(pairKey(4, 1))).toBe(3);
    expect(d.pairs.has(pairKey(4, 2))).toBe(false);
    expect(d.pairs.has(pairKey(4, 3))).toBe(false);
    // event 5 pairs with the merged history: 1, 4 and the anonymous 2 and 3 (weight 2 · their weight)
    expect(d.pairs.get(pairKey(5, 2))).toBe(2);
    expect(d.pairs.get(pairKey(5, 3))).toBe(6);
    expect(d.pairs.get(pairKey(5, 1))).toBe(6);
    expect(d.pairs.get(pairKey(5, 4))).toBe(2);
    // the merge itself: no pair among the anonymous items or between them and the known user's, no norm
    expect(d.pairs.has(pairKey(2, 3))).toBe(false);
    expect(d.pairs.has(pairKey(1, 2))).toBe(false);
    expect(d.pairs.has(pairKey(1, 3))).toBe(false);
    expect([...d.norms.keys()].sort()).toEqual([4, 5]);
    expect(d.pairs.size).toBe(5);
    // history: 1, 4, 2, 3 (merged by time), then 5; H = 4 drops 1
    expect(d.histories.get('K')).toEqual(hist([4, 2, 3, 5], [1, 1, 3, 2], [2, 5, 6, 7]));
  });

  it('a reset then a merge gives the anonymous history alone', () => {
    const d = batchDeltas([
      { userId: 'K', item: -1, weight: 0, time: 0, reset: true },
      { userId: 'K', item: -1, weight: 0, time: 0, merge: anon },
    ], () => hist([1], [3], [1]), () => 1, P);
    expect(d.histories.get('K')).toEqual(anon);
  });
});

describe('learnBatch with a merge', () => {
  // The anonymous profile: history x, a, w; purchases z (oldest), x, a, w (newest).
  const snapshot: UserMerge['state'] = {
    h: { i: ['x', 'a', 'w'], w: [1, 1, 3], t: [at(2), at(3), at(8)] },
    p: [['z', 1, at(0)], ['x', 2, at(2)], ['a', 1, at(3)], ['w', 1, at(8)]],
    c: 'FR',
    lt: at(8),
  };

  it('merges at its place: the later event sees the merged purchase log and pairs with the merged history', () => {
    const r = model();
    const records: LearnRecord[] = [ev('K', 'purchase', 'a', 1), merge('K', snapshot), ev('K', 'purchase', 'b', 5)];
    const delta = r.learnBatch(records);
    const s = stateOf(r, 'K');
    // Purchases: a (1, t1) ∪ snapshot → z t0, x t2, a (2, t3), w t8; cap 3 drops z → x, a, w; then b appended
    // (LRU by record order) and x drops out.
    expect(s?.purchases).toEqual([['a', 2, at(3)], ['w', 1, at(8)], ['b', 1, at(5)]]);
    // History: a (3, t1) ∪ snapshot → x (1, t2), a (3, t3), w (3, t8); then b.
    expect(s?.history).toEqual({ items: ['x', 'a', 'w', 'b'], weights: [1, 3, 3, 3], times: [at(2), at(3), at(8), at(5)] });
    expect(s?.country).toBe('FR');
    expect(s?.lastTime).toBe(at(8));
    // b paired with the anonymous items, and with a (the known user's own)
    const id = (n: string) => r.items.lookup(n);
    expect(delta.pairs.get(pairKey(id('b'), id('x')))).toBe(3);
    expect(delta.pairs.get(pairKey(id('b'), id('w')))).toBe(9);
    expect(delta.pairs.get(pairKey(id('b'), id('a')))).toBe(9);
    expect(delta.pairs.size).toBe(3);
    expect([...delta.norms.keys()].map((i) => r.items.name(i)).sort()).toEqual(['a', 'b']);
    // nothing paired by the merge itself
    expect(r.similarity('a', 'x')).toBe(0);
    expect(r.similarity('x', 'w')).toBe(0);
    // not learned, not trending: a user never seen gets the events' items only
    expect(r.learned).toBe(2);
    expect(r.recommend('someone', { n: 10, now: at(9) }).map((x) => x.itemId).sort()).toEqual(['a', 'b']);
  });

  it('keeps the known user\'s country and takes the later lastTime', () => {
    const r = model();
    r.learnBatch([ev('K', 'view', 'a', 20, 'DE'), merge('K', snapshot)]);
    expect(stateOf(r, 'K')?.country).toBe('DE');
    expect(stateOf(r, 'K')?.lastTime).toBe(at(20));
  });

  it('any micro-batch cut, and mergeUser, give the same state', () => {
    const records: LearnRecord[] = [
      ev('K', 'purchase', 'a', 1), ev('V', 'view', 'x', 1), merge('K', snapshot), ev('K', 'purchase', 'b', 10),
      ev('V', 'purchase', 'b', 11), merge('V', snapshot), ev('K', 'view', 'x', 12),
    ];
    const whole = model();
    whole.learnBatch(records);
    const names = ['a', 'b', 'w', 'x', 'z'];
    for (let cut = 0; cut <= records.length; cut++) {
      const pieces = model();
      pieces.learnBatch(records.slice(0, cut));
      pieces.learnBatch(records.slice(cut));
      expect(stateOf(pieces, 'K')).toEqual(stateOf(whole, 'K'));
      expect(stateOf(pieces, 'V')).toEqual(stateOf(whole, 'V'));
      expect(cooc(pieces, names)).toEqual(cooc(whole, names));
    }
    const single = model();
    for (const x of records) {
      if ('merge' in x) single.mergeUser(x.userId, x.state);
      else if (!('reset' in x)) single.learn(x);
    }
    expect(stateOf(single, 'K')).toEqual(stateOf(whole, 'K'));
    expect(stateOf(single, 'V')).toEqual(stateOf(whole, 'V'));
  });

  it('leaves co-occurrence, norms and similarities unchanged by a merge alone', () => {
    const r = model();
    r.learnBatch([
      ev('K', 'purchase', 'a', 1), ev('K', 'view', 'b', 2),
      ev('A', 'view', 'x', 1), ev('A', 'purchase', 'a', 2), ev('A', 'view', 'w', 3),
      ev('U', 'view', 'x', 4), ev('U', 'view', 'b', 5), ev('U', 'purchase', 'w', 6),
    ]);
    // (z, only in the snapshot's purchase log, is interned by the merge: with no norm and no pair.)
    const names = ['a', 'b', 'w', 'x'];
    const before = cooc(r, names);
    const neighbours = names.map((n) => r.neighboursOf(n));
    const delta = r.learnBatch([merge('K', snapshot)]);
    expect(delta.pairs.size).toBe(0);
    expect(delta.norms.size).toBe(0);
    expect(cooc(r, names)).toEqual(before);
    expect(r.collaborative.state.normOf(r.items.lookup('z'))).toBe(0);
    r.mergeUser('U', snapshot);
    expect(cooc(r, names)).toEqual(before);
    expect(names.map((n) => r.neighboursOf(n))).toEqual(neighbours);
    // the users did absorb the snapshot
    expect(stateOf(r, 'K')?.history.items).toEqual(['b', 'x', 'a', 'w']); // b and x tie at t2: known's first
  });

  it('drops items the model refuses (past limits.maxItems)', () => {
    const r = model({ limits: { maxItems: 2 } });
    r.learnBatch([ev('K', 'purchase', 'a', 1), merge('K', snapshot)]);
    // 'a' was interned by the event; 'x' takes the last place; z and w are refused
    expect(stateOf(r, 'K')).toEqual({
      history: { items: ['x', 'a'], weights: [1, 3], times: [at(2), at(3)] },
      purchases: [['x', 2, at(2)], ['a', 2, at(3)]],
      country: 'FR',
      lastTime: at(8),
    });
  });
});
