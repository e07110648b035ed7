/**
 * Since when a user is in each segment, and why (the `since` field of the feature hash): kept by every change of
 * the segment stage, so that a reader has it long after the change left the pending list. Pure parts: nextSince,
 * the micro-batch core keeping it across events and timers, and the parse of the stored field.
 */
import { describe, expect, it } from 'vitest';
import type { UserEvent } from '../../src/domain/events.js';
import { resolveFeatureConfig, emptyFeatureState, DAY, HOUR } from '../../src/stages/segments/features/index.js';
import { compileRules, loadSegmentRulesFile } from '../../src/stages/segments/core/index.js';
import { nextSince } from '../../src/stages/segments/core/tracker.js';
import { runSegmentBatch } from '../../src/stages/segments/batch.js';
import { parseSince, type StoredUser } from '../../src/stages/segments/stored.js';
import type { OffsetEvent } from '../../src/stages/ingest/plan.js';

const cfg = resolveFeatureConfig({});
const rules = compileRules(loadSegmentRulesFile('config/segments.yaml', cfg), cfg);
const T0 = Date.UTC(2026, 10, 1);
const fresh = (): StoredUser => ({ features: emptyFeatureState(), segments: [], due: null, offset: -1, pending: [], since: {} });
const buy = (i: number, userId: string, t: number): UserEvent => ({
  eventId: `e${i}`, userId, type: 'purchase', eventTime: t, itemId: `i${i % 7}`, quantity: 1, price: 30, rating: null,
  sessionId: null, context: { country: 'France', device: null, referrer: null, userAgent: null }, properties: { category: 'tech' },
});

describe('nextSince', () => {
  it('records an entry with its time and cause, forgets an exit, and keeps the rest', () => {
    const s0 = { a: [1, 'event'] as [number, string] };
    const s1 = nextSince(s0, [
      { userId: 'u', segmentId: 'b', change: 'enter', eventTime: 5, cause: 'time', emittedAt: 9 },
      { userId: 'u', segmentId: 'a', change: 'exit', eventTime: 5, cause: 'time', emittedAt: 9 },
    ]);
    expect(s1).toEqual({ b: [5, 'time'] });
    expect(s0).toEqual({ a: [1, 'event'] }); // not mutated
    expect(nextSince(s1, [])).toBe(s1);
    expect(nextSince(s1, [{ userId: 'u', segmentId: 'b', change: 'enter', eventTime: 8, cause: 'rules', emittedAt: 9 }])).toEqual({ b: [8, 'rules'] });
  });
});

describe('the micro-batch core keeps since', () => {
  it('names, for every segment a user is in, the time and cause of its last entry, over events and a timer', () => {
    // 12 purchases a day apart for "a" (frequent_buyer, high_value, international_buyer...), one for "b".
    const records: OffsetEvent[] = [];
    for (let k = 0; k < 12; k++) records.push({ offset: records.length, event: buy(k, 'a', T0 + k * DAY) });
    records.push({ offset: records.length, event: buy(99, 'b', T0 + 11 * DAY) });
    const users = new Map([['a', fresh()], ['b', fresh()]]);
    const part = { watermark: null, offset: -1, late: [], pending: [] };
    const opts = { features: cfg, segments: rules, clock: () => 0 };
    const res = runSegmentBatch(records, part, users, -1, opts);
    for (const [id, w] of res.writes) {
      const u = w.next;
      expect(Object.keys(u.since).sort(), id).toEqual(u.segments);
      for (const seg of u.segments) {
        const entry = res.fresh.filter((c) => c.userId === id && c.segmentId === seg && c.change === 'enter').at(-1)!;
        expect(u.since[seg], `${id} ${seg}`).toEqual([entry.eventTime, entry.cause]);
      }
    }
    const a = res.writes.get('a')!.next;
    expect(a.segments).toContain('frequent_buyer');
    expect(a.since.frequent_buyer).toEqual([T0 + 9 * DAY, 'e9']); // the 10th purchase line, named by its event id
    expect(a.since.new_visitor).toBeUndefined(); // left after a day
    // 200 days later, by the timer alone: "a" lapses, the buying segments are gone from since too.
    const later = new Map([['a', { ...a, offset: records.length - 1 }]]);
    const tick = runSegmentBatch([], res.partition, later, records.length - 1, opts, T0 + 200 * DAY);
    const lapsed = tick.writes.get('a')!.next;
    expect(lapsed.segments).toEqual(['lapsed']);
    expect(Object.keys(lapsed.since)).toEqual(['lapsed']);
    expect(lapsed.since.lapsed![1]).toBe('time');
    expect(lapsed.since.lapsed![0]).toBeGreaterThan(T0 + 11 * DAY + 90 * DAY);
    expect(lapsed.since.lapsed![0]).toBeLessThanOrEqual(T0 + 11 * DAY + 90 * DAY + HOUR);
  });
});

describe('parseSince', () => {
  it('reads the stored field, absent as empty, and refuses anything else', () => {
    expect(parseSince(null)).toEqual({});
    expect({ ...parseSince('{"frequent_buyer":[5,"event"]}') }).toEqual({ frequent_buyer: [5, 'event'] });
    for (const bad of ['[]', '5', '{"a":[1]}', '{"a":["1","event"]}', '{"a":[1,2]}', 'not json']) expect(() => parseSince(bad), bad).toThrow();
    const hostile = parseSince('{"__proto__":[1,"event"]}');
    expect(Object.getPrototypeOf(hostile)).toBeNull();
  });
});
