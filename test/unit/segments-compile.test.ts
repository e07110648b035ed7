import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { EventType, UserEvent } from '../../src/domain/events.js';
import {
  applyEvent,
  createFeatureView,
  emptyFeatureState,
  resolveFeatureConfig,
  DAY,
  HOUR,
  MINUTE,
  type FeatureConfig,
} from '../../src/stages/segments/features/index.js';
import { compileRules, loadSegmentRulesFile, parseSegmentRules, segmentChanges, timerDue } from '../../src/stages/segments/core/index.js';
import { userEvent } from '../support/user-event.js';

const cfg = resolveFeatureConfig();
const shipped = compileRules(loadSegmentRulesFile('config/segments.yaml', cfg), cfg);
const T0 = Date.UTC(2024, 0, 1);
let seq = 0;
function ev(t: number, type: EventType, extra: Partial<UserEvent> = {}): UserEvent {
  return userEvent({ eventId: `e${seq++}`, userId: 'u', type, eventTime: t, itemId: 'i', ...extra });
}
function viewOf(events: UserEvent[], c: FeatureConfig = cfg) {
  const s = emptyFeatureState();
  for (const e of events) applyEvent(s, e, c);
  return createFeatureView(s, c);
}
const tech = (t: number) => ev(t, 'view', { properties: { category: 'tech' } });

/** Checks nextChangeTime exactness: same membership at next-1 (and on samples before it), different at next. */
function expectExact(compiled: ReturnType<typeof compileRules>, view: ReturnType<typeof viewOf>, now: number, samples: number[] = []) {
  const base = compiled.evaluate(view, now);
  const times = compiled.nextChangeTimes(view, now);
  for (const seg of compiled.segments) {
    const next = times.get(seg.id);
    const inAt = (t: number) => compiled.evaluate(view, t).has(seg.id);
    if (next === undefined) {
      for (const t of [...samples, now + 400 * DAY]) if (t >= now) expect(inAt(t), `${seg.id} at ${t}`).toBe(base.has(seg.id));
      continue;
    }
    expect(next).toBeGreaterThan(now);
    expect(inAt(next - 1), `${seg.id} just before`).toBe(base.has(seg.id));
    expect(inAt(next), `${seg.id} at next`).toBe(!base.has(seg.id));
    for (const t of samples) if (t >= now && t < next) expect(inAt(t), `${seg.id} at sample ${t}`).toBe(base.has(seg.id));
  }
  const min = compiled.nextChangeTime(view, now);
  expect(min).toBe(times.size ? Math.min(...times.values()) : null);
}

