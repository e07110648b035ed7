/**
 * Trending: decayed interaction counts per scope ('global', 'country:<X>', 'device:<X>', 'category:<Y>'), each scope keeping
 * its exact top-M. All scopes share one decay clock (global scale factor), so the decay never reorders items:
 * an item can only climb when it is incremented, which is when the top-M is updated — O(M) per increment, and
 * O(1) for the common case of an item that stays below the scope's top-M.
 * Hot paths resolve a scope name once (`scope(name)`) and keep the handle: no string keys per event.
 */
import { DecayClock } from './decay.js';

/** One trending scope (opaque handle for `addTo` / `topOf`). */
export interface TrendingScope {
  readonly name: string;
  counts: Map<number, number>;
  top: number[];
  topScores: number[];
}

const EMPTY_TOP = { items: [] as readonly number[], scores: [] as readonly number[] };

export class TrendingIndex {
  private readonly scopes = new Map<string, TrendingScope>();
  readonly clock: DecayClock;
  private epochSet = false;

  /** halfLifeMs 0 = plain all-time counts (the popularity baseline). */
  constructor(
    halfLifeMs: number,
    readonly size: number,
  ) {
    this.clock = new DecayClock(halfLifeMs);
  }

  /** The handle of a scope, created (empty) on first use; an empty scope behaves as a missing one. */
  scope(name: string): TrendingScope {
    let s = this.scopes.get(name);
    if (!s) this.scopes.set(name, (s = { name, counts: new Map(), top: [], topScores: [] }));
    return s;
  }

  /** The handle of an existing scope, or undefined (never creates one). */
  find(name: string): TrendingScope | undefined {
    return this.scopes.get(name);
  }

  /** How many scopes exist (global, each country and category learned). */
  get scopeCount(): number {
    return this.scopes.size;
  }

  add(scope: string, item: number, weight: number, time: number): void {
    this.addTo(this.scope(scope), item, weight, time);
  }

  /** `add` with a resolved scope handle (the per-event path). */
  addTo(s: TrendingScope, item: number, weight: number, time: number): void {
    if (!this.epochSet) {
      this.clock.epoch = time;
      this.epochSet = true;
    }
    if (this.clock.needsRebase(time)) {
      const f = this.clock.rebase(time);
      for (const sc of this.scopes.values()) {
        for (const [k, v] of sc.counts) sc.counts.set(k, v * f);
        for (let i = 0; i < sc.topScores.length; i++) sc.topScores[i] *= f;
      }
    }
    const v = (s.counts.get(item) ?? 0) + weight * this.clock.scale(time);
    s.counts.set(item, v);
    // Update the sorted top-M (descending score, ties: earlier entry first).
    const { top, topScores } = s;
    const size = this.size;
    // Full list and v not above the last score: an item outside the list stays out, and an item inside it
    // (whose old score is ≥ the last one, so v equals its old score) does not move — nothing to do.
    if (top.length >= size && v <= topScores[top.length - 1]) return;
    let at = top.indexOf(item);
    if (at < 0) {
      if (top.length >= size) {
        top.pop();
        topScores.pop();
      }
      top.push(item);
      topScores.push(v);
      at = top.length - 1;
    } else topScores[at] = v;
    while (at > 0 && topScores[at - 1] < v) {
      top[at] = top[at - 1];
      topScores[at] = topScores[at - 1];
      at--;
    }
    top[at] = item;
    topScores[at] = v;
  }

  /** The scope's top items, best first; scores are relative (scaled) and comparable within a scope. */
  top(scope: string): { items: readonly number[]; scores: readonly number[] } {
    const s = this.scopes.get(scope);
    return s ? { items: s.top, scores: s.topScores } : EMPTY_TOP;
  }

  /** `top` with a resolved handle. */
  topOf(s: TrendingScope): { items: readonly number[]; scores: readonly number[] } {
    return { items: s.top, scores: s.topScores };
  }

  /** Removes an item from every scope (deleted / unavailable). */
  remove(item: number): void {
    for (const s of this.scopes.values()) {
      s.counts.delete(item);
      const at = s.top.indexOf(item);
      if (at >= 0) {
        s.top.splice(at, 1);
        s.topScores.splice(at, 1);
      }
    }
  }
}
