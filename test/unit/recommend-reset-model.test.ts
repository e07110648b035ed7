/**
 * The recommender model under the rights stage's resets: a reset gives the user a new empty state at its place
 * (later records start fresh, what earlier ones added to co-occurrence stays), and learning the same records in
 * any micro-batch cuts gives the same model and user states — the property the chaos verifier relies on (a crashing
 * run's batches are cut differently from the clean run's).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { UserEvent } from '../../src/domain/events.js';
import { Recommender, type LearnRecord } from '../../src/stages/recommend/model/recommender.js';

const T0 = Date.UTC(2024, 0, 1);
const ITEMS = ['a', 'b', 'c', 'd', 'e'];
const USERS = ['P0', 'P1', 'P2'];
const TYPES = ['view', 'add_to_cart', 'purchase', 'rating'] as const;

const ev = (userId: string, type: UserEvent['type'], itemId: string, k: number, country: string | null = null): UserEvent => ({
  eventId: `e${k}`, userId, type, eventTime: T0 + k * 60_000, itemId, quantity: 1, price: 1, rating: type === 'rating' ? 4 : null,
  sessionId: null, context: country ? { device: null, country, referrer: null, userAgent: null } : null, properties: {},
});

/** A sequence of events and resets (about one record in eight is a reset). */
const recordsArb = fc.array(
  fc.record({ u: fc.nat(USERS.length - 1), i: fc.nat(ITEMS.length - 1), t: fc.nat(TYPES.length - 1), reset: fc.nat(7), c: fc.constantFrom(null, 'DE', 'FR') }),
  { minLength: 1, maxLength: 40 },
).map((xs) => xs.map((x, k): LearnRecord => (x.reset === 0
  ? { reset: true, userId: USERS[x.u] }
  : ev(USERS[x.u], TYPES[x.t], ITEMS[x.i], k, x.c))));

const EMPTY = { history: { items: [], weights: [], times: [] }, purchases: [], country: null, lastTime: 0 };

function model(): Recommender {
  const r = new Recommender({ collaborative: { historySize: 3 } });
  r.collaborative.setEpoch(T0);
  return r;
}

/** The model's durable content by name: co-occurrence and norms, and every user's state (items by name). */
function snapshot(r: Recommender, users: string[] = USERS) {
  const cooc: Record<string, number> = {};
  for (const a of ITEMS) {
    const ia = r.items.lookup(a);
    if (ia < 0) continue;
    cooc[`n:${a}`] = r.collaborative.state.normOf(ia);
    for (const b of ITEMS) {
      const ib = r.items.lookup(b);
      if (ib >= 0 && a < b) cooc[`${a}|${b}`] = r.collaborative.state.cooc(ia, ib);
    }
  }
  const name = (i: number) => r.items.name(i);
  const state = Object.fromEntries(users.map((u) => {
    const s = r.users.get(u);
    return [u, s && {
      history: { items: s.history.items.map(name), weights: [...s.history.weights], times: [...s.history.times] },
      purchases: [...s.purchases].map(([i, e]) => [name(i), e.count, e.last]),
      country: s.country,
      lastTime: s.lastTime,
    }];
  }));
  return { cooc, state };
}

function expectSameCooc(a: Record<string, number>, b: Record<string, number>): void {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  // Sums combined per batch may round in another order: equal within float noise.
  for (const k of Object.keys(a)) expect(Math.abs(a[k] - b[k])).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(a[k])));
}

describe('recommender resets', () => {
  it('a reset then events equals a fresh user who only had those events', () => {
    fc.assert(fc.property(recordsArb, recordsArb, (before, after) => {
      const only = (xs: LearnRecord[], u: string) => xs.filter((x) => x.userId === u && !('reset' in x)) as UserEvent[];
      const prefix = only(before, 'P0');
      const later = only(after, 'P0');
      const reset = model();
      reset.learnBatch([...prefix, { reset: true, userId: 'P0' }, ...later]);
      const fresh = model();
      fresh.learnBatch([...prefix, ...later.map((e) => ({ ...e, userId: 'Pnew' }))]);
      const r = snapshot(reset, ['P0']);
      const f = snapshot(fresh, ['Pnew']);
      // (A fresh user with no events has no state at all: the same as an empty one.)
      expect(r.state.P0).toEqual(f.state.Pnew ?? EMPTY);
      // Co-occurrence: the earlier events' contributions stay, the later ones pair only among themselves.
      expectSameCooc(r.cooc, f.cooc);
    }), { numRuns: 200 });
  });

  it('a reset with nothing after it leaves an empty state (history, purchases, country)', () => {
    const r = model();
    r.learnBatch([ev('P0', 'purchase', 'a', 1, 'DE'), ev('P0', 'view', 'b', 2), { reset: true, userId: 'P0' }]);
    expect(snapshot(r, ['P0']).state.P0).toEqual(EMPTY);
    // What the events added to co-occurrence before the reset stays (an anonymous aggregate).
    expect(r.similarity('a', 'b')).toBeGreaterThan(0);
  });

  it('learning the same records in any micro-batch cuts gives the same model and user states', () => {
    const cutsArb = fc.array(fc.nat(40), { maxLength: 8 });
    fc.assert(fc.property(recordsArb, cutsArb, (records, cuts) => {
      const whole = model();
      whole.learnBatch(records);
      const pieces = model();
      const at = [...new Set(cuts.map((c) => c % (records.length + 1)))].sort((x, y) => x - y);
      let from = 0;
      for (const c of [...at, records.length]) {
        pieces.learnBatch(records.slice(from, c));
        from = Math.max(from, c);
      }
      const w = snapshot(whole);
      const p = snapshot(pieces);
      expect(p.state).toEqual(w.state);
      expectSameCooc(p.cooc, w.cooc);
      // And one record at a time (the offline reference's path) agrees too.
      const single = model();
      for (const x of records) single.learnBatch([x]);
      expect(snapshot(single).state).toEqual(w.state);
    }), { numRuns: 200 });
  });

  it('an anonymous event feeds trending only: no user state, no co-occurrence', () => {
    const r = model();
    r.learnAnonymous(ev('P9', 'purchase', 'a', 1, 'DE'));
    r.learnAnonymous(ev('P9', 'purchase', 'b', 2, 'DE'));
    expect(r.users.has('P9')).toBe(false);
    expect(r.similarity('a', 'b')).toBe(0);
    // A user never seen gets the trending items (cold start) the anonymous events made.
    expect(r.recommend('someone', { n: 5, now: T0 + 3 * 60_000 }).map((x) => x.itemId).sort()).toEqual(['a', 'b']);
  });
});
