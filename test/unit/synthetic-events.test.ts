/**
 * The memory bench's generator (bench/synthetic-events.ts): its figures are only comparable across runs and
 * machines if the same options give the same events, and only meaningful if the shape is the documented one.
 */
import { describe, expect, it } from 'vitest';
import { syntheticCatalog, syntheticEvents, type SyntheticShape } from '../../bench/synthetic-events.js';

const shape: SyntheticShape = { users: 2_000, items: 1_000, events: 20_000, seed: 7 };

describe('synthetic events', () => {
  it('gives exactly the requested number of events, in time order, byte for byte the same for the same seed', () => {
    const a = [...syntheticEvents(shape)];
    const b = [...syntheticEvents(shape)];
    expect(a).toHaveLength(shape.events);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    for (let i = 1; i < a.length; i++) expect(a[i].eventTime).toBeGreaterThanOrEqual(a[i - 1].eventTime);
    expect(JSON.stringify([...syntheticEvents({ ...shape, seed: 8 })])).not.toBe(JSON.stringify(a));
  });

  it('has power-law items and users, and sessions of neighbouring items', () => {
    const events = [...syntheticEvents(shape)];
    const share = (counts: Map<string, number>, top: number) => {
      const sorted = [...counts.values()].sort((x, y) => y - x);
      return sorted.slice(0, top).reduce((s, x) => s + x, 0) / events.length;
    };
    const byItem = new Map<string, number>();
    const byUser = new Map<string, number>();
    for (const e of events) {
      byItem.set(e.itemId!, (byItem.get(e.itemId!) ?? 0) + 1);
      byUser.set(e.userId, (byUser.get(e.userId) ?? 0) + 1);
    }
    // Under a uniform law the top 1 % would take ~1 %; a Zipf law with exponent 1 gives it far more.
    expect(share(byItem, shape.items / 100)).toBeGreaterThan(0.15);
    expect(share(byUser, shape.users / 100)).toBeGreaterThan(0.08);
    // Consecutive events of one user share the category more often than two random events would (1/50).
    const last = new Map<string, string>();
    let same = 0;
    let pairs = 0;
    for (const e of events) {
      const c = e.properties.category;
      const prev = last.get(e.userId);
      if (prev !== undefined) {
        pairs++;
        if (prev === c) same++;
      }
      last.set(e.userId, c);
    }
    expect(same / pairs).toBeGreaterThan(0.2);
  });

  it('names in the catalog every item the events use, with its category', () => {
    const catalog = new Map(syntheticCatalog(shape).map((c) => [c.itemId, c]));
    expect(catalog.size).toBe(shape.items);
    for (const e of syntheticEvents({ ...shape, events: 2_000 })) expect(catalog.get(e.itemId!)?.categories).toEqual([e.properties.category]);
  });
});
