/**
 * (d) Hybrid scoring. Candidates come from
 *   - collaborative neighbours of the user's most recent items (seed items, position-decayed),
 *   - content neighbours of the same seeds (TF-IDF; this is the user's content profile — the sum of the
 *     seeds' vectors — evaluated on each seed's content neighbourhood, which keeps the work bounded),
 *   - buy-again: the user's own repeat-purchase log, log2(1 + count) × recency,
 *   - trending: decayed counts in the user's country, in the category of the newest item, and global.
 * Each source is normalised to [0, 1] by its maximum and blended with configurable weights (default
 * 0.6 collaborative / 0.4 content, plus buy-again and a small trending weight). A user without history
 * falls through the cascade: trending in their country first, then global.
 * Filters (unavailable/deleted, category include/exclude, purchased-within-window unless buy-again applies)
 * and diversity (per-category cap or MMR) are applied on the ranked candidates.
 */
import type { RecommenderConfig } from './config.js';
import type { ContentIndex } from './content.js';
import type { NeighbourIndex } from './neighbours.js';
import type { TrendingIndex } from './trending.js';
import type { UserState } from './user-state.js';

export const enum ReasonCode {
  BoughtTogether = 1,
  Similar = 2,
  BuyAgain = 3,
  TrendingCountry = 4,
  TrendingCategory = 5,
  TrendingGlobal = 6,
}

/** One scored candidate with the strongest contribution of each source (for reasons). */
export interface ScoredCandidate {
  item: number;
  score: number;
  collab: number;
  collabSrc: number;
  content: number;
  contentSrc: number;
  buyAgain: number;
  trending: number;
  trendingCode: ReasonCode;
  trendingScope: string;
}

/** What the scorer reads; the recommender (or a Redis-backed cache) provides it. */
export interface ScoringSources {
  collab: NeighbourIndex;
  content: ContentIndex | null;
  trending: TrendingIndex;
  /** 1 when the item must not be recommended (unavailable, deleted, category rules). */
  blocked(item: number): boolean;
  /** First category id of the item, -1 when none. */
  categoryOf(item: number): number;
  categoryName(cat: number): string;
}

export class Scorer {
  private collab = new Float64Array(0);
  private content = new Float64Array(0);
  private buy = new Float64Array(0);
  private trend = new Float64Array(0);
  private bestC = new Float64Array(0);
  private bestT = new Float64Array(0);
  private collabSrc = new Int32Array(0);
  private contentSrc = new Int32Array(0);
  private trendCode = new Uint8Array(0);
  private mark = new Uint8Array(0);
  private touched: number[] = [];

  constructor(
    private readonly cfg: RecommenderConfig,
    private readonly src: ScoringSources,
  ) {}

  private ensure(n: number): void {
    if (this.mark.length >= n) return;
    const size = Math.max(1024, n * 2);
    this.collab = new Float64Array(size);
    this.content = new Float64Array(size);
    this.buy = new Float64Array(size);
    this.trend = new Float64Array(size);
    this.bestC = new Float64Array(size);
    this.bestT = new Float64Array(size);
    this.collabSrc = new Int32Array(size).fill(-1);
    this.contentSrc = new Int32Array(size).fill(-1);
    this.trendCode = new Uint8Array(size);
    this.mark = new Uint8Array(size);
  }

  private touch(i: number): void {
    if (this.mark[i] === 0) {
      this.mark[i] = 1;
      this.touched.push(i);
    }
  }

