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
  /** Generation stamps: an entry is live for the current request iff stamp[c] === gen (no reset pass). */
  private stamp = new Int32Array(0);
  private gen = 0;
  private explain = true;
  private touched: number[] = [];
  private selIds = new Int32Array(1024);
  private selScores = new Float64Array(1024);

  constructor(
    private readonly cfg: RecommenderConfig,
    private readonly src: ScoringSources,
  ) {}

  private ensure(n: number): void {
    if (this.stamp.length >= n) return;
    const size = Math.max(1024, n * 2);
    this.collab = new Float64Array(size);
    this.content = new Float64Array(size);
    this.buy = new Float64Array(size);
    this.trend = new Float64Array(size);
    this.bestC = new Float64Array(size);
    this.bestT = new Float64Array(size);
    this.collabSrc = new Int32Array(size);
    this.contentSrc = new Int32Array(size);
    this.trendCode = new Uint8Array(size);
    this.stamp = new Int32Array(size);
    this.gen = 0;
  }

  private touch(c: number): void {
    if (this.stamp[c] !== this.gen) {
      this.stamp[c] = this.gen;
      this.collab[c] = 0;
      this.content[c] = 0;
      this.buy[c] = 0;
      this.trend[c] = 0;
      if (this.explain) {
        this.bestC[c] = 0;
        this.bestT[c] = 0;
        this.collabSrc[c] = -1;
        this.contentSrc[c] = -1;
        this.trendCode[c] = 0;
      }
      this.touched.push(c);
    }
  }

  /**
   * The top `n` candidates for a user at time `now`, best first. `itemCount` bounds the item ids.
   * Deterministic: ties are broken by item id. With `explain` false the per-source contributions and reason
   * sources are not tracked (same ranking, less work — the evaluation's hot path).
   */
  score(
    user: UserState | undefined,
    n: number,
    now: number,
    itemCount: number,
    country: string | null,
    explain = true,
  ): ScoredCandidate[] {
    const cfg = this.cfg;
    this.ensure(itemCount);
    this.explain = explain;
    this.gen++;
    if (this.gen === 0x7fffffff) {
      this.stamp.fill(0);
      this.gen = 1;
    }
    const { collab, content, buy, trend, collabSrc, contentSrc, trendCode, bestC, bestT } = this;
    const touched = this.touched;
    touched.length = 0;
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
          const ids = nb.ids;
          const sims = nb.sims;
          for (let i = nb.offset, end = nb.offset + nb.size; i < end; i++) {
            const c = ids[i];
            const v = ws * sims[i];
            this.touch(c);
            if (explain && v > bestC[c]) {
              // the strongest single contributor becomes the reason
              bestC[c] = v;
              collabSrc[c] = s;
            }
            const t = (collab[c] += v);
            if (t > maxC) maxC = t;
          }
        }
        if (b.content > 0 && this.src.content) {
          const nb = this.src.content.neighbours.raw(s);
          const ids = nb.ids;
          const sims = nb.sims;
          for (let i = nb.offset, end = nb.offset + nb.size; i < end; i++) {
            const c = ids[i];
            const v = ws * sims[i];
            this.touch(c);
            if (explain && v > bestT[c]) {
              bestT[c] = v;
              contentSrc[c] = s;
            }
            const t = (content[c] += v);
            if (t > maxT) maxT = t;
          }
        }
      }
    }
    if (cfg.buyAgain.enabled && b.buyAgain > 0 && user) {
      const k = -Math.LN2 / cfg.buyAgain.halfLifeMs;
      const minP = cfg.buyAgain.minPurchases;
      const gapUntil = now - cfg.buyAgain.minGapMs;
      for (const [item, p] of user.purchases) {
        if (p.count < minP || p.last > gapUntil) continue;
        const v = Math.log2(1 + p.count) * Math.exp(k * Math.max(0, now - p.last));
        this.touch(item);
        buy[item] = v;
        if (v > maxB) maxB = v;
      }
    }
    // Trending: country (cascade first), category of the newest item, global.
    const ctry = country ?? user?.country ?? null;
    const cold = !hist || hist.items.length === 0;
    let trendCat = -1;
    if (b.trending > 0 || cold) {
      this.addTrending('global', 0.5, ReasonCode.TrendingGlobal);
      if (!cold) {
        trendCat = this.src.categoryOf(hist.items[hist.items.length - 1]);
        if (trendCat >= 0) this.addTrending(`category:${this.src.categoryName(trendCat)}`, 0.75, ReasonCode.TrendingCategory);
      }
      if (ctry) this.addTrending(`country:${ctry}`, 1, ReasonCode.TrendingCountry);
    }

    // Blend and select the top M (M > n leaves room for diversity and filters).
    const wC = maxC > 0 ? b.collaborative / maxC : 0;
    const wT = maxT > 0 ? b.content / maxT : 0;
    const wB = maxB > 0 ? b.buyAgain / maxB : 0;
    const wTr = cold ? 1 : b.trending;
    const m = cfg.diversity.mode === 'none' ? n : n * 3;
    const f = cfg.filters;
    const windowFrom = f.purchasedWithinMs > 0 ? now - f.purchasedWithinMs : Infinity;
    const baOn = cfg.buyAgain.enabled;
    const baGapUntil = now - cfg.buyAgain.minGapMs;
    if (this.selIds.length < touched.length) {
      this.selIds = new Int32Array(touched.length * 2);
      this.selScores = new Float64Array(touched.length * 2);
    }
    const ids = this.selIds;
    const sc = this.selScores;
    let cnt = 0;
    for (let t = 0; t < touched.length; t++) {
      const c = touched[t];
      const s = wC * collab[c] + wT * content[c] + wB * buy[c] + wTr * trend[c];
      if (s <= 0) continue;
      if (this.src.blocked(c)) continue;
      if (windowFrom !== Infinity && user) {
        const p = user.purchases.get(c);
        // buy-again applies to a proven repeat item whose last purchase is at least minGapMs ago
        if (p && p.last >= windowFrom && !(baOn && p.count >= cfg.buyAgain.minPurchases && p.last <= baGapUntil)) continue;
      }
      ids[cnt] = c;
      sc[cnt] = s;
      cnt++;
    }
    const k = Math.min(m, cnt);
    if (k < cnt) quickselect(ids, sc, cnt, k);
    // sort the first k (insertion sort, k is small): score desc, id asc
    for (let i = 1; i < k; i++) {
      const ci = ids[i];
      const si = sc[i];
      let j = i - 1;
      while (j >= 0 && (sc[j] < si || (sc[j] === si && ids[j] > ci))) {
        ids[j + 1] = ids[j];
        sc[j + 1] = sc[j];
        j--;
      }
      ids[j + 1] = ci;
      sc[j + 1] = si;
    }
    const chosen = this.diversifyIds(ids, k, n);
    const out: ScoredCandidate[] = [];
    const catName = explain && trendCat >= 0 ? this.src.categoryName(trendCat) : '';
    for (const at of chosen) {
      const c = ids[at];
      const code = explain ? (trendCode[c] as ReasonCode) : ReasonCode.TrendingGlobal;
      out.push({
        item: c,
        score: sc[at],
        collab: wC * collab[c],
        collabSrc: explain ? collabSrc[c] : -1,
        content: wT * content[c],
        contentSrc: explain ? contentSrc[c] : -1,
        buyAgain: wB * buy[c],
        trending: wTr * trend[c],
        trendingCode: code,
        trendingScope: code === ReasonCode.TrendingCountry ? (ctry ?? '') : code === ReasonCode.TrendingCategory ? catName : '',
      });
    }
    return out;
  }

  private addTrending(scope: string, level: number, code: ReasonCode): void {
    const t = this.src.trending.top(scope);
    if (t.items.length === 0) return;
    const max = t.scores[0];
    for (let i = 0; i < t.items.length; i++) {
      const c = t.items[i];
      // Scopes earlier in the cascade rank above later ones: country in (0.5, 1], category in (0.375, 0.75]...
      const v = level * (0.5 + (0.5 * t.scores[i]) / max);
      this.touch(c);
      if (v > this.trend[c]) {
        this.trend[c] = v;
        if (this.explain) this.trendCode[c] = code;
      }
    }
  }

  /** Positions (into the sorted selection) of the final list, after diversity. */
  private diversifyIds(ids: Int32Array, k: number, n: number): number[] {
    const d = this.cfg.diversity;
    const out: number[] = [];
    if (d.mode === 'none' || k <= 1) {
      for (let i = 0; i < Math.min(n, k); i++) out.push(i);
      return out;
    }
    if (d.mode === 'category-cap') {
      const rest: number[] = [];
      const perCat = new Map<number, number>();
      for (let i = 0; i < k && out.length < n; i++) {
        const cat = this.src.categoryOf(ids[i]);
        const c = perCat.get(cat) ?? 0;
        if (cat >= 0 && c >= d.categoryCap) {
          rest.push(i);
          continue;
        }
        perCat.set(cat, c + 1);
        out.push(i);
      }
      // Too few diverse items: fill with the best capped ones (the cap is a preference, not a filter).
      for (const i of rest) {
        if (out.length >= n) break;
        out.push(i);
      }
      out.sort((a, b) => a - b);
      return out;
    }
    // MMR with content similarity: λ·relevance − (1 − λ)·max similarity to what is already chosen.
    const content = this.src.content;
    const pool: number[] = [];
    for (let i = 0; i < k; i++) pool.push(i);
    const max = this.selScores[0] || 1;
    while (out.length < n && pool.length > 0) {
      let best = 0;
      let bestV = -Infinity;
      for (let p = 0; p < pool.length; p++) {
        let red = 0;
        if (content) for (const o of out) red = Math.max(red, content.similarity(ids[pool[p]], ids[o]));
        const v = d.mmrLambda * (this.selScores[pool[p]] / max) - (1 - d.mmrLambda) * red;
        if (v > bestV) {
          bestV = v;
          best = p;
        }
      }
      out.push(pool.splice(best, 1)[0]);
    }
    return out;
  }
}

/** Partially orders (ids, scores)[0..cnt) so the first k are the best k by (score desc, id asc). */
function quickselect(ids: Int32Array, sc: Float64Array, cnt: number, k: number): void {
  let lo = 0;
  let hi = cnt - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const ps = sc[mid];
    const pid = ids[mid];
    ids[mid] = ids[hi];
    sc[mid] = sc[hi];
    ids[hi] = pid;
    sc[hi] = ps;
    let store = lo;
    for (let i = lo; i < hi; i++) {
      const si = sc[i];
      const ii = ids[i];
      if (si > ps || (si === ps && ii < pid)) {
        ids[i] = ids[store];
        sc[i] = sc[store];
        ids[store] = ii;
        sc[store] = si;
        store++;
      }
    }
    ids[hi] = ids[store];
    sc[hi] = sc[store];
    ids[store] = pid;
    sc[store] = ps;
    if (store === k - 1 || store === k) return;
    if (store < k) lo = store + 1;
    else hi = store - 1;
  }
}
