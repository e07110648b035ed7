/** Attribution: which variants a user's impressions, clicks and purchases count for, with real signed ids. */
import { describe, expect, it } from 'vitest';
import { attribute, MAX_CLICKS, type AttributedRecord, type RememberedClick } from '../../src/experiments/attribution.js';
import { countField, type Metric } from '../../src/experiments/counts.js';
import { RecommendationIds, type IdAssignment } from '../../src/experiments/recommendation-id.js';

const ids = new RecommendationIds(Buffer.from('attribution-test-key-32-bytes!!!'));
const USER = 'p-user';
const read = (id: string) => ids.read(USER, id);
const WINDOW = 3_600_000;
const T0 = Date.UTC(2027, 0, 10);

const AB: IdAssignment = { experiment: 'home_ab', variant: 'collaborative', segment: null };
const BANDIT: IdAssignment = { experiment: 'strategy_bandit', variant: 'trending', segment: 'frequent_buyer' };
const OTHER: IdAssignment = { experiment: 'home_ab', variant: 'control', segment: null };

let offset = 100;
function rec(type: string, itemId: string | null, recommendationId: string | null, eventTime: number, at = offset++): AttributedRecord {
  return { offset: at, type, itemId, recommendationId, eventTime };
}
const reset = (eventTime: number, at = offset++): AttributedRecord => ({ offset: at, reset: true, type: 'reset', itemId: null, recommendationId: null, eventTime });

/** The deltas expected for one counted event: every assignment under `*`, and under its segment when it has one. */
function expectedDeltas(at: number, as: readonly IdAssignment[], metric: Metric): Array<[number, string, number]> {
  return as.flatMap((a) => [
    [at, countField(a.experiment, a.variant, null, metric), 1] as [number, string, number],
    ...(a.segment === null ? [] : [[at, countField(a.experiment, a.variant, a.segment, metric), 1] as [number, string, number]]),
  ]);
}
const sorted = <T>(xs: T[]) => [...xs].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

