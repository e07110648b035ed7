/**
 * The co-occurrence table's bound (limits.maxPairs, cooc-state.ts): it never holds more pairs than the bound, a
 * prune keeps the pairs some neighbour list holds and the strongest others, and it is deterministic.
 */
import { describe, expect, it } from 'vitest';
import { CoocState } from '../../src/stages/recommend/model/cooc-state.js';
import { CollaborativeModel } from '../../src/stages/recommend/model/collaborative.js';
import { parseRecommenderConfig } from '../../src/stages/recommend/model/config.js';
import { EMPTY_HISTORY, type UserHistory } from '../../src/stages/recommend/model/deltas.js';
import { rng } from '../support/rng.js';

/** Learns `events` seeded random interactions (skewed to low item ids) into m, one a second; returns m. */
function learnRandom(m: CollaborativeModel, o: { seed: number; users: number; items: number; events: number }): CollaborativeModel {
  const next = rng(o.seed);
  const hist = new Map<number, UserHistory>();
  for (let t = 0; t < o.events; t++) {
    const u = Math.floor(next() * o.users);
    const item = Math.floor(next() ** 2 * o.items);
    hist.set(u, m.learn(hist.get(u) ?? EMPTY_HISTORY, item, 1, t * 1000));
  }
  return m;
}

describe('the bounded co-occurrence table', () => {
  it('never holds more than maxPairs pairs, and a prune leaves at most half of them', () => {
    const s = new CoocState(1000);
    let most = 0;
    for (let a = 0; a < 200; a++) {
      for (let b = a + 1; b < 200; b++) {
        s.add(a, b, 1);
        most = Math.max(most, s.pairCount);
      }
    }
    expect(most).toBe(1000);
    expect(s.prunes).toBeGreaterThan(0);
    expect(s.prunedPairs).toBe(200 * 199 / 2 - s.pairCount);
  });

  it('keeps the strongest pairs and drops the weakest', () => {
    const s = new CoocState(100);
    // 20 strong pairs first, then weak ones until the table must prune
    for (let k = 0; k < 20; k++) s.add(k, 1000 + k, 50);
    for (let k = 0; k < 200; k++) s.add(2000 + k, 3000 + k, 1);
    expect(s.prunes).toBeGreaterThan(0);
    for (let k = 0; k < 20; k++) expect(s.cooc(k, 1000 + k)).toBe(50);
    expect(s.pairCount).toBeLessThanOrEqual(100);
  });

  it('keeps the pairs a neighbour list holds, however weak, and their counts', () => {
    const listed: Array<[number, number]> = [[7, 8], [9, 3]];
    const s = new CoocState(100, (visit) => { for (const [a, b] of listed) visit(a, b); });
    s.add(7, 8, 0.5);
    s.add(3, 9, 0.25);
    for (let k = 0; k < 300; k++) s.add(2000 + k, 3000 + k, 1 + (k % 7));
    expect(s.prunes).toBeGreaterThan(1);
    expect(s.cooc(7, 8)).toBe(0.5);
    expect(s.cooc(9, 3)).toBe(0.25);
    // no count is left negative by the prune's marks
    for (const [, , c] of s.entries()) expect(c).toBeGreaterThan(0);
  });

  it('keeps the bound when the listed pairs alone are more than half of it', () => {
    const listed: Array<[number, number]> = [];
    for (let k = 0; k < 80; k++) listed.push([k, 500 + k]);
    const s = new CoocState(100, (visit) => { for (const [a, b] of listed) visit(a, b); });
    for (const [a, b] of listed) s.add(a, b, 1);
    for (let k = 0; k < 300; k++) s.add(2000 + k, 3000 + k, 1);
    expect(s.pairCount).toBeLessThanOrEqual(100);
    for (const [, , c] of s.entries()) expect(c).toBeGreaterThan(0);
  });

  it('an unbounded table and a bound above the pairs give the same model', () => {
    const run = (maxPairs: number) => learnRandom(new CollaborativeModel(parseRecommenderConfig({}).collaborative, maxPairs), { seed: 5, users: 300, items: 400, events: 5000 });
    const a = run(Infinity);
    const b = run(a.state.pairCount + 1);
    expect(b.state.prunes).toBe(0);
    expect([...b.state.entries()]).toEqual([...a.state.entries()]);
  });

  it('prunes the same pairs on a replay of the same events (deterministic), and lists keep their neighbours', () => {
    const run = () => learnRandom(new CollaborativeModel(parseRecommenderConfig({ collaborative: { neighbours: 5 } }).collaborative, 20_000),
      { seed: 11, users: 500, items: 1500, events: 20_000 });
    const a = run();
    const b = run();
    expect(a.state.prunes).toBeGreaterThan(0);
    expect(a.state.pairCount).toBeLessThanOrEqual(20_000);
    expect([...b.state.entries()]).toEqual([...a.state.entries()]);
    // every neighbour-list entry still has its pair in the table (a prune keeps them)
    let entries = 0;
    a.neighbours.forEachEntry((x, y) => {
      entries++;
      expect(a.state.cooc(x, y)).toBeGreaterThan(0);
    });
    expect(entries).toBeGreaterThan(0);
  });
});
