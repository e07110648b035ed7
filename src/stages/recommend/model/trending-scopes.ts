/**
 * Where an event's trending increments go: the global scope, the event's country and device, the user's segments
 * and the item's category (trending.ts keeps the counts). Countries, devices and segment names come from input, so
 * each kind's scopes are bounded by its limit (limits.max*Scopes), past which a new name gets no scope of its own
 * and costs no memory. Scope handles are resolved once and kept: no string key per event.
 */
import type { RecommenderConfig } from './config.js';
import type { TrendingIndex, TrendingScope } from './trending.js';

export class TrendingScopes {
  private global: TrendingScope | null = null;
  private readonly countries = new Map<string, TrendingScope>();
  private readonly devices = new Map<string, TrendingScope>();
  private readonly segments = new Map<string, TrendingScope>();
  private readonly categories: (TrendingScope | undefined)[] = [];

  /** @param categoryOf the item's category id (-1: none) and its name. */
  constructor(
    private readonly trending: TrendingIndex,
    private readonly limits: RecommenderConfig['limits'],
    private readonly categoryOf: (item: number) => number,
    private readonly categoryName: (category: number) => string,
  ) {}

  /** One event's increments of `item` by `w` at time `t`. */
  add(country: string | null, device: string | null, segments: readonly string[] | undefined, item: number, w: number, t: number): void {
    const tr = this.trending;
    tr.addTo((this.global ??= tr.scope('global')), item, w, t);
    if (country) this.addToNamed(this.countries, 'country', country, this.limits.maxCountryScopes, item, w, t);
    if (device) this.addToNamed(this.devices, 'device', device, this.limits.maxDeviceScopes, item, w, t);
    if (segments) for (const seg of segments) this.addToNamed(this.segments, 'segment', seg, this.limits.maxSegmentScopes, item, w, t);
    const cat = this.categoryOf(item);
    if (cat >= 0) tr.addTo((this.categories[cat] ??= tr.scope(`category:${this.categoryName(cat)}`)), item, w, t);
  }

  /** Adds to the named scope of its kind, creating it while fewer than `max` exist. */
  private addToNamed(scopes: Map<string, TrendingScope>, kind: string, name: string, max: number, item: number, w: number, t: number): void {
    let s = scopes.get(name);
    if (!s && scopes.size < max) scopes.set(name, (s = this.trending.scope(`${kind}:${name}`)));
    if (s) this.trending.addTo(s, item, w, t);
  }
}
