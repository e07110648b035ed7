import { describe, expect, it } from 'vitest';
import type { EventType, UserEvent } from '../../src/domain/events.js';
import {
  applyEvent,
  createFeatureView,
  emptyFeatureState,
  entryValue,
  parseFeatureState,
  resolveFeatureConfig,
  serializeFeatureState,
  DAY,
  HOUR,
  MINUTE,
  type FeatureConfig,
  type UserFeatureState,
} from '../../src/stages/segments/features/index.js';
import { mergeFeatureStates } from '../../src/stages/segments/features/merge.js';
import { rng } from '../support/rng.js';
import { userEvent } from '../support/user-event.js';

const T0 = Date.UTC(2024, 0, 1);
// Item ids name their categories: "shoes+hats" is in both; "" is in none.
const lookup = (itemId: string) => (itemId === '' ? [] : itemId.split('+'));
let seq = 0;
function ev(t: number, type: EventType, cats: string[] = [], extra: Partial<UserEvent> = {}): UserEvent {
  return userEvent({ eventId: `e${seq++}`, userId: 'u', type, eventTime: t, itemId: cats.join('+'), ...extra });
}
function build(events: UserEvent[], cfg: FeatureConfig): UserFeatureState {
  const s = emptyFeatureState();
  for (const e of events) applyEvent(s, e, cfg, lookup);
  return s;
}

/** Buckets keyed by type code and category name instead of slot, entries as [count, amount, quantity]. */
function bucketsByName(s: UserFeatureState): Record<string, Record<string, Record<string, number[]>>> {
  const name = new Map(Object.entries(s.cs).map(([c, slot]) => [String(slot), c]));
  const out: Record<string, Record<string, Record<string, number[]>>> = {};
  for (const [g, series] of Object.entries(s.b)) {
    for (const [idx, bucket] of Object.entries(series)) {
      for (const [key, e] of Object.entries(bucket)) {
        const k = key.length === 1 ? key : `${key[0]}:${name.get(key.slice(1)) ?? `?${key.slice(1)}`}`;
        ((out[g] ??= {})[idx] ??= {})[k] = [entryValue(e, 0), entryValue(e, 1), entryValue(e, 2)];
      }
    }
  }
  return out;
}

const TYPES: EventType[] = ['view', 'click', 'add_to_cart', 'purchase'];
// `constructor` checks the merge keeps input-keyed maps prototype-less.
const POOL = ['shoes', 'hats', 'bags', 'toys', 'constructor'];

/** Sessions of 1-6 events; intra-session steps up to 1.3 gaps, so some split. Times have the given parity. */
function randomEvents(r: () => number, cfg: FeatureConfig, span: number, parity: 0 | 1): UserEvent[] {
  const out: UserEvent[] = [];
  const sessions = 1 + Math.floor(r() * 6);
  for (let s = 0; s < sessions; s++) {
    let t = T0 + Math.floor(r() * span);
    const k = 1 + Math.floor(r() * 6);
    for (let i = 0; i < k; i++) {
      t += Math.floor(r() * 1.3 * cfg.sessionGapMs);
      const type = TYPES[Math.floor(r() * TYPES.length)]!;
      const cats = POOL.filter(() => r() < 0.3).slice(0, 2);
      const priced = type === 'add_to_cart' || type === 'purchase';
      out.push(
        ev(2 * Math.floor(t / 2) + parity, type, cats, {
          // Quarters: every sum of them is exact in binary, whatever the order.
          price: priced ? (1 + Math.floor(r() * 400)) / 4 : null,
          quantity: priced && r() < 0.5 ? 1 + Math.floor(r() * 3) : null,
          context:
            r() < 0.4
              ? { country: r() < 0.5 ? 'DE' : 'FR', device: r() < 0.5 ? 'mobile' : null, referrer: null, userAgent: null }
              : null,
        }),
      );
    }
  }
  return out.sort((a, b) => a.eventTime - b.eventTime);
}

/** Session clusters of sorted times: [start, end] of each run of steps < gap. */
function clusters(times: number[], gap: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const t of times) {
    const cur = out[out.length - 1];
    if (cur && t - cur[1] < gap) cur[1] = t;
    else out.push([t, t]);
  }
  return out;
}

