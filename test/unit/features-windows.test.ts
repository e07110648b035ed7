import { describe, expect, it } from 'vitest';
import type { EventType, UserEvent } from '../../src/domain/events.js';
import {
  applyEvent,
  classifyLateness,
  createFeatureView,
  emptyFeatureState,
  parseFeatureState,
  resolveFeatureConfig,
  serializeFeatureState,
  advanceWatermark,
  newWatermark,
  DAY,
  HOUR,
  MINUTE,
  type UserFeatureState,
} from '../../src/stages/segments/features/index.js';
import { userEvent } from '../support/user-event.js';

const cfg = resolveFeatureConfig();
const T0 = Date.UTC(2024, 0, 1); // midnight: a bucket boundary for every granularity
let seq = 0;
function ev(t: number, type: EventType = 'view', extra: Partial<UserEvent> = {}): UserEvent {
  return userEvent({ eventId: `e${seq++}`, userId: 'u1', type, eventTime: t, itemId: 'i1', ...extra });
}
function build(events: UserEvent[], lookup?: (id: string) => string[]): UserFeatureState {
  const s = emptyFeatureState();
  for (const e of events) applyEvent(s, e, cfg, lookup);
  return s;
}

describe('feature config', () => {
  it('picks bucket granularities per window', () => {
    expect(cfg.windows.map((w) => [w.name, w.granularityMs, w.buckets])).toEqual([
      ['1h', MINUTE, 60],
      ['24h', HOUR, 24],
      ['7d', HOUR, 168],
      ['30d', DAY, 30],
      ['90d', DAY, 90],
    ]);
    expect(() => resolveFeatureConfig({ windows: ['90s'] })).toThrow(/multiple of one of 1m, 1h, 1d/);
    expect(() => resolveFeatureConfig({ windows: ['soon'] })).toThrow(/invalid window "soon"/);
  });
});

