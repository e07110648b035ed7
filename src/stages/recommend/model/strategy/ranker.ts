/**
 * Runs a strategy for one request: filters prepared → unbounded sources collected → blend weights → a floor
 * under the top M → bounded sources collected → blended scores into the selection heap → diversity.
 *
 * Hot-path shape (one request ≈ 300–700 candidates): the accumulator's typed arrays with a touched list and
 * generation stamps, one reused request object, reused buffers — no allocation per request on `scoreIds`.
 * Slots are summed in source order (p = Σ w_k·s_k over the unbounded sources, then + w_b·s_b per bounded one),
 * which fixes the floating-point result.
 *
 * The floor: the unbounded sum p is a lower bound of a candidate's final score, so when M candidates that pass
 * the filters have p ≥ T (T the M-th largest such p), a candidate scoring < T cannot enter the top M. Only
 * candidates with p > B (B = Σ weights of the bounded sources, values ≤ 1) are counted: a candidate reached by
 * bounded sources only scores at most B < T, so the bounded sources then only add to existing candidates. Same
 * result as without the floor, with less work (fewer candidates in the heap, no bounded-only candidates).
 */
import type { UserState } from '../user-state.js';
import { CandidateAccumulator } from './accumulator.js';
import { kthLargest, Selection } from './selection.js';
import { emptyPurchaseLog, flattenPurchases } from './purchase-log.js';
import type { CandidateSource, ScoredCandidate, ScoreRequest, Strategy } from './types.js';
import type { RequestContext } from './request.js';

export class StrategyRanker {
  private readonly acc: CandidateAccumulator;
  private readonly sources: readonly CandidateSource[];
  /** Sources [0, nUnbounded) are unbounded, the rest bounded. */
  private readonly nUnbounded: number;
  /** Source positions in the order reasons are listed on ties. */
  private readonly reasonOrder: number[];
  /** Accumulator slot of each source. */
  private readonly slots: Int32Array;
  /**
   * The fast kernel: up to three unbounded sources in slots 0–2 and one bounded in slot 3, the unused slots
   * with weight 0 (adding 0 leaves a sum unchanged, so the padding changes no figure). Other shapes take the
   * general loop.
   */
  private readonly kernel4: boolean;
  /** Blend weights of the current request, per slot. */
  private readonly w: Float64Array;
  private readonly sel = new Selection();
  private readonly req: ScoreRequest = {
    user: undefined,
    now: 0,
    itemCount: 0,
    country: null,
    device: null,
    segments: [],
    cold: true,
    purchases: emptyPurchaseLog(),
    explain: true,
    exclude: undefined,
  };
  private pBuf = new Float64Array(1024);
  private pSel = new Float64Array(1024);
  private chosen = new Int32Array(64);

  constructor(readonly strategy: Strategy) {
    const sources = (this.sources = strategy.sources);
    let nUnbounded = 0;
    while (nUnbounded < sources.length && !sources[nUnbounded].bounded) nUnbounded++;
    if (sources.slice(nUnbounded).some((s) => !s.bounded)) throw new Error(`strategy ${strategy.name}: bounded sources must come last`);
    this.nUnbounded = nUnbounded;
    const names = sources.map((s) => s.name);
    const order = (strategy.reasonOrder ?? names).map((n) => names.indexOf(n));
    if (order.length !== names.length || order.some((i, k) => i < 0 || order.indexOf(i) !== k)) {
      throw new Error(`strategy ${strategy.name}: reasonOrder must name each source once`);
    }
    this.reasonOrder = order;
    this.kernel4 = nUnbounded <= 3 && sources.length - nUnbounded <= 1;
    this.slots = Int32Array.from(sources, (s, k) => (this.kernel4 && s.bounded ? 3 : k));
    const stride = this.kernel4 ? 4 : sources.length;
    this.acc = new CandidateAccumulator(stride);
    this.w = new Float64Array(stride);
  }

  /**
   * The top `n` candidates for a user at time `now`, best first. `itemCount` bounds the item ids.
   * Deterministic: ties are broken by item id. With `explain` false the reason sources are not tracked
   * (same ranking, less work).
   */
  score(user: UserState | undefined, n: number, now: number, itemCount: number, ctx: RequestContext, explain = true): ScoredCandidate[] {
    const len = this.run(user, n, now, itemCount, ctx, explain);
    const { sources, w, slots, chosen, reasonOrder } = this;
    const { ids, scores } = this.sel;
    const stride = this.acc.stride;
    const vals = this.acc.scores;
    const why = this.acc.why;
    const out: ScoredCandidate[] = [];
    for (let x = 0; x < len; x++) {
      const at = chosen[x];
      const c = ids[at];
      const a = c * stride;
      const parts = sources.map((_, k) => w[slots[k]] * vals[a + slots[k]]);
      const rs: Array<{ v: number; r: NonNullable<ReturnType<CandidateSource['reason']>> }> = [];
      for (const k of reasonOrder) {
        if (!(parts[k] > 0)) continue;
        const r = sources[k].reason(explain ? why[a + slots[k]] : -1);
        if (r) rs.push({ v: parts[k], r });
      }
      // stable: ties keep the reason order
      rs.sort((p, q) => q.v - p.v);
      out.push({ item: c, score: scores[at], parts, reasons: rs.map((x) => x.r) });
    }
    return out;
  }

