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
 *
 * Hot-path shape (one request ≈ 300–700 candidates): a sparse accumulator over typed arrays with a touched list
 * and generation stamps (no reset pass, no per-request allocation), the window filter marked once from the
 * user's purchase log instead of a lookup per candidate, trending scopes resolved to cached handles, and a
 * heap over the candidates popped lazily (only as far as the diversity step reads; no sort). Trending-only
 * candidates are skipped when at least M candidates that pass the filters already score above the highest
 * score a trending-only item can reach (weight × 1) — they could not enter the top M, so the result is the same.
 * `scoreIds` writes the final ids into a caller's buffer without building result objects (the evaluation's path).
 */
import type { RecommenderConfig } from './config.js';
import type { ContentIndex } from './content.js';
import type { NeighbourIndex } from './neighbours.js';
import type { TrendingIndex, TrendingScope } from './trending.js';
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

/** log2(1 + count) for small counts (the same values Math.log2 gives, computed once). */
const LOG2_1P = new Float64Array(1024).map((_, i) => Math.log2(1 + i));

export class Scorer {
  /** Per-candidate accumulators, interleaved (one cache line per candidate): collab, content, buy, trend. */
  private acc = new Float64Array(0);
  private bestC = new Float64Array(0);
  private bestT = new Float64Array(0);
  private collabSrc = new Int32Array(0);
  private contentSrc = new Int32Array(0);
  private trendCode = new Uint8Array(0);
  /** Generation stamps: an entry is live for the current request iff stamp[c] === gen (no reset pass). */
  private stamp = new Int32Array(0);
  /** excluded[c] === gen: c was purchased within the filter window (and buy-again does not apply). */
  private excluded = new Int32Array(0);
  /** Memo of the buy-again recency factor per item: valid for (memoNow, memoLast). */
  private memoNow = new Float64Array(0);
  private memoLast = new Float64Array(0);
  private memoExp = new Float64Array(0);
  private gen = 0;
  private explain = true;
  private touched = new Int32Array(1024);
  private nTouched = 0;
  /** Candidates that pass the filters, as a max-heap by (score desc, id asc). */
  private heapIds = new Int32Array(1024);
  private heapSc = new Float64Array(1024);
  /** The selection, best first (popped from the heap as far as needed), and the chosen positions. */
  private selIds = new Int32Array(64);
  private selScores = new Float64Array(64);
  private chosen = new Int32Array(64);
  private rest = new Int32Array(64);
  private catStamp = new Int32Array(64);
  private catCount = new Int32Array(64);
  // per-request values the result builder needs
  private wC = 0;
  private wT = 0;
  private wB = 0;
  private wTr = 0;
  private ctry: string | null = null;
  private trendCat = -1;
  // trending scope handles (scopes are never dropped, so handles stay valid)
  private globalScope: TrendingScope | null = null;
  private readonly countryScopes = new Map<string, TrendingScope>();
  private categoryScopes: (TrendingScope | undefined)[] = [];

  constructor(
    private readonly cfg: RecommenderConfig,
    private readonly src: ScoringSources,
  ) {}

  private ensure(n: number): void {
    if (this.stamp.length >= n) return;
    const size = Math.max(1024, n * 2);
    this.acc = new Float64Array(size * 4);
    this.bestC = new Float64Array(size);
    this.bestT = new Float64Array(size);
    this.collabSrc = new Int32Array(size);
    this.contentSrc = new Int32Array(size);
    this.trendCode = new Uint8Array(size);
    this.stamp = new Int32Array(size);
    this.excluded = new Int32Array(size);
    this.memoNow = new Float64Array(size).fill(NaN);
    this.memoLast = new Float64Array(size);
    this.memoExp = new Float64Array(size);
    this.gen = 0;
  }