describe('window bucketing', () => {
  it('an event counts until its bucket leaves the window, exactly at the edge', () => {
    const t = T0 + 10 * MINUTE + 30_000; // 00:10:30 -> minute bucket 00:10, hour bucket 00:00, day bucket T0
    const v = createFeatureView(build([ev(t)]), cfg);
    // 1h window, minute buckets: leaves at 01:10:00
    expect(v.count({ window: '1h' }, T0 + HOUR + 10 * MINUTE - 1)).toBe(1);
    expect(v.count({ window: '1h' }, T0 + HOUR + 10 * MINUTE)).toBe(0);
    // 24h window, hour buckets: leaves at T0 + 24h (bucket 00:00 + 24h)
    expect(v.count({ window: '24h' }, T0 + DAY - 1)).toBe(1);
    expect(v.count({ window: '24h' }, T0 + DAY)).toBe(0);
    expect(v.count({ window: '1d' }, T0 + DAY - 1)).toBe(1); // same window, other spelling
    // 7d: T0 + 7d; 30d: T0 + 30d
    expect(v.count({ window: '7d' }, T0 + 7 * DAY - 1)).toBe(1);
    expect(v.count({ window: '7d' }, T0 + 7 * DAY)).toBe(0);
    expect(v.count({ window: '30d' }, T0 + 30 * DAY - 1)).toBe(1);
    expect(v.count({ window: '30d' }, T0 + 30 * DAY)).toBe(0);
    // never counted longer than the window itself
    expect(v.count({ window: '1h' }, t + HOUR)).toBe(0);
  });

  it('an event exactly at a bucket boundary belongs to the bucket that starts there', () => {
    const v = createFeatureView(build([ev(T0 + HOUR)]), cfg);
    expect(v.count({ window: '24h' }, T0 + HOUR + DAY - 1)).toBe(1);
    expect(v.count({ window: '24h' }, T0 + HOUR + DAY)).toBe(0);
  });

  it('the timeline lists the exact exit times and values', () => {
    const s = build([ev(T0 + 5 * MINUTE), ev(T0 + 5 * MINUTE + 1), ev(T0 + 20 * MINUTE)]);
    const v = createFeatureView(s, cfg);
    const tl = v.aggregateTimeline({ window: '1h', field: 'count' }, T0 + 30 * MINUTE);
    expect(tl).toEqual({
      value: 3,
      steps: [
        [T0 + 65 * MINUTE, 1],
        [T0 + 80 * MINUTE, 0],
      ],
    });
  });

  it('filters by type, category and sums amounts (quantity × price)', () => {
    const cats = (id: string) => (id === 'laptop' ? ['tech', 'office'] : ['garden']);
    const s = build(
      [
        ev(T0, 'view', { itemId: 'laptop' }),
        ev(T0 + 1, 'view', { itemId: 'rake' }),
        ev(T0 + 2, 'view', { itemId: 'x', properties: { category: 'tech' } }),
        ev(T0 + 3, 'purchase', { itemId: 'laptop', quantity: 2, price: 100.5 }),
        ev(T0 + 4, 'purchase', { itemId: 'rake', quantity: null, price: 10 }),
      ],
      cats,
    );
    const v = createFeatureView(s, cfg);
    const now = T0 + MINUTE;
    expect(v.count({ type: 'view', window: '7d' }, now)).toBe(3);
    expect(v.count({ type: 'view', category: 'tech', window: '7d' }, now)).toBe(2);
    expect(v.count({ category: 'tech', window: '7d' }, now)).toBe(3);
    expect(v.count({ window: '7d' }, now)).toBe(5);
    expect(v.count({ type: ['view', 'purchase'], category: 'garden', window: '7d' }, now)).toBe(2);
    expect(v.sum({ type: 'purchase', field: 'amount', window: '30d' }, now)).toBe(211);
    expect(v.sum({ type: 'purchase', field: 'quantity', window: '30d' }, now)).toBe(3);
    expect(v.rfm('30d', now)).toEqual({ recencyMs: now - (T0 + 4), frequency: 2, monetary: 211 });
    expect(() => v.count({ window: '8d' }, now)).toThrow(/configured windows: 1h, 24h, 7d, 30d, 90d/);
  });

  it('out-of-order events land in the buckets of their event time', () => {
    const inOrder = build([ev(T0), ev(T0 + 2 * HOUR), ev(T0 + 3 * HOUR)]);
    const shuffled = build([ev(T0 + 3 * HOUR), ev(T0), ev(T0 + 2 * HOUR)]);
    const a = createFeatureView(inOrder, cfg);
    const b = createFeatureView(shuffled, cfg);
    for (const now of [T0 + 3 * HOUR, T0 + DAY, T0 + DAY + 2 * HOUR, T0 + DAY + 3 * HOUR]) {
      for (const window of ['1h', '24h', '7d']) expect(b.count({ window }, now)).toBe(a.count({ window }, now));
    }
    expect(b.count({ window: '24h' }, T0 + DAY)).toBe(2);
    expect(b.firstSeen).toBe(T0);
    expect(b.lastSeen).toBe(T0 + 3 * HOUR);
  });

  it('expires old buckets so the state stays bounded', () => {
    const events: UserEvent[] = [];
    for (let i = 0; i < 2000; i++) events.push(ev(T0 + i * 97 * MINUTE, i % 3 === 0 ? 'purchase' : 'view', { quantity: 1, price: 3 }));
    const s = build(events);
    expect(Object.keys(s.b[String(MINUTE)]!).length).toBeLessThanOrEqual(60);
    expect(Object.keys(s.b[String(HOUR)]!).length).toBeLessThanOrEqual(168);
    expect(Object.keys(s.b[String(DAY)]!).length).toBeLessThanOrEqual(90);
    expect(serializeFeatureState(s).length).toBeLessThan(20_000);
    // a late event whose buckets are already outside every window changes no window
    const v = createFeatureView(s, cfg);
    const now = s.last!;
    const before = cfg.windows.map((w) => v.count({ window: w.name }, now));
    applyEvent(s, ev(T0), cfg);
    expect(cfg.windows.map((w) => v.count({ window: w.name }, now))).toEqual(before);
    expect(s.first).toBe(T0);
  });

  it('round-trips through JSON', () => {
    const s = build([ev(T0, 'purchase', { quantity: 3, price: 0.1, context: { country: 'FR', device: 'ios', referrer: null, userAgent: null } })]);
    const back = parseFeatureState(serializeFeatureState(s));
    expect(back).toEqual(s);
    expect(parseFeatureState(null)).toEqual(emptyFeatureState());
  });
});