describe('attribute', () => {
  it.each([
    ['impression', 'i'],
    ['click', 'c'],
    ['purchase', 'v'],
  ] as const)('a %s with an id counts %s for every assignment, and under the segment when it has one', (type, metric) => {
    const id = ids.mint(USER, [AB, BANDIT], '0.10');
    const r = rec(type, 'item-1', id, T0);
    const out = attribute([r], [], read, WINDOW);
    expect(sorted(out.deltas)).toEqual(
      sorted([
        [r.offset, `home_ab|collaborative|*|${metric}`, 1],
        [r.offset, `strategy_bandit|trending|*|${metric}`, 1],
        [r.offset, `strategy_bandit|trending|frequent_buyer|${metric}`, 1],
      ]),
    );
    expect(sorted(out.deltas)).toEqual(sorted(expectedDeltas(r.offset, [AB, BANDIT], metric)));
    expect(sorted(out.counted)).toEqual(
      sorted([
        { experiment: 'home_ab', variant: 'collaborative', metric },
        { experiment: 'strategy_bandit', variant: 'trending', metric },
      ]),
    );
    expect(out.refused).toBe(0);
  });

  it('deltas carry the offsets of their records, in offset order', () => {
    const a = ids.mint(USER, [AB], '0.1');
    const b = ids.mint(USER, [BANDIT], '0.2');
    const records = [rec('impression', 'x', a, T0, 7), rec('impression', 'y', b, T0 + 1, 8), rec('click', 'x', a, T0 + 2, 9), rec('purchase', 'y', b, T0 + 3, 12)];
    const out = attribute(records, [], read, WINDOW);
    expect(sorted(out.deltas)).toEqual(
      sorted([...expectedDeltas(7, [AB], 'i'), ...expectedDeltas(8, [BANDIT], 'i'), ...expectedDeltas(9, [AB], 'c'), ...expectedDeltas(12, [BANDIT], 'v')]),
    );
    const offsets = out.deltas.map((d) => d[0]);
    expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
  });

  it('ids that do not verify are counted as refused and count nothing (nor are their clicks remembered)', () => {
    const forOther = ids.mint('p-someone-else', [AB], '0.1');
    const good = ids.mint(USER, [AB], '0.1');
    const altered = good.replace('collaborative', 'control');
    const otherKey = new RecommendationIds(Buffer.from('another-key-another-key-another!')).mint(USER, [AB], '0.1');
    const records = [
      rec('impression', 'x', forOther, T0),
      rec('click', 'x', altered, T0 + 1),
      rec('purchase', 'x', otherKey, T0 + 2),
      rec('click', 'x', 'garbage', T0 + 3),
      rec('impression', 'x', '', T0 + 4),
    ];
    const out = attribute(records, [], read, WINDOW);
    expect(out.refused).toBe(5);
    expect(out.deltas).toEqual([]);
    expect(out.counted).toEqual([]);
    expect(out.clicks).toEqual([]);
    // a purchase without an id afterwards finds no click to convert
    expect(attribute([rec('purchase', 'x', null, T0 + 5)], out.clicks, read, WINDOW).deltas).toEqual([]);
  });

  it('an id of a list in no experiment counts nothing and is not refused', () => {
    const none = ids.mint(USER, [], '0.3');
    const records = [rec('impression', 'x', none, T0), rec('click', 'x', none, T0 + 1), rec('purchase', 'x', none, T0 + 2)];
    const out = attribute(records, [], read, WINDOW);
    expect(out).toMatchObject({ deltas: [], counted: [], refused: 0 });
    // its click converts nothing later either
    expect(attribute([rec('purchase', 'x', null, T0 + 3)], out.clicks, read, WINDOW).deltas).toEqual([]);
  });

  it('a view (or any other type) with an id counts nothing', () => {
    const id = ids.mint(USER, [AB], '0.4');
    for (const type of ['view', 'add_to_cart', 'rating', 'search']) {
      const out = attribute([rec(type, 'x', id, T0)], [], read, WINDOW);
      expect(out.deltas, type).toEqual([]);
      expect(out.counted, type).toEqual([]);
      expect(out.clicks, type).toEqual([]);
    }
  });

  describe('a purchase without an id', () => {
    const clickId = ids.mint(USER, [AB, BANDIT], '1.1');

    it('converts the remembered click on the same item within the window, for every assignment of its id', () => {
      const click = rec('click', 'sku', clickId, T0);
      const first = attribute([click], [], read, WINDOW);
      expect(first.clicks).toEqual([['sku', clickId, T0]]);
      const p = rec('purchase', 'sku', null, T0 + WINDOW / 2);
      const out = attribute([p], first.clicks, read, WINDOW);
      expect(sorted(out.deltas)).toEqual(sorted(expectedDeltas(p.offset, [AB, BANDIT], 'v')));
      expect(sorted(out.counted)).toEqual(sorted([
        { experiment: AB.experiment, variant: AB.variant, metric: 'v' },
        { experiment: BANDIT.experiment, variant: BANDIT.variant, metric: 'v' },
      ]));
      // the click is forgotten
      expect(out.clicks).toEqual([]);
      // the input was not changed
      expect(first.clicks).toEqual([['sku', clickId, T0]]);
    });

    it('converts a click only once: a second purchase gets nothing (in the same batch or a later one)', () => {
      const same = attribute([rec('click', 'sku', clickId, T0), rec('purchase', 'sku', null, T0 + 10), rec('purchase', 'sku', null, T0 + 20)], [], read, WINDOW);
      expect(same.deltas.filter((d) => d[1].endsWith('|v'))).toHaveLength(3); // one conversion: AB, BANDIT and its segment
      expect(new Set(same.deltas.filter((d) => d[1].endsWith('|v')).map((d) => d[0])).size).toBe(1);
      const clicks: RememberedClick[] = [['sku', clickId, T0]];
      const one = attribute([rec('purchase', 'sku', null, T0 + 10)], clicks, read, WINDOW);
      expect(one.deltas).not.toEqual([]);
      const two = attribute([rec('purchase', 'sku', null, T0 + 20)], one.clicks, read, WINDOW);
      expect(two.deltas).toEqual([]);
      expect(two.counted).toEqual([]);
    });

    it('converts the latest remembered click on the item', () => {
      const older = ids.mint(USER, [OTHER], '1.2');
      const newer = ids.mint(USER, [AB], '1.3');
      const p = rec('purchase', 'sku', null, T0 + 100);
      const out = attribute([rec('click', 'sku', older, T0), rec('click', 'sku', newer, T0 + 50), p], [], read, WINDOW);
      expect(out.deltas.filter((d) => d[0] === p.offset)).toEqual(expectedDeltas(p.offset, [AB], 'v'));
      expect(out.clicks).toEqual([['sku', older, T0]]);
    });

    it('converts nothing outside the window (the window itself included), before the click, or for another item', () => {
      const clicks: RememberedClick[] = [['sku', clickId, T0]];
      for (const [item, t] of [['sku', T0 + WINDOW + 1], ['sku', T0 - 1], ['other', T0 + 10]] as const) {
        const out = attribute([rec('purchase', item, null, t)], clicks, read, WINDOW);
        expect(out.deltas, `${item} at ${t - T0}`).toEqual([]);
        expect(out.clicks, 'the click stays remembered').toEqual(clicks);
      }
      expect(attribute([rec('purchase', null, null, T0 + 10)], clicks, read, WINDOW).deltas).toEqual([]);
      // at most windowMs before it: the boundary converts
      expect(attribute([rec('purchase', 'sku', null, T0 + WINDOW)], clicks, read, WINDOW).deltas).not.toEqual([]);
      // at the click's own time too
      expect(attribute([rec('purchase', 'sku', null, T0)], clicks, read, WINDOW).deltas).not.toEqual([]);
    });

    it('an impression or a click without an id counts nothing', () => {
      const clicks: RememberedClick[] = [['sku', clickId, T0]];
      const out = attribute([rec('impression', 'sku', null, T0 + 1), rec('click', 'sku', null, T0 + 2)], clicks, read, WINDOW);
      expect(out).toMatchObject({ deltas: [], counted: [], refused: 0, clicks });
    });
  });

  it(`remembers the last ${MAX_CLICKS} clicks with an id and an item (the oldest dropped)`, () => {
    const id = ids.mint(USER, [AB], '2.1');
    const n = MAX_CLICKS + 3;
    const clicks = Array.from({ length: n }, (_, k) => rec('click', `i${k}`, id, T0 + k));
    // a click without an item is counted but not remembered
    const out = attribute([...clicks, rec('click', null, id, T0 + n)], [], read, WINDOW);
    expect(out.clicks).toHaveLength(MAX_CLICKS);
    expect(out.clicks.map((c) => c[0])).toEqual(Array.from({ length: MAX_CLICKS }, (_, k) => `i${k + 3}`));
    expect(out.deltas.filter((d) => d[1].endsWith('|c'))).toHaveLength(n + 1);
    // the cap holds across calls, too
    const more = attribute([rec('click', 'late', id, T0 + 100)], out.clicks, read, WINDOW);
    expect(more.clicks).toHaveLength(MAX_CLICKS);
    expect(more.clicks.map((c) => c[0])).toEqual([...out.clicks.slice(1).map((c) => c[0]), 'late']);
    // a dropped click converts nothing, a kept one does
    expect(attribute([rec('purchase', 'i0', null, T0 + 200)], more.clicks, read, WINDOW).deltas).toEqual([]);
    expect(attribute([rec('purchase', 'i2', null, T0 + 200)], more.clicks, read, WINDOW).deltas).toEqual([]);
    expect(attribute([rec('purchase', 'i4', null, T0 + 200)], more.clicks, read, WINDOW).deltas).not.toEqual([]);
  });

  it('a reset forgets the remembered clicks (earlier ones and those of the same batch)', () => {
    const id = ids.mint(USER, [AB], '3.1');
    const earlier: RememberedClick[] = [['a', id, T0]];
    const out = attribute([rec('click', 'b', id, T0 + 1), reset(T0 + 2), rec('purchase', 'a', null, T0 + 3), rec('purchase', 'b', null, T0 + 4)], earlier, read, WINDOW);
    expect(out.clicks).toEqual([]);
    expect(out.deltas.filter((d) => d[1].endsWith('|v'))).toEqual([]);
    // the click before the reset was still counted as a click
    expect(out.deltas.filter((d) => d[1].endsWith('|c'))).toHaveLength(1);
    // a click after the reset is remembered again
    const after = attribute([reset(T0 + 5), rec('click', 'c', id, T0 + 6)], earlier, read, WINDOW);
    expect(after.clicks).toEqual([['c', id, T0 + 6]]);
  });
});