/** Whether a folded session of one user lies within a gap of the other's events (merge cannot join those). */
function closedTouches(own: UserEvent[], state: UserFeatureState, other: UserEvent[], gap: number): boolean {
  const folded = clusters(own.map((e) => e.eventTime), gap).slice(0, state.ses.closed);
  return folded.some(([s, e]) => other.some((x) => x.eventTime > s - gap && x.eventTime < e + gap));
}

describe('mergeFeatureStates', () => {
  it('property: merging two users’ states answers like one state fed both event sequences', () => {
    const configs = [
      resolveFeatureConfig({ maxCategories: 8 }),
      resolveFeatureConfig({ windows: ['1h', '24h', '7d'], maxCategories: 6, sessionGapMs: 20 * MINUTE, allowedLatenessMs: 2 * DAY }),
    ];
    // 3 h: sessions interleave; 20 d: beyond the second config's 7 d retention, so pruning by the merged `last` counts.
    const spans = [3 * HOUR, 2 * DAY, 20 * DAY, 80 * DAY];
    let sessionsCompared = 0;
    let sessionsJoined = 0;
    const trials = 120;
    for (let seed = 1; seed <= trials; seed++) {
      const r = rng(seed);
      const cfg = configs[seed % configs.length]!;
      const span = spans[Math.floor(r() * spans.length)]!;
      const kEvents = randomEvents(r, cfg, span, 0);
      const aEvents = randomEvents(r, cfg, span, 1);
      const k = build(kEvents, cfg);
      const a = build(aEvents, cfg);
      const openBefore = k.ses.open.length + a.ses.open.length;
      const kTouches = closedTouches(kEvents, k, aEvents, cfg.sessionGapMs);
      const aTouches = closedTouches(aEvents, a, kEvents, cfg.sessionGapMs);
      // Through JSON, as the two blobs come from Redis.
      const merged = mergeFeatureStates(parseFeatureState(serializeFeatureState(k)), parseFeatureState(serializeFeatureState(a)), cfg);
      const one = build([...kEvents, ...aEvents].sort((x, y) => x.eventTime - y.eventTime), cfg);
      const msg = `seed ${seed}`;

      expect([merged.n, merged.first, merged.last], msg).toEqual([one.n, one.first, one.last]);
      expect({ ...merged.rec }, msg).toEqual({ ...one.rec });
      expect(merged.ctx, msg).toEqual(one.ctx);
      expect(Object.keys(merged.cs).sort(), msg).toEqual(Object.keys(one.cs).sort());
      expect(new Set(Object.values(merged.cs)).size, msg).toBe(Object.keys(merged.cs).length);
      expect(bucketsByName(merged), msg).toEqual(bucketsByName(one));
      expect(merged.aff.t, msg).toBe(one.aff.t);
      for (const [c, s] of Object.entries(one.aff.s)) expect(merged.aff.s[c]! / s, `${msg} ${c}`).toBeCloseTo(1, 9);

      const mv = createFeatureView(merged, cfg);
      const ov = createFeatureView(one, cfg);
      for (const now of [one.last!, one.last! + 3 * DAY + 7 * HOUR]) {
        for (const w of cfg.windows) {
          for (const type of [null, ...TYPES]) {
            for (const category of [null, ...POOL]) {
              const q = { window: w, type, category };
              expect(mv.count(q, now), `${msg} ${JSON.stringify(q)}`).toBe(ov.count(q, now));
              expect(mv.sum({ ...q, field: 'amount' }, now), `${msg} ${JSON.stringify(q)}`).toBe(ov.sum({ ...q, field: 'amount' }, now));
            }
          }
        }
      }

      // Folded sessions have no spans, so a merge can only miss joins, never invent them.
      expect(mv.session(merged.last!).count, msg).toBeGreaterThanOrEqual(ov.session(one.last!).count);
      if (!kTouches && !aTouches) {
        sessionsCompared++;
        expect(merged.ses, msg).toEqual(one.ses);
        if (merged.ses.open.length + merged.ses.closed - k.ses.closed - a.ses.closed < openBefore) sessionsJoined++;
      }
    }
    // The generator must exercise what it claims to.
    expect(sessionsCompared).toBeGreaterThan(trials / 2);
    expect(sessionsJoined).toBeGreaterThan(10);
  });

  describe('categories beyond maxCategories', () => {
    const cfg = resolveFeatureConfig({ maxCategories: 3 });
    const T = T0 + 5 * HOUR;
    // K: shoes 5, hats 1, bags 1 (slots 0, 1, 2). A: toys 3, bags 1, art 1 (slots 0, 1, 2).
    const K = () => build([ev(T, 'purchase', ['shoes']), ev(T, 'view', ['hats']), ev(T, 'view', ['bags'])], cfg);
    const A = () => build([ev(T, 'add_to_cart', ['toys']), ev(T, 'view', ['bags']), ev(T, 'view', ['art'])], cfg);

    it('keeps the strongest, keeps into’s slots, gives new ones the lowest free slot and drops evicted keys', () => {
      const m = mergeFeatureStates(K(), A(), cfg);
      // shoes 5, toys 3, bags 1 + 1; hats and art (1 each) go.
      expect({ ...m.cs }).toEqual({ shoes: 0, bags: 2, toys: 1 });
      expect(Object.keys(m.aff.s).sort()).toEqual(['bags', 'shoes', 'toys']);
      expect(m.aff.s.bags).toBe(2);
      const keys = new Set(Object.values(m.b).flatMap((series) => Object.values(series).flatMap((b) => Object.keys(b))));
      expect([...keys].sort()).toEqual(['a', 'a1', 'p', 'p0', 'v', 'v2']);
      const view = createFeatureView(m, cfg);
      const q = (type: EventType, category: string | null) => view.count({ window: '24h', type, category }, T);
      // Slot remapping: A's toys (slot 0) and bags (slot 1) land on the merged slots 1 and 2.
      expect([q('add_to_cart', 'toys'), q('add_to_cart', 'shoes'), q('view', 'bags'), q('view', 'toys')]).toEqual([1, 0, 2, 0]);
      expect([q('purchase', 'shoes'), q('view', null), q('view', 'hats'), q('view', 'art')]).toEqual([1, 4, 0, 0]);
    });

    it('is deterministic: ties go by name, whatever the key order of the blobs', () => {
      const c2 = resolveFeatureConfig({ maxCategories: 2 });
      const k = build([ev(T, 'view', ['b'])], c2);
      const a = build([ev(T, 'view', ['c']), ev(T, 'view', ['a'])], c2);
      const m1 = mergeFeatureStates(structuredClone(k), structuredClone(a), c2);
      expect({ ...m1.cs }).toEqual({ b: 0, a: 1 }); // a, b, c tie at 1: c goes
      // The same contents with every map's keys reversed.
      const reversed = (s: UserFeatureState) =>
        JSON.parse(serializeFeatureState(s), (_k, v: unknown) =>
          v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
        ) as UserFeatureState;
      const m2 = mergeFeatureStates(reversed(k), reversed(a), c2);
      expect(bucketsByName(m2)).toEqual(bucketsByName(m1));
      expect({ ...m2.cs }).toEqual({ ...m1.cs });
      expect({ ...m2.aff.s }).toEqual({ ...m1.aff.s });
      expect(serializeFeatureState(mergeFeatureStates(K(), A(), cfg))).toBe(serializeFeatureState(mergeFeatureStates(K(), A(), cfg)));
    });
  });

  it('leaves from unchanged, shares nothing with it, and does not normalize it in place', () => {
    const cfg = resolveFeatureConfig();
    const ctx = { country: 'FR', device: 'mobile', referrer: null, userAgent: null };
    const from = JSON.parse(
      serializeFeatureState(
        build([ev(T0, 'purchase', ['shoes'], { price: 10, quantity: 2, context: ctx }), ev(T0 + MINUTE, 'view', ['hats'])], cfg),
      ),
    ) as UserFeatureState;
    const before = serializeFeatureState(from);
    const m = mergeFeatureStates(build([ev(T0 + 2 * MINUTE, 'view', ['bags'])], cfg), from, cfg);
    expect(serializeFeatureState(from)).toBe(before);
    expect(Object.getPrototypeOf(from.cs)).toBe(Object.prototype);
    // Later updates of the merged state must not reach `from` through shared arrays or objects.
    applyEvent(m, ev(T0 + 3 * MINUTE, 'purchase', ['shoes'], { price: 4, quantity: 1, context: { ...ctx, country: 'DE' } }), cfg, lookup);
    applyEvent(m, ev(T0 - MINUTE, 'view', ['hats']), cfg, lookup);
    expect(serializeFeatureState(from)).toBe(before);
  });

  it('an empty from leaves into unchanged', () => {
    const cfg = resolveFeatureConfig();
    const into = build([ev(T0, 'purchase', ['shoes'], { price: 3 }), ev(T0 + HOUR, 'view', ['hats'])], cfg);
    const before = serializeFeatureState(into);
    expect(mergeFeatureStates(into, emptyFeatureState(), cfg)).toBe(into);
    expect(mergeFeatureStates(into, parseFeatureState(null), cfg)).toBe(into);
    expect(serializeFeatureState(into)).toBe(before);
  });

  it('context: per field the later value wins, from on a tie, and a null never overwrites', () => {
    const cfg = resolveFeatureConfig();
    const c = (country: string | null, device: string | null) => ({ country, device, referrer: null, userAgent: null });
    const k = build([ev(T0, 'view', [], { context: c('DE', 'mobile') }), ev(T0 + 10, 'view', [], { context: c('AT', null) })], cfg);
    const a = build([ev(T0, 'view', [], { context: c(null, 'desktop') }), ev(T0 + 5, 'view', [], { context: c('FR', null) })], cfg);
    // country: K's AT (T0 + 10) is later than A's FR (T0 + 5); device: both at T0, A's desktop wins the tie.
    expect(mergeFeatureStates(k, a, cfg).ctx).toEqual({ country: 'AT', countryT: T0 + 10, device: 'desktop', deviceT: T0 });
    const none = build([ev(T0 + 99, 'view')], cfg);
    expect(mergeFeatureStates(none, build([ev(T0, 'view', [], { context: c('FR', null) })], cfg), cfg).ctx).toEqual({
      country: 'FR',
      countryT: T0,
      device: null,
      deviceT: null,
    });
    expect(mergeFeatureStates(build([ev(T0, 'view', [], { context: c('FR', 'tv') })], cfg), none, cfg).ctx).toEqual({
      country: 'FR',
      countryT: T0,
      device: 'tv',
      deviceT: T0,
    });
  });

  describe('sessions', () => {
    // Lateness 2 h: nothing folds unless a test says so.
    const cfg = resolveFeatureConfig({ sessionGapMs: 30 * MINUTE, allowedLatenessMs: 2 * HOUR });
    const m = (x: number) => T0 + x * MINUTE;
    const views = (xs: number[], c = cfg) => build(xs.map((x) => ev(m(x), 'view')), c);

    it('overlapping spans and spans less than a gap apart merge; a full gap does not', () => {
      // K [0, 20] and A [10, 40] overlap; A's [65] is 25 min after 40 (joins); K's [95] is exactly a gap later.
      const s = mergeFeatureStates(views([0, 20, 95]), views([10, 40, 65]), cfg);
      expect(s.ses).toEqual({ closed: 0, open: [[m(0), m(65), 5], [m(95), m(95), 1]] });
      expect(createFeatureView(s, cfg).session(m(95)).count).toBe(2);
    });

    it('a span that bridges two of the other user’s sessions joins all three', () => {
      const k = views([0, 50]);
      expect(k.ses.open).toHaveLength(2);
      const s = mergeFeatureStates(k, views([25]), cfg);
      expect(s.ses).toEqual({ closed: 0, open: [[m(0), m(50), 3]] });
    });

    it('folds spans the merged last leaves behind, adding both closed counts', () => {
      // K has folded [0] (its last is 100), A has folded [40]; K's open [100] is unreachable at the merged last 150.
      const c = resolveFeatureConfig({ sessionGapMs: 30 * MINUTE, allowedLatenessMs: 10 * MINUTE });
      const k = views([0, 100], c);
      const a = views([40, 150], c);
      expect([k.ses.closed, a.ses.closed]).toEqual([1, 1]);
      const s = mergeFeatureStates(k, a, c);
      expect(s.ses).toEqual({ closed: 3, open: [[m(150), m(150), 1]] });
      expect(s.ses).toEqual(views([0, 40, 100, 150], c).ses);
    });
  });
});