describe('lateness', () => {
  const L = 10 * MINUTE;
  it('classifies against the watermark with the boundary accepted', () => {
    expect(classifyLateness(T0, newWatermark(), L)).toBe('on_time');
    const wm = advanceWatermark(newWatermark(), T0 + HOUR);
    expect(classifyLateness(T0 + HOUR, wm, L)).toBe('on_time');
    expect(classifyLateness(T0 + 2 * HOUR, wm, L)).toBe('on_time');
    expect(classifyLateness(T0 + HOUR - 1, wm, L)).toBe('late_accepted');
    expect(classifyLateness(T0 + HOUR - L, wm, L)).toBe('late_accepted');
    expect(classifyLateness(T0 + HOUR - L - 1, wm, L)).toBe('too_late');
    expect(classifyLateness(T0, T0 + HOUR, L)).toBe('too_late');
    expect(advanceWatermark(wm, T0).maxEventTime).toBe(T0 + HOUR);
  });

  it('a late accepted event updates the bucket of its own time', () => {
    // events at 00:58 (on time), watermark at 01:05 from another user; late event at 00:59:59 within 10 min
    const s = build([ev(T0 + 58 * MINUTE)]);
    applyEvent(s, ev(T0 + HOUR - 1), cfg);
    const v = createFeatureView(s, cfg);
    const now = T0 + HOUR + 5 * MINUTE;
    expect(v.count({ window: '1h' }, now)).toBe(2);
    // both leave the 1h window at the end of their minute buckets: 01:58 and 01:59
    expect(v.aggregateTimeline({ window: '1h' }, now).steps).toEqual([
      [T0 + 118 * MINUTE, 1],
      [T0 + 119 * MINUTE, 0],
    ]);
    // and in the 24h window it is in the 00:00 hour bucket, not in the 01:00 one
    expect(v.count({ window: '24h' }, T0 + DAY - 1)).toBe(2);
    expect(v.count({ window: '24h' }, T0 + DAY)).toBe(0);
  });
});

describe('recency, affinity, context', () => {
  it('tracks recency per type and first/last seen', () => {
    const s = build([ev(T0 + 5, 'view'), ev(T0 + 9, 'purchase'), ev(T0 + 7, 'view'), ev(T0 + 1, 'click')]);
    const v = createFeatureView(s, cfg);
    expect(v.recencyMs('view', T0 + 100)).toBe(93);
    expect(v.recencyMs('purchase', T0 + 100)).toBe(91);
    expect(v.recencyMs(null, T0 + 100)).toBe(91);
    expect(v.recencyMs('rating', T0 + 100)).toBeNull();
    expect([v.firstSeen, v.lastSeen, v.totalEvents]).toEqual([T0 + 1, T0 + 9, 4]);
  });

  it('decays category affinity with the half-life and ranks categories', () => {
    const c = resolveFeatureConfig({ affinityHalfLifeMs: DAY });
    const s = emptyFeatureState();
    applyEvent(s, ev(T0, 'purchase', { properties: { category: 'books' } }), c); // 5
    applyEvent(s, ev(T0 + DAY, 'view', { properties: { category: 'tech' } }), c); // 1
    applyEvent(s, ev(T0 + DAY, 'view', { properties: { category: 'tech' } }), c); // 1
    const v = createFeatureView(s, c);
    const aff = v.affinity(T0 + 2 * DAY);
    expect(aff.map((a) => a.category)).toEqual(['books', 'tech']);
    expect(aff[0]!.score).toBeCloseTo(1.25, 10);
    expect(aff[1]!.score).toBeCloseTo(1, 10);
    expect(v.affinityRank('books')).toBe(1);
    expect(v.affinityRank('tech')).toBe(2);
    expect(v.affinityRank('garden')).toBeNull();
    // a late event is decayed to the state's reference time
    applyEvent(s, ev(T0, 'purchase', { properties: { category: 'tech' } }), c);
    expect(v.affinity(T0 + DAY).find((a) => a.category === 'tech')!.score).toBeCloseTo(4.5, 10);
    expect(v.topCategories(1, T0 + DAY)[0]!.category).toBe('tech');
  });

  it('tracks at most maxCategories categories, evicting the weakest with its counts', () => {
    const c = resolveFeatureConfig({ maxCategories: 2 });
    const s = emptyFeatureState();
    applyEvent(s, ev(T0, 'purchase', { properties: { category: 'a' } }), c);
    applyEvent(s, ev(T0 + 1, 'view', { properties: { category: 'b' } }), c);
    applyEvent(s, ev(T0 + 2, 'view', { properties: { category: 'c' } }), c);
    const v = createFeatureView(s, c);
    expect(Object.keys(s.aff.s).sort()).toEqual(['a', 'c']);
    expect(v.count({ category: 'b', window: '7d' }, T0 + 3)).toBe(0);
    expect(v.count({ category: 'c', window: '7d' }, T0 + 3)).toBe(1);
    expect(v.count({ type: 'view', window: '7d' }, T0 + 3)).toBe(2);
  });

  it('keeps the latest context by event time', () => {
    const ctx = (country: string | null, device: string | null) => ({ context: { country, device, referrer: null, userAgent: null } });
    const s = build([ev(T0 + 10, 'view', ctx('FR', 'ios')), ev(T0 + 5, 'view', ctx('DE', 'web')), ev(T0 + 20, 'view', ctx(null, 'android'))]);
    expect(createFeatureView(s, cfg).context).toEqual({ country: 'FR', device: 'android' });
  });

  it('ignores consent and erase events', () => {
    expect(build([ev(T0, 'consent'), ev(T0, 'erase')])).toEqual(emptyFeatureState());
  });
});
