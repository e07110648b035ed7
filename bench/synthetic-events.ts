/**
 * A generated shop of any size, for the memory bench of #12 (bench/memory.ts), where the bundled data set (4,300
 * customers, 3,900 items) is far too small. Deterministic: the same options give the same events, byte for byte.
 *
 * Shape, and why:
 *  - items: popularity Zipf-like (weight 1 / rank^itemSkew, ranks shuffled over the ids) — a few items take most
 *    of the traffic, as in every shop's logs; each item belongs to one of `categories` categories, and the items of
 *    a category are neighbours in a category order, so "the next item in a session" is often a neighbour: the
 *    co-occurrence structure a recommender learns;
 *  - users: activity Zipf-like (weight 1 / rank^userSkew) — many one-visit users and a few heavy ones;
 *  - sessions: a user's events come in sessions of 1 + Geometric(mean sessionLength − 1) events, 30 s apart;
 *    each next item is, with probability `stay`, a near neighbour of the previous one in its category, else a
 *    fresh draw from the popularity law; sessions start at evenly spread times over `days` days;
 *  - event types: 72 % view, 12 % click, 8 % add_to_cart, 1 % remove_from_cart, 5 % purchase, 2 % rating.
 * The generator is a sequence (an iterator), so 20M events need no array of 20M objects.
 */
import type { CatalogItem, EventType, UserEvent } from '../src/domain/events.js';
// The chaos run's seeded PRNG (mulberry32; its low bits do not cycle, unlike an LCG's): one implementation for all.
import { rng as mulberry32 } from '../test/support/rng.js';

export interface SyntheticShape {
  users: number;
  items: number;
  events: number;
  categories?: number;
  itemSkew?: number;
  userSkew?: number;
  sessionLength?: number;
  stay?: number;
  days?: number;
  seed?: number;
}

const TYPES: Array<[EventType, number]> = [
  ['view', 0.72], ['click', 0.12], ['add_to_cart', 0.08], ['remove_from_cart', 0.01], ['purchase', 0.05], ['rating', 0.02],
];
const START = Date.UTC(2026, 0, 1);

/** Draws ranks 0..n-1 with weight 1/(rank+1)^s, by binary search over the cumulative weights (Float64Array: 8n bytes). */
function zipf(n: number, s: number): (u: number) => number {
  const cum = new Float64Array(n);
  let t = 0;
  for (let r = 0; r < n; r++) cum[r] = t += 1 / Math.pow(r + 1, s);
  return (u) => {
    const x = u * t;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

function shuffled(n: number, rnd: () => number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const x = p[i];
    p[i] = p[j];
    p[j] = x;
  }
  return p;
}

interface Layout {
  categories: number;
  /** Item id → its category. */
  categoryOf: Int32Array;
  /** Items in category order, and each item's place in it. */
  order: Int32Array;
  place: Int32Array;
}

function layout(shape: SyntheticShape): Layout {
  const categories = shape.categories ?? 50;
  const rnd = mulberry32((shape.seed ?? 1) * 7919 + 1);
  const categoryOf = new Int32Array(shape.items);
  for (let i = 0; i < shape.items; i++) categoryOf[i] = Math.floor(rnd() * categories);
  const order = Int32Array.from({ length: shape.items }, (_, i) => i).sort((a, b) => categoryOf[a] - categoryOf[b] || a - b);
  const place = new Int32Array(shape.items);
  order.forEach((item, k) => (place[item] = k));
  return { categories, categoryOf, order, place };
}

const itemName = (i: number) => `i${i}`;

/** The catalog of the shape: one item per id, titled and categorised. */
export function syntheticCatalog(shape: SyntheticShape): CatalogItem[] {
  const l = layout(shape);
  return Array.from({ length: shape.items }, (_, i) => ({
    itemId: itemName(i), title: `Item ${i}`, categories: [`c${l.categoryOf[i]}`], tags: [], price: 1 + (i % 50),
    available: true, deleted: false, updatedAt: START,
  }));
}

/** The events of the shape, in time order. */
export function* syntheticEvents(shape: SyntheticShape): Generator<UserEvent> {
  const rnd = mulberry32(shape.seed ?? 1);
  const l = layout(shape);
  const itemRank = zipf(shape.items, shape.itemSkew ?? 1.0);
  const userRank = zipf(shape.users, shape.userSkew ?? 0.8);
  const itemOfRank = shuffled(shape.items, rnd);
  const userOfRank = shuffled(shape.users, rnd);
  const meanLength = shape.sessionLength ?? 6;
  const stay = shape.stay ?? 0.5;
  const span = (shape.days ?? 30) * 86_400_000;
  const sessions = Math.max(1, Math.round(shape.events / meanLength));
  const typeCum: number[] = [];
  TYPES.reduce((t, [, w]) => (typeCum.push(t + w), t + w), 0);
  // Open sessions interleave in time: each is [user, next time, events left, last item], in a min-heap by next
  // time. Sessions start in time order; an event is taken from the earliest open session, so the sequence is in
  // time order overall.
  const open: Array<[number, number, number, number]> = [];
  const less = (a: number, b: number) => open[a][1] < open[b][1];
  const swap = (a: number, b: number) => { const x = open[a]; open[a] = open[b]; open[b] = x; };
  const up = (i: number) => { while (i > 0 && less(i, (i - 1) >> 1)) { swap(i, (i - 1) >> 1); i = (i - 1) >> 1; } };
  const down = (i: number) => {
    for (;;) {
      const a = 2 * i + 1;
      const b = a + 1;
      let m = i;
      if (a < open.length && less(a, m)) m = a;
      if (b < open.length && less(b, m)) m = b;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };
  let started = 0;
  let emitted = 0;
  let serial = 0;
  while (emitted < shape.events) {
    const nextStart = START + (started / sessions) * span;
    if (open.length === 0 || nextStart <= open[0][1]) {
      const user = userOfRank[userRank(rnd())];
      let length = 1;
      while (length < 200 && rnd() > 1 / meanLength) length++;
      open.push([user, nextStart, length, -1]);
      up(open.length - 1);
      started++;
      continue;
    }
    const k = 0;
    const s = open[k];
    let item: number;
    if (s[3] >= 0 && rnd() < stay) {
      const p = l.place[s[3]] + Math.round((rnd() - 0.5) * 10);
      const q = l.order[Math.min(shape.items - 1, Math.max(0, p))];
      item = l.categoryOf[q] === l.categoryOf[s[3]] ? q : itemOfRank[itemRank(rnd())];
    } else {
      item = itemOfRank[itemRank(rnd())];
    }
    const u = rnd();
    const type = TYPES[Math.max(0, typeCum.findIndex((c) => u < c))][0];
    yield {
      eventId: `s${serial++}`, userId: `u${s[0]}`, type, eventTime: Math.floor(s[1]), itemId: itemName(item),
      quantity: type === 'purchase' ? 1 : null, price: type === 'purchase' ? 1 + (item % 50) : null,
      rating: type === 'rating' ? 1 + Math.floor(rnd() * 5) : null, sessionId: null,
      context: null, properties: { category: `c${l.categoryOf[item]}` },
    };
    emitted++;
    s[1] += 30_000;
    s[3] = item;
    if (--s[2] === 0) {
      const last = open.pop()!;
      if (open.length) {
        open[0] = last;
        down(0);
      }
    } else {
      down(0);
    }
  }
}