  /**
   * The top `n` candidates for a user at time `now`, best first. `itemCount` bounds the item ids.
   * Deterministic: ties are broken by item id.
   */
  score(user: UserState | undefined, n: number, now: number, itemCount: number, country: string | null): ScoredCandidate[] {
    const cfg = this.cfg;
    this.ensure(itemCount);
    const { collab, content, buy, trend, collabSrc, contentSrc, trendCode, bestC, bestT } = this;
    const touched = this.touched;
    let maxC = 0;
    let maxT = 0;
    let maxB = 0;
    const b = cfg.blend;
    const hist = user?.history;
    if (hist && hist.items.length > 0) {
      const items = hist.items;
      let ws = 1;
      for (let k = items.length - 1, r = 0; k >= 0 && r < b.seedItems; k--, r++, ws *= b.seedDecay) {
        const s = items[k];
        if (b.collaborative > 0) {
          const nb = this.src.collab.raw(s);
          for (let i = nb.offset, end = nb.offset + nb.size; i < end; i++) {
            const c = nb.ids[i];
            const v = ws * nb.sims[i];
            this.touch(c);
            if (v > bestC[c]) {
              // the strongest single contributor becomes the reason
              bestC[c] = v;
              collabSrc[c] = s;
            }
            collab[c] += v;
            if (collab[c] > maxC) maxC = collab[c];
          }
        }
        if (b.content > 0 && this.src.content) {
          const nb = this.src.content.neighbours.raw(s);
          for (let i = nb.offset, end = nb.offset + nb.size; i < end; i++) {
            const c = nb.ids[i];
            const v = ws * nb.sims[i];
            this.touch(c);
            if (v > bestT[c]) {
              bestT[c] = v;
              contentSrc[c] = s;
            }
            content[c] += v;
            if (content[c] > maxT) maxT = content[c];
          }
        }
      }
    }
    if (cfg.buyAgain.enabled && b.buyAgain > 0 && user) {
      const hl = cfg.buyAgain.halfLifeMs;
      const minP = cfg.buyAgain.minPurchases;
      for (const [item, p] of user.purchases) {
        if (p.count < minP) continue;
        const v = Math.log2(1 + p.count) * Math.pow(2, -Math.max(0, now - p.last) / hl);
        this.touch(item);
        buy[item] = v;
        if (v > maxB) maxB = v;
      }
    }
    // Trending: country (cascade first), category of the newest item, global.
    const ctry = country ?? user?.country ?? null;
    if (b.trending > 0 || !hist || hist.items.length === 0) {
      this.addTrending(`global`, 0.5, ReasonCode.TrendingGlobal);
      if (hist && hist.items.length > 0) {
        const cat = this.src.categoryOf(hist.items[hist.items.length - 1]);
        if (cat >= 0) this.addTrending(`category:${this.src.categoryName(cat)}`, 0.75, ReasonCode.TrendingCategory);
      }
      if (ctry) this.addTrending(`country:${ctry}`, 1, ReasonCode.TrendingCountry);
    }

    // Blend and select the top M (M > n leaves room for diversity and filters).
    const wC = maxC > 0 ? b.collaborative / maxC : 0;
    const wT = maxT > 0 ? b.content / maxT : 0;
    const wB = maxB > 0 ? b.buyAgain / maxB : 0;
    const wTr = hist && hist.items.length > 0 ? b.trending : 1;
    const m = cfg.diversity.mode === 'none' ? n : n * 3;
    const topI: number[] = [];
    const topS: number[] = [];
    const f = cfg.filters;
    const windowFrom = f.purchasedWithinMs > 0 ? now - f.purchasedWithinMs : Infinity;
    const baOn = cfg.buyAgain.enabled;
    for (let t = 0; t < touched.length; t++) {
      const c = touched[t];
      const s = wC * collab[c] + wT * content[c] + wB * buy[c] + wTr * trend[c];
      if (s <= 0) continue;
      if (topI.length >= m && s <= topS[m - 1]) continue;
      if (this.src.blocked(c)) continue;
      if (windowFrom !== Infinity && user) {
        const p = user.purchases.get(c);
        if (p && p.last >= windowFrom && !(baOn && p.count >= cfg.buyAgain.minPurchases)) continue;
      }
      // insertion into the sorted top list (desc score, asc id)
      let at = topI.length < m ? topI.length : m - 1;
      if (topI.length < m) {
        topI.push(c);
        topS.push(s);
      }
      while (at > 0 && (topS[at - 1] < s || (topS[at - 1] === s && topI[at - 1] > c))) {
        topI[at] = topI[at - 1];
        topS[at] = topS[at - 1];
        at--;
      }
      topI[at] = c;
      topS[at] = s;
    }
    const out: ScoredCandidate[] = [];
    for (let k = 0; k < topI.length; k++) {
      const c = topI[k];
      out.push({
        item: c,
        score: topS[k],
        collab: wC * collab[c],
        collabSrc: collabSrc[c],
        content: wT * content[c],
        contentSrc: contentSrc[c],
        buyAgain: wB * buy[c],
        trending: wTr * trend[c],
        trendingCode: trendCode[c] as ReasonCode,
        trendingScope: '',
      });
    }
    // reset scratch
    for (let t = 0; t < touched.length; t++) {
      const c = touched[t];
      collab[c] = 0;
      content[c] = 0;
      buy[c] = 0;
      trend[c] = 0;
      bestC[c] = 0;
      bestT[c] = 0;
      collabSrc[c] = -1;
      contentSrc[c] = -1;
      trendCode[c] = 0;
      this.mark[c] = 0;
    }
    touched.length = 0;
    for (const o of out) {
      if (o.trendingCode === ReasonCode.TrendingCountry) o.trendingScope = ctry ?? '';
      else if (o.trendingCode === ReasonCode.TrendingCategory && hist && hist.items.length > 0)
        o.trendingScope = this.src.categoryName(this.src.categoryOf(hist.items[hist.items.length - 1]));
    }
    return this.diversify(out, n);
  }