  private touch(c: number): void {
    if (this.stamp[c] !== this.gen) {
      this.stamp[c] = this.gen;
      const a = c << 2;
      this.acc[a] = 0;
      this.acc[a + 1] = 0;
      this.acc[a + 2] = 0;
      this.acc[a + 3] = 0;
      if (this.explain) {
        this.bestC[c] = 0;
        this.bestT[c] = 0;
        this.collabSrc[c] = -1;
        this.contentSrc[c] = -1;
        this.trendCode[c] = 0;
      }
      if (this.nTouched === this.touched.length) {
        const t = new Int32Array(this.touched.length * 2);
        t.set(this.touched);
        this.touched = t;
      }
      this.touched[this.nTouched++] = c;
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
    const len = this.run(user, n, now, itemCount, country, explain);
    const { acc, collabSrc, contentSrc, trendCode, chosen, selIds: ids, selScores: sc } = this;
    const { wC, wT, wB, wTr, ctry, trendCat } = this;
    const out: ScoredCandidate[] = [];
    const catName = explain && trendCat >= 0 ? this.src.categoryName(trendCat) : '';
    for (let x = 0; x < len; x++) {
      const at = chosen[x];
      const c = ids[at];
      const a = c << 2;
      const code = explain ? (trendCode[c] as ReasonCode) : ReasonCode.TrendingGlobal;
      out.push({
        item: c,
        score: sc[at],
        collab: wC * acc[a],
        collabSrc: explain ? collabSrc[c] : -1,
        content: wT * acc[a + 1],
        contentSrc: explain ? contentSrc[c] : -1,
        buyAgain: wB * acc[a + 2],
        trending: wTr * acc[a + 3],
        trendingCode: code,
        trendingScope: code === ReasonCode.TrendingCountry ? (ctry ?? '') : code === ReasonCode.TrendingCategory ? catName : '',
      });
    }
    return out;
  }

  /**
   * The same ranking as `score(…, explain = false)`, as item ids written into `out` (best first); returns how
   * many were written. No result objects: the evaluation's and the benchmark's path.
   */
  scoreIds(user: UserState | undefined, n: number, now: number, itemCount: number, country: string | null, out: Int32Array): number {
    const len = Math.min(this.run(user, n, now, itemCount, country, false), out.length);
    const { chosen, selIds } = this;
    for (let x = 0; x < len; x++) out[x] = selIds[chosen[x]];
    return len;
  }

  /** Whether candidate c passes the filters (availability/category rules, purchased within the window). */
  private passes(c: number, checkWindow: boolean): boolean {
    if (this.src.blocked(c)) return false;
    return !(checkWindow && this.excluded[c] === this.gen);
  }

  /** Scores, filters, selects and diversifies; the result is `chosen[0..len)` (positions into `selIds`). */
  private run(user: UserState | undefined, n: number, now: number, itemCount: number, country: string | null, explain: boolean): number {
    const cfg = this.cfg;
    this.ensure(itemCount);
    this.explain = explain;
    this.gen++;
    if (this.gen === 0x7fffffff) {
      this.stamp.fill(0);
      this.excluded.fill(0);
      this.gen = 1;
    }
    const gen = this.gen;
    const { acc, collabSrc, contentSrc, bestC, bestT } = this;
    this.nTouched = 0;
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
            const t = (acc[c << 2] += v);
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
            const t = (acc[(c << 2) + 1] += v);
            if (t > maxT) maxT = t;
          }
        }
      }
    }
    // One pass over the user's purchase log: buy-again scores and the purchased-within-window filter marks.
    const f = cfg.filters;
    const windowFrom = f.purchasedWithinMs > 0 ? now - f.purchasedWithinMs : Infinity;
    const baOn = cfg.buyAgain.enabled;
    const minP = cfg.buyAgain.minPurchases;
    const baGapUntil = now - cfg.buyAgain.minGapMs;
    const scoreBuy = baOn && b.buyAgain > 0;
    const markWindow = windowFrom !== Infinity;
    if (user && (scoreBuy || markWindow)) {
      const excluded = this.excluded;
      const { memoNow, memoLast, memoExp } = this;
      const k = -Math.LN2 / cfg.buyAgain.halfLifeMs;
      for (const [item, p] of user.purchases) {
        // buy-again applies to a proven repeat item whose last purchase is at least minGapMs ago
        const due = p.count >= minP && p.last <= baGapUntil;
        if (markWindow && p.last >= windowFrom && !(baOn && due) && item < excluded.length) excluded[item] = gen;
        if (!scoreBuy || !due) continue;
        let e: number;
        if (memoNow[item] === now && memoLast[item] === p.last) e = memoExp[item];
        else {
          e = Math.exp(k * Math.max(0, now - p.last));
          memoNow[item] = now;
          memoLast[item] = p.last;
          memoExp[item] = e;
        }
        const v = (p.count < 1024 ? LOG2_1P[p.count] : Math.log2(1 + p.count)) * e;
        this.touch(item);
        acc[(item << 2) + 2] = v;
        if (v > maxB) maxB = v;
      }
    }

    const wC = (this.wC = maxC > 0 ? b.collaborative / maxC : 0);
    const wT = (this.wT = maxT > 0 ? b.content / maxT : 0);
    const wB = (this.wB = maxB > 0 ? b.buyAgain / maxB : 0);
    const cold = !hist || hist.items.length === 0;
    const wTr = (this.wTr = cold ? 1 : b.trending);
    const m = cfg.diversity.mode === 'none' ? n : n * 3;
    const checkWindow = markWindow && user !== undefined;
    const touched = this.touched;

    // A floor under the top M: the scores without trending (p) are lower bounds of the final scores, so when M
    // candidates that pass the filters have p ≥ T (T the M-th largest such p), a candidate scoring < T cannot
    // enter the top M. Only candidates with p > wTr are counted: a trending-only candidate scores at most wTr·1
    // < T, so the trending lists then only add to existing candidates. The result is the same as without the
    // floor, with less work (fewer candidates in the heap, no trending-only candidates).
    let floor = 0;
    let onlyExisting = false;
    const n1 = this.nTouched;
    if (this.pBuf.length < n1) this.pBuf = new Float64Array(n1 * 2);
    if (this.pSel.length < n1) this.pSel = new Float64Array(n1 * 2);
    const pBuf = this.pBuf;
    if (!cold) {
      const pSel = this.pSel;
      let nSel = 0;
      for (let t = 0; t < n1; t++) {
        const c = touched[t];
        const a = c << 2;
        const p = wC * acc[a] + wT * acc[a + 1] + wB * acc[a + 2];
        pBuf[t] = p;
        if (p > wTr && this.passes(c, checkWindow)) pSel[nSel++] = p;
      }
      if (nSel >= m && m > 0) {
        floor = kthLargest(pSel, nSel, m);
        onlyExisting = wTr > 0;
      }
    }

    // Trending: country (cascade first), category of the newest item, global.
    const ctry = country ?? user?.country ?? null;
    let trendCat = -1;
    if (b.trending > 0 || cold) {
      this.addTrending((this.globalScope ??= this.src.trending.scope('global')), 0.5, ReasonCode.TrendingGlobal, onlyExisting);
      if (!cold) {
        trendCat = this.src.categoryOf(hist.items[hist.items.length - 1]);
        if (trendCat >= 0) this.addTrending(this.categoryScope(trendCat), 0.75, ReasonCode.TrendingCategory, onlyExisting);
      }
      if (ctry) this.addTrending(this.countryScope(ctry), 1, ReasonCode.TrendingCountry, onlyExisting);
    }
    this.ctry = ctry;
    this.trendCat = trendCat;

    // Blend; the candidates go into a max-heap (built bottom-up, O(candidates)); the filters are checked only on
    // the candidates popped from it (the top M of those that pass them are the same).
    if (this.heapIds.length < this.nTouched) {
      this.heapIds = new Int32Array(this.nTouched * 2);
      this.heapSc = new Float64Array(this.nTouched * 2);
    }
    const hIds = this.heapIds;
    const hSc = this.heapSc;
    let cnt = 0;
    for (let t = 0, nt = this.nTouched; t < nt; t++) {
      const c = touched[t];
      const a = c << 2;
      let s: number;
      if (t < n1 && !cold) {
        const p = pBuf[t];
        // s = p + wTr·trend ≤ p + wTr (trend ≤ 1): below the floor without reading the trend
        if (p + wTr < floor) continue;
        s = p + wTr * acc[a + 3];
      } else s = wC * acc[a] + wT * acc[a + 1] + wB * acc[a + 2] + wTr * acc[a + 3];
      if (s <= 0 || s < floor) continue;
      hIds[cnt] = c;
      hSc[cnt] = s;
      cnt++;
    }
    for (let i = (cnt >> 1) - 1; i >= 0; i--) siftDownMax(hIds, hSc, cnt, i, hIds[i], hSc[i]);
    this.heapSize = cnt;
    this.popped = 0;
    this.selLimit = m;
    this.checkWindow = checkWindow;
    if (this.selIds.length < m) {
      this.selIds = new Int32Array(m * 2);
      this.selScores = new Float64Array(m * 2);
    }
    return this.diversify(n);
  }

  private pBuf = new Float64Array(1024);
  private pSel = new Float64Array(1024);
  private heapSize = 0;
  private popped = 0;
  private selLimit = 0;
  private checkWindow = false;

  /**
   * Makes the selection hold at least `upTo` + 1 entries (best first, each passing the filters) when the top M
   * of the candidates that pass the filters has that many; false if not.
   */
  private pull(upTo: number): boolean {
    if (upTo >= this.selLimit) return false;
    const hIds = this.heapIds;
    const hSc = this.heapSc;
    while (this.popped <= upTo) {
      const size = this.heapSize;
      if (size === 0) {
        this.selLimit = this.popped;
        return false;
      }
      const c = hIds[0];
      const s = hSc[0];
      this.heapSize = size - 1;
      if (size > 1) siftDownMax(hIds, hSc, size - 1, 0, hIds[size - 1], hSc[size - 1]);
      if (!this.passes(c, this.checkWindow)) continue;
      this.selIds[this.popped] = c;
      this.selScores[this.popped] = s;
      this.popped++;
    }
    return true;
  }

  private categoryScope(cat: number): TrendingScope {
    let s = this.categoryScopes[cat];
    if (!s) this.categoryScopes[cat] = s = this.src.trending.scope(`category:${this.src.categoryName(cat)}`);
    return s;
  }

  private countryScope(country: string): TrendingScope {
    let s = this.countryScopes.get(country);
    if (!s) this.countryScopes.set(country, (s = this.src.trending.scope(`country:${country}`)));
    return s;
  }

  private addTrending(scope: TrendingScope, level: number, code: ReasonCode, onlyExisting: boolean): void {
    const items = scope.top;
    const scores = scope.topScores;
    if (items.length === 0) return;
    const max = scores[0];
    const acc = this.acc;
    const stamp = this.stamp;
    const gen = this.gen;
    for (let i = 0; i < items.length; i++) {
      const c = items[i];
      if (onlyExisting && stamp[c] !== gen) continue;
      // Scopes earlier in the cascade rank above later ones: country in (0.5, 1], category in (0.375, 0.75]...
      const v = level * (0.5 + (0.5 * scores[i]) / max);
      this.touch(c);
      const a = (c << 2) + 3;
      if (v > acc[a]) {
        acc[a] = v;
        if (this.explain) this.trendCode[c] = code;
      }
    }
  }

  /**
   * Diversity over the selection (read best first, popped from the heap as far as needed, at most M): writes
   * the positions of the final list into `chosen`; returns its length.
   */
  private diversify(n: number): number {
    const d = this.cfg.diversity;
    if (this.chosen.length < n) {
      this.chosen = new Int32Array(n * 2);
      this.rest = new Int32Array(n * 2);
    }
    const out = this.chosen;
    if (d.mode === 'none') {
      let len = 0;
      while (len < n && this.pull(len)) {
        out[len] = len;
        len++;
      }
      return len;
    }
    const ids = this.selIds;
    if (d.mode === 'category-cap') {
      const rest = this.rest;
      let len = 0;
      let nRest = 0;
      const gen = this.gen;
      for (let i = 0; len < n && this.pull(i); i++) {
        const cat = this.src.categoryOf(ids[i]);
        if (cat >= 0) {
          if (cat >= this.catStamp.length) this.growCategories(cat);
          const c = this.catStamp[cat] === gen ? this.catCount[cat] : 0;
          if (c >= d.categoryCap) {
            if (nRest < rest.length) rest[nRest++] = i;
            continue;
          }
          this.catStamp[cat] = gen;
          this.catCount[cat] = c + 1;
        }
        out[len++] = i;
      }
      // Too few diverse items: fill with the best capped ones (the cap is a preference, not a filter).
      for (let r = 0; r < nRest && len < n; r++) {
        // insert in position order (both lists are ascending)
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
    // MMR with content similarity: λ·relevance − (1 − λ)·max similarity to what is already chosen.
    let k = 0;
    while (this.pull(k)) k++;
    const content = this.src.content;
    const pool: number[] = [];
    for (let i = 0; i < k; i++) pool.push(i);
    const max = this.selScores[0] || 1;
    let len = 0;
    while (len < n && pool.length > 0) {
      let best = 0;
      let bestV = -Infinity;
      for (let p = 0; p < pool.length; p++) {
        let red = 0;
        if (content) for (let o = 0; o < len; o++) red = Math.max(red, content.similarity(ids[pool[p]], ids[out[o]]));
        const v = d.mmrLambda * (this.selScores[pool[p]] / max) - (1 - d.mmrLambda) * red;
        if (v > bestV) {
          bestV = v;
          best = p;
        }
      }
      out[len++] = pool.splice(best, 1)[0];
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

/** The k-th largest of xs[0..n) (1 ≤ k ≤ n); reorders xs. */
function kthLargest(xs: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  const want = k - 1;
  while (lo < hi) {
    const pivot = xs[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (xs[i] > pivot) i++;
      while (xs[j] < pivot) j--;
      if (i <= j) {
        const t = xs[i];
        xs[i] = xs[j];
        xs[j] = t;
        i++;
        j--;
      }
    }
    if (want <= j) hi = j;
    else if (want >= i) lo = i;
    else return xs[want];
  }
  return xs[want];
}

/** Max-heap (root = best by score desc, then id asc) sift-down of (c, s) from position i within [0, size). */
function siftDownMax(ids: Int32Array, sc: Float64Array, size: number, i: number, c: number, s: number): void {
  for (;;) {
    let w = 2 * i + 1;
    if (w >= size) break;
    const r = w + 1;
    // pick the better child
    if (r < size && (sc[r] > sc[w] || (sc[r] === sc[w] && ids[r] < ids[w]))) w = r;
    const ws = sc[w];
    // stop when (c, s) is at least as good as the better child
    if (s > ws || (s === ws && c < ids[w])) break;
    ids[i] = ids[w];
    sc[i] = ws;
    i = w;
  }
  ids[i] = c;
  sc[i] = s;
}
