import { describe, expect, it } from 'vitest';
import type { UserEvent } from '../../src/domain/events.js';
import { CountRanking } from '../../src/eval/count-ranking.js';
import { itemKnnModel, KNN_HISTORY } from '../../src/eval/item-knn.js';
import { popularityModel, runPrequential } from '../../src/eval/prequential.js';

function ev(userId: string, itemId: string, t: number): UserEvent {
  return { eventId: `${userId}${t}`, userId, type: 'view', eventTime: t, itemId, quantity: null, price: null, rating: null, sessionId: null, context: null, properties: {} };
}

/** Seeded LCG: the streams are reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Users in runs of consecutive events (orders, sessions) over a skewed catalogue, like real streams. */
function stream(seed: number, n: number, users: number, items: number): UserEvent[] {
  const r = rng(seed);
  const out: UserEvent[] = [];
  while (out.length < n) {
    const u = `u${Math.floor(r() * users)}`;
    const run = 1 + Math.floor(r() * 6);
    for (let k = 0; k < run && out.length < n; k++) out.push(ev(u, `i${Math.floor(items * r() ** 2)}`, out.length));
  }
  return out;
}

/** The definition, recomputed from scratch for every question: no cache, no incremental sums. */
class NaiveKnn {
  c = new Map<string, Map<string, number>>();
  n = new Map<string, number>();
  order: string[] = []; // first-seen order, the tie-break after popularity
  hist = new Map<string, string[]>();

  learn(e: UserEvent): void {
    const i = e.itemId!;
    if (!this.n.has(i)) this.order.push(i);
    const h = this.hist.get(e.userId) ?? [];
    for (const x of h) {
      if (x === i) continue;
      this.bump(x, i);
      this.bump(i, x);
    }
    this.n.set(i, (this.n.get(i) ?? 0) + 1);
    this.hist.set(e.userId, [i, ...h.filter((x) => x !== i)].slice(0, KNN_HISTORY));
  }

  private bump(a: string, b: string): void {
    const row = this.c.get(a) ?? new Map<string, number>();
    row.set(b, (row.get(b) ?? 0) + 1);
    this.c.set(a, row);
  }

  top(userId: string, k: number, exclude: Set<string> = new Set()): string[] {
    const score = (i: string) => (this.hist.get(userId) ?? []).reduce((s, h) => s + (this.c.get(h)?.get(i) ?? 0) / Math.sqrt(this.n.get(h)! * this.n.get(i)!), 0);
    const pos = new Map(this.order.map((x, p) => [x, p]));
    const byPop = (a: string, b: string) => this.n.get(b)! - this.n.get(a)! || pos.get(a)! - pos.get(b)!;
    const items = this.order.filter((i) => !exclude.has(i)).map((i) => ({ i, s: score(i) }));
    const scored = items.filter((x) => x.s > 0).sort((a, b) => (Math.abs(a.s - b.s) > 1e-9 ? b.s - a.s : byPop(a.i, b.i)));
    const list = scored.slice(0, k).map((x) => x.i);
    const rest = items.filter((x) => !list.includes(x.i)).map((x) => x.i).sort(byPop);
    return [...list, ...rest].slice(0, k);
  }
}

describe('item-kNN baseline', () => {
  for (const [seed, users, items, n] of [[1, 5, 40, 600], [2, 30, 80, 1500], [3, 3, 200, 900], [4, 60, 25, 1200]] as const) {
    it(`ranks exactly as the definition recomputed from scratch (seed ${seed}: ${users} users, ${items} items, ${n} events)`, () => {
      const events = stream(seed, n, users, items);
      const model = itemKnnModel();
      const naive = new NaiveKnn();
      let compared = 0;
      for (const [k, e] of events.entries()) {
        if (naive.hist.has(e.userId)) {
          // under discovery-like exclusion every third question, so both the plain and the excluding path are checked
          const known = k % 3 === 0 ? new Set(naive.hist.get(e.userId)) : undefined;
          const ex = known ? (id: number) => [...known].some((x) => model.idOf(x) === id) : undefined;
          const got = Array.from(model.top(e, 10, ex), (id) => naive.order[id]);
          expect(got, `event ${k}`).toEqual(naive.top(e.userId, 10, known));
          compared++;
        }
        model.learn(e);
        naive.learn(e);
      }
      expect(compared).toBeGreaterThan(n / 2);
      // C itself: symmetric counts of the definition
      const [a, b] = [events[0].itemId!, events[1].itemId!];
      expect(model.cooccurrence(a, b)).toBe(naive.c.get(a)?.get(b) ?? 0);
      expect(model.cooccurrence(b, a)).toBe(model.cooccurrence(a, b));
    });
  }

  it('pairs each event with the current history only: a first event pairs with nothing, a repeat pairs again', () => {
    const m = itemKnnModel();
    m.learn(ev('u', 'a', 1));
    expect(m.cooccurrence('a', 'b')).toBe(0);
    m.learn(ev('u', 'b', 2));
    m.learn(ev('u', 'b', 3)); // b again: pairs with a again (and not with itself)
    expect(m.cooccurrence('a', 'b')).toBe(2);
    expect(m.cooccurrence('b', 'b')).toBe(0);
    m.learn(ev('v', 'c', 4)); // another user's history: no pair with a or b
    expect(m.cooccurrence('a', 'c')).toBe(0);
    expect(m.naiveScore('u', 'b')).toBeCloseTo(2 / Math.sqrt(1 * 2) + 0, 12);
  });

  it('the history is the last 20 distinct items: the 21st newest no longer pairs', () => {
    const m = itemKnnModel();
    for (let k = 0; k <= KNN_HISTORY; k++) m.learn(ev('u', `i${k}`, k)); // i0 … i20: i0 fell out when i20 came
    m.learn(ev('u', 'x', 100));
    expect(m.cooccurrence('i1', 'x')).toBe(1);
    expect(m.cooccurrence('i0', 'x')).toBe(0);
  });

  it('popularity and item-kNN never return an excluded item, and fill their lists past it', () => {
    const events = stream(9, 800, 10, 30);
    for (const model of [popularityModel(), itemKnnModel()]) {
      for (const e of events) model.learn(e);
      const banned = new Set([0, 1, 2, 3, 4]);
      const top = Array.from(model.top(events[0], 10, (id) => banned.has(id)));
      expect(top).toHaveLength(10);
      expect(top.some((id) => banned.has(id)), model.name).toBe(false);
    }
  });

  it('runs next to the others in the harness, deterministically', () => {
    const events = stream(5, 3000, 40, 120);
    const a = runPrequential(events, itemKnnModel(), { protocol: 'discovery' });
    const b = runPrequential(events, itemKnnModel(), { protocol: 'discovery' });
    expect({ ...a, seconds: 0, eventsPerSecond: 0 }).toEqual({ ...b, seconds: 0, eventsPerSecond: 0 });
    expect(a.hr10).toBeGreaterThan(0);
  });
});

describe('CountRanking', () => {
  it('keeps items sorted by count, ties by the earlier id, as counts grow', () => {
    const r = rng(7);
    const ranking = new CountRanking();
    const counts: number[] = [];
    for (let k = 0; k < 5000; k++) {
      const id = Math.min(counts.length, Math.floor(r() * r() * 300));
      if (id === counts.length) counts.push(0);
      counts[id]++;
      ranking.add(id);
      if (k % 97 === 0) {
        const want = counts.map((_, i) => i).sort((a, b) => counts[b] - counts[a] || a - b);
        const out = new Int32Array(want.length);
        expect(Array.from(out.subarray(0, ranking.top(out, want.length)))).toEqual(want);
      }
    }
  });
});