  private addTrending(scope: string, level: number, code: ReasonCode): void {
    const t = this.src.trending.top(scope);
    if (t.items.length === 0) return;
    const max = t.scores[0];
    for (let i = 0; i < t.items.length; i++) {
      const c = t.items[i];
      // Scopes earlier in the cascade rank above later ones: country in (0.5, 1], category in (0.25, 0.75]...
      const v = level * (0.5 + (0.5 * t.scores[i]) / max);
      this.touch(c);
      if (v > this.trend[c]) {
        this.trend[c] = v;
        this.trendCode[c] = code;
      }
    }
  }

  private diversify(ranked: ScoredCandidate[], n: number): ScoredCandidate[] {
    const d = this.cfg.diversity;
    if (d.mode === 'none' || ranked.length <= 1) return ranked.slice(0, n);
    if (d.mode === 'category-cap') {
      const out: ScoredCandidate[] = [];
      const rest: ScoredCandidate[] = [];
      const perCat = new Map<number, number>();
      for (const c of ranked) {
        if (out.length >= n) break;
        const cat = this.src.categoryOf(c.item);
        const k = perCat.get(cat) ?? 0;
        if (cat >= 0 && k >= d.categoryCap) {
          rest.push(c);
          continue;
        }
        perCat.set(cat, k + 1);
        out.push(c);
      }
      // Too few diverse items: fill with the best capped ones (the cap is a preference, not a filter).
      for (const c of rest) {
        if (out.length >= n) break;
        out.push(c);
      }
      return out;
    }
    // MMR with content similarity.
    const content = this.src.content;
    const pool = ranked.slice();
    const out: ScoredCandidate[] = [];
    const max = pool[0].score || 1;
    while (out.length < n && pool.length > 0) {
      let best = 0;
      let bestV = -Infinity;
      for (let i = 0; i < pool.length; i++) {
        let red = 0;
        if (content) for (const o of out) red = Math.max(red, content.similarity(pool[i].item, o.item));
        const v = d.mmrLambda * (pool[i].score / max) - (1 - d.mmrLambda) * red;
        if (v > bestV) {
          bestV = v;
          best = i;
        }
      }
      out.push(pool.splice(best, 1)[0]);
    }
    return out;
  }
}