  /**
   * The same ranking as `score(…, explain = false)`, as item ids written into `out` (best first); returns how
   * many were written. No result objects: the evaluation's and the benchmark's path.
   */
  scoreIds(
    user: UserState | undefined,
    n: number,
    now: number,
    itemCount: number,
    ctx: RequestContext,
    out: Int32Array,
    exclude?: (item: number) => boolean,
  ): number {
    const len = Math.min(this.run(user, n, now, itemCount, ctx, false, exclude), out.length);
    const { chosen } = this;
    const ids = this.sel.ids;
    for (let x = 0; x < len; x++) out[x] = ids[chosen[x]];
    return len;
  }

  /** Scores, filters, selects and diversifies; the result is `chosen[0..len)` (positions into the selection). */
  private run(
    user: UserState | undefined,
    n: number,
    now: number,
    itemCount: number,
    ctx: RequestContext,
    explain: boolean,
    exclude?: (item: number) => boolean,
  ): number {
    const { acc, sources, w, slots, nUnbounded, kernel4 } = this;
    const { filters, diversity } = this.strategy;
    const nSources = sources.length;
    const stride = acc.stride;
    acc.begin(itemCount, explain);
    const req = this.req;
    const hist = user?.history;
    const cold = !hist || hist.items.length === 0;
    req.user = user;
    req.now = now;
    req.itemCount = itemCount;
    req.country = ctx.country ?? user?.country ?? null;
    req.device = ctx.device;
    req.segments = ctx.segments;
    req.cold = cold;
    req.explain = explain;
    req.exclude = exclude;
    flattenPurchases(user, req.purchases);
    filters.prepare(req);

    for (let k = 0; k < nUnbounded; k++) {
      const s = sources[k];
      const weight = s.weight(req);
      const max = weight > 0 ? s.collect(acc, k, req, false) : 0;
      w[slots[k]] = s.normalise ? (max > 0 ? weight / max : 0) : weight;
    }
    let bound = 0;
    for (let k = nUnbounded; k < nSources; k++) {
      const weight = (w[slots[k]] = sources[k].weight(req));
      if (weight > 0) bound += weight;
    }
    const m = diversity.poolSize(n);
    const vals = acc.scores;
    let touched = acc.touched;

    let floor = 0;
    let onlyExisting = false;
    const n1 = acc.nTouched;
    if (this.pBuf.length < n1) this.pBuf = new Float64Array(n1 * 2);
    if (this.pSel.length < n1) this.pSel = new Float64Array(n1 * 2);
    const pBuf = this.pBuf;
    if (!cold) {
      const pSel = this.pSel;
      let nSel = 0;
      for (let t = 0; t < n1; t++) {
        const c = touched[t];
        const a = c * stride;
        const p = kernel4 ? w[0] * vals[a] + w[1] * vals[a + 1] + w[2] * vals[a + 2] : weightedSum(0, w, vals, a, 0, nUnbounded);
        pBuf[t] = p;
        if (p > bound && filters.passes(c)) pSel[nSel++] = p;
      }
      if (nSel >= m && m > 0) {
        floor = kthLargest(pSel, nSel, m);
        onlyExisting = bound > 0;
      }
    }

    for (let k = nUnbounded; k < nSources; k++) if (w[slots[k]] > 0) sources[k].collect(acc, slots[k], req, onlyExisting);

    // Blend into the heap; the filters are checked only on the candidates popped from it.
    const nt = acc.nTouched;
    touched = acc.touched;
    const sel = this.sel;
    sel.reserve(nt);
    const hIds = sel.heapIds;
    const hSc = sel.heapSc;
    let cnt = 0;
    for (let t = 0; t < nt; t++) {
      const c = touched[t];
      const a = c * stride;
      let s: number;
      if (t < n1 && !cold) {
        const p = pBuf[t];
        // s = p + Σ w_b·s_b ≤ p + B (s_b ≤ 1): below the floor without reading the bounded slots
        if (p + bound < floor) continue;
        s = kernel4 ? p + w[3] * vals[a + 3] : weightedSum(p, w, vals, a, nUnbounded, nSources);
      } else {
        s = kernel4
          ? w[0] * vals[a] + w[1] * vals[a + 1] + w[2] * vals[a + 2] + w[3] * vals[a + 3]
          : weightedSum(0, w, vals, a, 0, nSources);
      }
      if (s <= 0 || s < floor) continue;
      hIds[cnt] = c;
      hSc[cnt] = s;
      cnt++;
    }
    sel.build(cnt, m, filters);
    if (this.chosen.length < n) this.chosen = new Int32Array(n * 2);
    return diversity.select(sel, n, this.chosen);
  }
}

/**
 * start + Σ w[k]·vals[a + k] over k in [from, to), added left to right (the order fixes the floating-point
 * result). Unrolled by two: the per-candidate loop overhead showed in the request time.
 */
function weightedSum(start: number, w: Float64Array, vals: Float64Array, a: number, from: number, to: number): number {
  let s = start;
  let k = from;
  for (; k + 1 < to; k += 2) s = s + w[k] * vals[a + k] + w[k + 1] * vals[a + k + 1];
  if (k < to) s += w[k] * vals[a + k];
  return s;
}
