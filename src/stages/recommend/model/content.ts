/**
 * Content similarity: TF-IDF over catalog title words, categories and tags. Document frequencies update as
 * items arrive (idf is read at use time, never frozen); an item's content neighbours are found through an
 * inverted index when it is upserted (terms with posting lists longer than `maxPostings` are skipped, so the
 * work is bounded), and the item is offered to those neighbours' lists too — a cold-start item gets a place
 * at once. Vectors are binary-tf × field weight × idf, idf(t) = ln(1 + N / df(t)).
 */
import type { CatalogItem } from '../../../domain/events.js';
import type { RecommenderConfig } from './config.js';
import { NeighbourIndex } from './neighbours.js';

const STOP = new Set(['of', 'and', 'the', 'a', 'an', 'in', 'on', 'with', 'for', 'to', 'set', 'pack', 'x', 'pcs']);

/** Weighted terms of a catalog record (title words `w:`, tags share the word namespace, categories `c:`). */
export function catalogTerms(item: Pick<CatalogItem, 'title' | 'categories' | 'tags'>, cfg: RecommenderConfig['content']): Map<string, number> {
  const terms = new Map<string, number>();
  const add = (t: string, w: number) => {
    if (w > 0) terms.set(t, (terms.get(t) ?? 0) + w);
  };
  if (item.title) {
    const words = new Set(
      item.title
        .toLowerCase()
        .split(/[^a-z0-9-]+/)
        .filter((w) => w.length >= 2 && !STOP.has(w) && !/^\d+$/.test(w)),
    );
    for (const w of words) add(`w:${w}`, cfg.titleWeight);
  }
  for (const t of new Set(item.tags.map((x) => x.toLowerCase()))) add(`w:${t}`, cfg.tagWeight);
  for (const c of new Set(item.categories.map((x) => x.toLowerCase()))) add(`c:${c}`, cfg.categoryWeight);
  return terms;
}

export class ContentIndex {
  readonly neighbours: NeighbourIndex;
  private readonly termIds = new Map<string, number>();
  private df: number[] = [];
  /** term → postings (item ids) and the item's field weight for the term. */
  private postItems: number[][] = [];
  private postWeights: number[][] = [];
  /** item → its term ids and field weights. */
  private itemTerms: Array<{ terms: number[]; weights: number[] } | undefined> = [];
  private docs = 0;
  private acc = new Float64Array(1024);

  constructor(private readonly cfg: RecommenderConfig['content']) {
    this.neighbours = new NeighbourIndex(cfg.neighbours);
  }

  get size(): number {
    return this.docs;
  }

  idf(term: number): number {
    const df = this.df[term] ?? 0;
    return df > 0 ? Math.log(1 + this.docs / df) : 0;
  }

  private norm(item: number): number {
    const t = this.itemTerms[item];
    if (!t) return 0;
    let s = 0;
    for (let i = 0; i < t.terms.length; i++) {
      const w = t.weights[i] * this.idf(t.terms[i]);
      s += w * w;
    }
    return Math.sqrt(s);
  }

  /** TF-IDF cosine of two indexed items. */
  similarity(a: number, b: number): number {
    const ta = this.itemTerms[a];
    const tb = this.itemTerms[b];
    if (!ta || !tb) return 0;
    let dot = 0;
    for (let i = 0; i < ta.terms.length; i++) {
      const j = tb.terms.indexOf(ta.terms[i]);
      if (j >= 0) {
        const idf = this.idf(ta.terms[i]);
        dot += ta.weights[i] * tb.weights[j] * idf * idf;
      }
    }
    if (dot === 0) return 0;
    return dot / (this.norm(a) * this.norm(b));
  }

  /** Adds or replaces an item's terms, updates document frequencies and the neighbour lists. */
  upsert(item: number, terms: ReadonlyMap<string, number>): void {
    if (this.itemTerms[item]) this.remove(item);
    const ids: number[] = [];
    const ws: number[] = [];
    for (const [t, w] of terms) {
      let id = this.termIds.get(t);
      if (id === undefined) {
        id = this.df.length;
        this.termIds.set(t, id);
        this.df.push(0);
        this.postItems.push([]);
        this.postWeights.push([]);
      }
      this.df[id]++;
      this.postItems[id].push(item);
      this.postWeights[id].push(w);
      ids.push(id);
      ws.push(w);
    }
    this.itemTerms[item] = { terms: ids, weights: ws };
    this.docs++;
    this.findNeighbours(item);
  }

  /** Removes an item (deleted from the catalog): postings, df and its neighbour entries. */
  remove(item: number): void {
    const t = this.itemTerms[item];
    if (!t) return;
    for (const term of t.terms) {
      this.df[term]--;
      const p = this.postItems[term];
      const at = p.indexOf(item);
      if (at >= 0) {
        p.splice(at, 1);
        this.postWeights[term].splice(at, 1);
      }
    }
    this.neighbours.forEach(item, (b) => this.neighbours.remove(b, item));
    this.neighbours.clear(item);
    this.itemTerms[item] = undefined;
    this.docs--;
  }

  private findNeighbours(x: number): void {
    const t = this.itemTerms[x]!;
    if (this.acc.length < this.itemTerms.length) this.acc = new Float64Array(this.itemTerms.length * 2);
    const acc = this.acc;
    const touched: number[] = [];
    for (let i = 0; i < t.terms.length; i++) {
      const term = t.terms[i];
      const items = this.postItems[term];
      if (items.length > this.cfg.maxPostings) continue;
      const idf = this.idf(term);
      const wx = t.weights[i] * idf;
      const pw = this.postWeights[term];
      for (let j = 0; j < items.length; j++) {
        const y = items[j];
        if (y === x) continue;
        if (acc[y] === 0) touched.push(y);
        acc[y] += wx * pw[j] * idf;
      }
    }
    const nx = this.norm(x);
    for (const y of touched) {
      const s = acc[y] / (nx * this.norm(y));
      acc[y] = 0;
      this.neighbours.offer(x, y, s);
      this.neighbours.offer(y, x, s);
    }
  }

  /** Content profile of a user: Σ weight_i · tfidf(item_i) over the given items (term id → weight). */
  profile(items: readonly number[], weights: readonly number[]): Map<number, number> {
    const p = new Map<number, number>();
    for (let k = 0; k < items.length; k++) {
      const t = this.itemTerms[items[k]];
      if (!t) continue;
      const n = this.norm(items[k]) || 1;
      for (let i = 0; i < t.terms.length; i++) {
        const v = (weights[k] * t.weights[i] * this.idf(t.terms[i])) / n;
        p.set(t.terms[i], (p.get(t.terms[i]) ?? 0) + v);
      }
    }
    return p;
  }

  /** Cosine between a user's content profile and an item. */
  profileScore(profile: ReadonlyMap<number, number>, item: number): number {
    const t = this.itemTerms[item];
    if (!t || profile.size === 0) return 0;
    let dot = 0;
    for (let i = 0; i < t.terms.length; i++) {
      const p = profile.get(t.terms[i]);
      if (p !== undefined) dot += p * t.weights[i] * this.idf(t.terms[i]);
    }
    if (dot === 0) return 0;
    let pn = 0;
    for (const v of profile.values()) pn += v * v;
    return dot / (Math.sqrt(pn) * this.norm(item));
  }
}
