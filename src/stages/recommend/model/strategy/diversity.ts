/**
 * Diversity over the ranked selection (read best first, popped as far as needed, at most `poolSize(n)`):
 * writes the positions (into the selection) of the final list into `out`, returns its length.
 *   none          the top n;
 *   category-cap  at most `cap` items of one (first) category, filled with the best capped ones when too few
 *                 diverse items exist (the cap is a preference, not a filter);
 *   mmr           λ·relevance − (1 − λ)·max content similarity to what is already chosen.
 */
import type { RecommenderConfig } from '../config.js';
import type { ContentIndex } from '../content.js';
import type { Selection } from './selection.js';

export interface Diversity {
  /** How many ranked candidates (M) a list of n may read. */
  poolSize(n: number): number;
  select(sel: Selection, n: number, out: Int32Array): number;
}

export class NoDiversity implements Diversity {
  poolSize(n: number): number {
    return n;
  }

  select(sel: Selection, n: number, out: Int32Array): number {
    let len = 0;
    while (len < n && sel.pull(len)) {
      out[len] = len;
      len++;
    }
    return len;
  }
}

export class CategoryCap implements Diversity {
  private rest = new Int32Array(64);
  private catStamp = new Int32Array(64);
  private catCount = new Int32Array(64);
  private gen = 0;

  constructor(
    private readonly cap: number,
    private readonly categoryOf: (item: number) => number,
  ) {}

  poolSize(n: number): number {
    return n * 3;
  }

  select(sel: Selection, n: number, out: Int32Array): number {
    if (this.rest.length < n) this.rest = new Int32Array(n * 2);
    const rest = this.rest;
    const gen = ++this.gen;
    let len = 0;
    let nRest = 0;
    for (let i = 0; len < n && sel.pull(i); i++) {
      const cat = this.categoryOf(sel.ids[i]);
      if (cat >= 0) {
        if (cat >= this.catStamp.length) this.growCategories(cat);
        const c = this.catStamp[cat] === gen ? this.catCount[cat] : 0;
        if (c >= this.cap) {
          if (nRest < rest.length) rest[nRest++] = i;
          continue;
        }
        this.catStamp[cat] = gen;
        this.catCount[cat] = c + 1;
      }
      out[len++] = i;
    }
    // Too few diverse items: fill with the best capped ones, in position order (both lists are ascending).
    for (let r = 0; r < nRest && len < n; r++) {
      const v = rest[r];
      let j = len - 1;
      while (j >= 0 && out[j] > v) {
        out[j + 1] = out[j];
        j--;
      }
      out[j + 1] = v;
      len++;
    }
    return len;
  }

  private growCategories(cat: number): void {
    const n = Math.max(cat + 1, this.catStamp.length * 2);
    const s = new Int32Array(n);
    s.set(this.catStamp);
    const c = new Int32Array(n);
    c.set(this.catCount);
    this.catStamp = s;
    this.catCount = c;
  }
}

export class Mmr implements Diversity {
  constructor(
    private readonly lambda: number,
    private readonly content: ContentIndex | null,
  ) {}

  poolSize(n: number): number {
    return n * 3;
  }

  select(sel: Selection, n: number, out: Int32Array): number {
    let k = 0;
    while (sel.pull(k)) k++;
    const { ids, scores } = sel;
    const content = this.content;
    const lambda = this.lambda;
    const pool: number[] = [];
    for (let i = 0; i < k; i++) pool.push(i);
    const max = scores[0] || 1;
    let len = 0;
    while (len < n && pool.length > 0) {
      let best = 0;
      let bestV = -Infinity;
      for (let p = 0; p < pool.length; p++) {
        let red = 0;
        if (content) for (let o = 0; o < len; o++) red = Math.max(red, content.similarity(ids[pool[p]], ids[out[o]]));
        const v = lambda * (scores[pool[p]] / max) - (1 - lambda) * red;
        if (v > bestV) {
          bestV = v;
          best = p;
        }
      }
      out[len++] = pool.splice(best, 1)[0];
    }
    return len;
  }
}

/** The diversity step a configuration asks for. */
export function diversityFrom(
  d: RecommenderConfig['diversity'],
  categoryOf: (item: number) => number,
  content: ContentIndex | null,
): Diversity {
  if (d.mode === 'none') return new NoDiversity();
  if (d.mode === 'category-cap') return new CategoryCap(d.categoryCap, categoryOf);
  return new Mmr(d.mmrLambda, content);
}