describe('compiled segments (shipped rules)', () => {
  it('tech_enthusiast: more than 5 tech views in 7d, exit exactly when the 6th-newest leaves the window', () => {
    const events = [0, 1, 2, 3, 4, 5].map((i) => tech(T0 + i * HOUR + 10 * MINUTE));
    const v = viewOf(events);
    const now = T0 + 5 * HOUR + 10 * MINUTE;
    expect(shipped.evaluate(v, now).has('tech_enthusiast')).toBe(true);
    // the oldest view (bucket 00:00) leaves the 7d window at T0 + 7d exactly
    expect(shipped.nextChangeTimes(v, now).get('tech_enthusiast')).toBe(T0 + 7 * DAY);
    expect(shipped.evaluate(v, T0 + 7 * DAY - 1).has('tech_enthusiast')).toBe(true);
    expect(shipped.evaluate(v, T0 + 7 * DAY).has('tech_enthusiast')).toBe(false);
    expect(shipped.evaluate(viewOf(events.slice(1)), now).has('tech_enthusiast')).toBe(false);
    expectExact(shipped, v, now);
  });

  it('at_risk: enters 30 days + 1 ms after the last purchase, leaves when 90d holds fewer than 2', () => {
    const v = viewOf([ev(T0, 'purchase', { price: 5 }), ev(T0 + DAY, 'purchase', { price: 5 })]);
    const now = T0 + DAY;
    expect(shipped.evaluate(v, now).has('at_risk')).toBe(false);
    const enter = T0 + DAY + 30 * DAY + 1;
    expect(shipped.nextChangeTimes(v, now).get('at_risk')).toBe(enter);
    expect(shipped.evaluate(v, enter - 1).has('at_risk')).toBe(false);
    expect(shipped.evaluate(v, enter).has('at_risk')).toBe(true);
    // from inside: the first purchase's day bucket leaves the 90d window at T0 + 90d
    expect(shipped.nextChangeTimes(v, enter).get('at_risk')).toBe(T0 + 90 * DAY);
    expectExact(shipped, v, now);
    expectExact(shipped, v, enter);
  });

  it('high_value, frequent_buyer, new_visitor, international_buyer', () => {
    const fr = { country: 'France', device: 'web', referrer: null, userAgent: null };
    const events = Array.from({ length: 10 }, (_, i) => ev(T0 + i * MINUTE, 'purchase', { quantity: 2, price: 10, context: fr }));
    const v = viewOf(events);
    const now = T0 + 9 * MINUTE;
    expect([...shipped.evaluate(v, now)].sort()).toEqual(['frequent_buyer', 'high_value', 'international_buyer', 'new_visitor']);
    const next = shipped.nextChangeTimes(v, now);
    expect(next.get('new_visitor')).toBe(T0 + DAY + 1); // first seen + 24h, lte -> leaves 1 ms after
    expect(next.get('high_value')).toBe(T0 + 30 * DAY);
    expect(next.get('frequent_buyer')).toBe(T0 + 30 * DAY);
    expect(next.get('international_buyer')).toBe(T0 + 90 * DAY);
    expectExact(shipped, v, now);
    const uk = viewOf([ev(T0, 'purchase', { context: { ...fr, country: 'United Kingdom' } })]);
    expect(shipped.evaluate(uk, T0).has('international_buyer')).toBe(false);
  });

  it('sessions, not, eq/ne, exists and affinity rank', () => {
    const rules = compileRules(
      parseSegmentRules(
        `segments:
  in_session:
    when: { all: [ { session: active, eq: true }, { session: current_events, gte: 2 } ] }
  not_recent_viewer:
    when: { not: { recency: view, lt: 1h } }
  exactly_day_old:
    when: { since_first_seen: {}, eq: 1d }
  never_bought:
    when: { recency: purchase, exists: false }
  top_books:
    when: { affinity_rank: books, lte: 1 }
  not_ios:
    when: { context: device, ne: ios }
`,
        cfg,
      ),
      cfg,
    );
    const v = viewOf([
      ev(T0, 'view', { properties: { category: 'books' }, context: { country: null, device: 'android', referrer: null, userAgent: null } }),
      ev(T0 + 10 * MINUTE, 'view'),
    ]);
    const now = T0 + 10 * MINUTE;
    expect([...rules.evaluate(v, now)].sort()).toEqual(['in_session', 'never_bought', 'not_ios', 'top_books']);
    const next = rules.nextChangeTimes(v, now);
    expect(next.get('in_session')).toBe(now + 30 * MINUTE);
    expect(next.get('not_recent_viewer')).toBe(now + HOUR);
    expect(next.get('exactly_day_old')).toBe(T0 + DAY);
    expect(next.has('never_bought')).toBe(false);
    expect(rules.nextChangeTimes(v, T0 + DAY).get('exactly_day_old')).toBe(T0 + DAY + 1);
    expectExact(rules, v, now);
    expectExact(rules, v, T0 + DAY);
  });

  it('property: nextChangeTime is exact for random histories and rules', () => {
    const rules = compileRules(
      parseSegmentRules(
        `segments:
  a: { when: { count: { type: view, window: 1h }, gte: 3 } }
  b: { when: { any: [ { count: { category: tech, window: 24h }, gt: 1 }, { recency: purchase, lte: 2h } ] } }
  c: { when: { all: [ { sum: { type: purchase, window: 7d }, gte: 30 }, { not: { count: { window: 1h }, gt: 0 } } ] } }
  d: { when: { all: [ { rfm: { metric: frequency, window: 30d }, eq: 2 }, { rfm: { metric: recency }, gt: 3d } ] } }
  e: { when: { any: [ { session: current_length, gte: 20m }, { since_first_seen: {}, lt: 2d } ] } }
  f: { when: { count: { type: [view, click], category: books, window: 90d }, ne: 4 } }
`,
        cfg,
      ),
      cfg,
    );
    const evArb = fc.record({
      dt: fc.integer({ min: 0, max: 40 * DAY }),
      type: fc.constantFrom<EventType>('view', 'click', 'purchase'),
      cat: fc.constantFrom('tech', 'books', ''),
      price: fc.constantFrom(0.1, 3.3, 10, 25),
    });
    fc.assert(
      fc.property(
        fc.array(evArb, { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 0, max: 60 * DAY }),
        fc.array(fc.integer({ min: 0, max: 100 * DAY }), { maxLength: 10 }),
        (items, lag, offsets) => {
          const events = items.map((x) => ev(T0 + x.dt, x.type, { price: x.price, quantity: 1, properties: x.cat ? { category: x.cat } : {} }));
          const v = viewOf(events);
          const now = v.lastSeen! + lag;
          expectExact(rules, v, now, offsets.map((o) => now + o));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('segment tracker', () => {
  it('produces entries and exits sorted by segment id', () => {
    expect(segmentChanges('u', ['b', 'c', 'x'], ['a', 'c', 'd'], 100, 'e1', 7)).toEqual([
      { userId: 'u', segmentId: 'a', change: 'enter', eventTime: 100, cause: 'e1', emittedAt: 7 },
      { userId: 'u', segmentId: 'b', change: 'exit', eventTime: 100, cause: 'e1', emittedAt: 7 },
      { userId: 'u', segmentId: 'd', change: 'enter', eventTime: 100, cause: 'e1', emittedAt: 7 },
      { userId: 'u', segmentId: 'x', change: 'exit', eventTime: 100, cause: 'e1', emittedAt: 7 },
    ]);
    expect(segmentChanges('u', ['a'], new Set(['a']), 1, 'time')).toEqual([]);
  });

  it('rounds due times up to the timer resolution', () => {
    expect(timerDue(1000, 1000)).toBe(1000);
    expect(timerDue(1001, 1000)).toBe(2000);
  });
});
