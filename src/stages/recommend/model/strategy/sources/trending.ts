/**
 * Trending: decayed counts in the request's country, on the request's device, among the members of each of the
 * user's segments (at most MAX_SEGMENTS of them), in the category of the user's newest item, and global. Scopes
 * earlier in the cascade rank above later ones — country in (0.5, 1], device in (0.45, 0.9], segment in
 * (0.4, 0.8], category in (0.375, 0.75], global in (0.25, 0.5] — and a candidate keeps its best scope. Values are in [0, 1] and not normalised
 * (a bounded source). A user without history gets weight 1 (the cold-start cascade: trending in their
 * country first, then global); others the blend's trending weight.
 * Scope names are resolved once to cached handles (scopes are never dropped, so handles stay valid); a country's
 * scope is looked up, never created, by a request.
 */
import type { Reason } from '../../../../../domain/events.js';
import type { TrendingScope } from '../../trending.js';
import type { CandidateAccumulator } from '../accumulator.js';
import type { CandidateSource, ScoreRequest, ScoringInputs } from '../types.js';

export const enum TrendingReason {
  Country = 4,
  Category = 5,
  Global = 6,
  Device = 7,
  /** Segment k of the request: Segment + k (k < MAX_SEGMENTS). */
  Segment = 8,
}

/** Segment scopes read per request: bounded work whatever the rules make of a user. */
export const MAX_SEGMENTS = 8;

export class TrendingSource implements CandidateSource {
  readonly name = 'trending';
  readonly bounded = true;
  readonly normalise = false;
  private globalScope: TrendingScope | null = null;
  private readonly countryScopes = new Map<string, TrendingScope>();
  private readonly deviceScopes = new Map<string, TrendingScope>();
  private readonly segmentScopes = new Map<string, TrendingScope>();
  private readonly categoryScopes: (TrendingScope | undefined)[] = [];
  // the last request's scopes, for the reasons' text
  private country: string | null = null;
  private device: string | null = null;
  private segments: readonly string[] = [];
  private category = -1;

  constructor(
    private readonly inputs: ScoringInputs,
    private readonly blendWeight: number,
  ) {}

  weight(req: ScoreRequest): number {
    return req.cold ? 1 : this.blendWeight;
  }

  collect(acc: CandidateAccumulator, slot: number, req: ScoreRequest, onlyExisting: boolean): number {
    const tr = this.inputs.trending;
    this.country = req.country;
    this.device = req.device;
    this.category = -1;
    this.add(acc, slot, (this.globalScope ??= tr.scope('global')), 0.5, TrendingReason.Global, onlyExisting, req.explain);
    const hist = req.user?.history;
    if (!req.cold && hist) {
      const cat = (this.category = this.inputs.categoryOf(hist.items[hist.items.length - 1]));
      if (cat >= 0) this.add(acc, slot, this.categoryScope(cat), 0.75, TrendingReason.Category, onlyExisting, req.explain);
    }
    this.segments = req.segments;
    for (let k = 0; k < req.segments.length && k < MAX_SEGMENTS; k++) {
      const seg = this.learnedScope(this.segmentScopes, 'segment', req.segments[k]);
      if (seg) this.add(acc, slot, seg, 0.8, TrendingReason.Segment + k, onlyExisting, req.explain);
    }
    const device = req.device ? this.learnedScope(this.deviceScopes, 'device', req.device) : undefined;
    if (device) this.add(acc, slot, device, 0.9, TrendingReason.Device, onlyExisting, req.explain);
    const country = req.country ? this.learnedScope(this.countryScopes, 'country', req.country) : undefined;
    if (country) this.add(acc, slot, country, 1, TrendingReason.Country, onlyExisting, req.explain);
    return 1;
  }

  reason(why: number): Reason {
    const text =
      why === TrendingReason.Country
        ? `trending in ${this.country ?? ''}`
        : why === TrendingReason.Device
          ? `trending on ${this.device ?? ''}`
          : why >= TrendingReason.Segment && why < TrendingReason.Segment + MAX_SEGMENTS
            ? `trending in segment ${this.segments[why - TrendingReason.Segment] ?? ''}`
          : why === TrendingReason.Category
          ? `trending in ${this.category >= 0 ? this.inputs.categoryName(this.category) : ''}`
          : 'trending now';
    return { kind: 'trending', text, relatedItemId: null };
  }

  private categoryScope(cat: number): TrendingScope {
    let s = this.categoryScopes[cat];
    if (!s) this.categoryScopes[cat] = s = this.inputs.trending.scope(`category:${this.inputs.categoryName(cat)}`);
    return s;
  }

  /**
   * A country's or device's scope if learning created one (undefined otherwise: nothing trends there). A request
   * never creates a scope, so free text in requests costs no memory; the scopes learning creates are bounded by
   * limits.maxCountryScopes / maxDeviceScopes, and so is this cache.
   */
  private learnedScope(cache: Map<string, TrendingScope>, kind: 'country' | 'device' | 'segment', name: string): TrendingScope | undefined {
    let s = cache.get(name);
    if (!s) {
      s = this.inputs.trending.find(`${kind}:${name}`);
      if (s) cache.set(name, s);
    }
    return s;
  }

  private add(acc: CandidateAccumulator, slot: number, scope: TrendingScope, level: number, code: number, onlyExisting: boolean, explain: boolean): void {
    const items = scope.top;
    const scores = scope.topScores;
    if (items.length === 0) return;
    const max = scores[0];
    const stride = acc.stride;
    const vals = acc.scores;
    const why = acc.why;
    for (let i = 0; i < items.length; i++) {
      const c = items[i];
      if (onlyExisting && !acc.has(c)) continue;
      const v = level * (0.5 + (0.5 * scores[i]) / max);
      acc.touch(c);
      const a = c * stride + slot;
      if (v > vals[a]) {
        vals[a] = v;
        if (explain) why[a] = code;
      }
    }
  }
}
