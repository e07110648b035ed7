/**
 * Trending: decayed interaction counts per scope ('global', 'country:<X>', 'category:<Y>'), each scope keeping
 * its exact top-M. All scopes share one decay clock (global scale factor), so the decay never reorders items:
 * an item can only climb when it is incremented, which is when the top-M is updated — O(M) per increment.
 */
import { DecayClock } from './decay.js';

interface Scope {
  counts: Map<number, number>;
  top: number[];
  topScores: number[];
}

export class TrendingIndex {
  private readonly scopes = new Map<string, Scope>();
  readonly clock: DecayClock;
  private epochSet = false;

  /** halfLifeMs 0 = plain all-time counts (the popularity baseline). */
  constructor(
    halfLifeMs: number,
    readonly size: number,
  ) {
    this.clock = new DecayClock(halfLifeMs);
  }

  add(scope: string, item: number, weight: number, time: number): void {
    if (!this.epochSet) {
      this.clock.epoch = time;
      this.epochSet = true;
    }
    if (this.clock.needsRebase(time)) {
      const f = this.clock.rebase(time);
      for (const s of this.scopes.values()) {
        for (const [k, v] of s.counts) s.counts.set(k, v * f);
        for (let i = 0; i < s.topScores.length; i++) s.topScores[i] *= f;
      }
    }
    let s = this.scopes.get(scope);
    if (!s) this.scopes.set(scope, (s = { counts: new Map(), top: [], topScores: [] }));
    const v = (s.counts.get(item) ?? 0) + weight * this.clock.scale(time);
    s.counts.set(item, v);
    // Update the sorted top-M (descending score, ties: earlier entry first).
    const { top, topScores } = s;
    let at = top.indexOf(item);
    if (at < 0) {
      if (top.length >= this.size && v <= topScores[top.length - 1]) return;
      if (top.length >= this.size) {
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
    return s ? { items: s.top, scores: s.topScores } : { items: [], scores: [] };
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
