/**
 * FeatureView: the one typed read interface over a user's feature state, used by segments and the recommender.
 * Every time-dependent read takes `now` (event time — normally the partition watermark, which is >= every event
 * time applied to the state), so windows slide and recencies grow without new events.
 */
import type { EventType } from '../../../domain/events.js';
import { findWindow, type FeatureConfig, type WindowSpec } from './config.js';
import { entryValue, TYPE_CODES, type Bucket, type UserFeatureState } from './state.js';
import { UnknownWindowError } from '../../../errors.js';

export type AggregateField = 'count' | 'amount' | 'quantity';

export interface AggregateQuery {
  /** Event type filter (one or several); absent/null = every type. */
  type?: EventType | readonly EventType[] | null;
  /** Item category filter (only tracked categories have counts; others read 0). */
  category?: string | null;
  /** A configured window, by name ("7d") or length in ms. */
  window: string | number | WindowSpec;
}

export interface SessionInfo {
  /** Sessions seen so far (an active one included). */
  count: number;
  /** Whether the latest session is still open at `now` (now - its last event < gap). */
  active: boolean;
  /** Length (last - first event time) and event count of the active session; 0 when none is active. */
  currentLengthMs: number;
  currentEvents: number;
  /** Start/end of the latest session (active or not); null before any event. */
  latestStart: number | null;
  latestEnd: number | null;
}

export interface Rfm {
  /** now - last purchase (ms), null if never purchased. */
  recencyMs: number | null;
  /** Purchases in the window. */
  frequency: number;
  /** Σ quantity × price of purchases in the window. */
  monetary: number;
}

export interface CategoryScore {
  category: string;
  score: number;
}

/** Value of an aggregate now, and the future steps as buckets leave the window: [time, value from then on]. */
export interface AggregateTimeline {
  value: number;
  steps: Array<[number, number]>;
}

export interface FeatureView {
  readonly config: FeatureConfig;
  readonly firstSeen: number | null;
  readonly lastSeen: number | null;
  readonly totalEvents: number;
  readonly context: { readonly country: string | null; readonly device: string | null };
  count(q: AggregateQuery, now: number): number;
  sum(q: AggregateQuery & { field: 'amount' | 'quantity' }, now: number): number;
  aggregate(q: AggregateQuery & { field?: AggregateField }, now: number): number;
  aggregateTimeline(q: AggregateQuery & { field?: AggregateField }, now: number): AggregateTimeline;
  /** Latest event time of a type (or of any type when null). */
  lastEventTime(type: EventType | null): number | null;
  recencyMs(type: EventType | null, now: number): number | null;
  rfm(window: string | number | WindowSpec, now: number): Rfm;
  session(now: number): SessionInfo;
  /** Decayed affinity of every tracked category, best first (ties by name). */
  affinity(now: number): CategoryScore[];
  topCategories(n: number, now: number): CategoryScore[];
  /** 1-based rank of a category by affinity (positive scores only); null when untracked. Time-invariant. */
  affinityRank(category: string, now?: number): number | null;
}

// The class lives with every other error class in src/errors.ts; importable from here as before.
export { UnknownWindowError };

const FIELD_INDEX: Record<AggregateField, 0 | 1 | 2> = { count: 0, amount: 1, quantity: 2 };

export function createFeatureView(state: UserFeatureState, config: FeatureConfig): FeatureView {
  return new StateView(state, config);
}

class StateView implements FeatureView {
  constructor(
    private readonly s: UserFeatureState,
    readonly config: FeatureConfig,
  ) {}

  get firstSeen(): number | null {
    return this.s.first;
  }
  get lastSeen(): number | null {
    return this.s.last;
  }
  get totalEvents(): number {
    return this.s.n;
  }
  get context() {
    return { country: this.s.ctx.country, device: this.s.ctx.device };
  }

  private window(w: string | number | WindowSpec): WindowSpec {
    if (typeof w === 'object') return w;
    const spec =
      typeof w === 'number' ? this.config.windows.find((x) => x.ms === w) : findWindow(this.config, w);
    if (!spec) {
      throw new UnknownWindowError(
        `unknown window ${JSON.stringify(w)}; configured windows: ${this.config.windows.map((x) => x.name).join(', ')}`,
      );
    }
    return spec;
  }

  /** Buckets of the window at `now`, ascending index, with their contribution to the query. */
  private contributions(q: AggregateQuery & { field?: AggregateField }, now: number) {
    const w = this.window(q.window);
    const g = w.granularityMs;
    const hi = Math.floor(now / g);
    const lo = hi - w.buckets + 1;
    const series = this.s.b[String(g)] ?? {};
    const idx: number[] = [];
    for (const k of Object.keys(series)) {
      const i = Number(k);
      if (i >= lo && i <= hi) idx.push(i);
    }
    idx.sort((a, b) => a - b);
    const f = FIELD_INDEX[q.field ?? 'count'];
    const types = q.type == null ? null : (typeof q.type === 'string' ? [q.type] : q.type).map((t) => TYPE_CODES[t] ?? '?');
    const slot = q.category == null ? null : Object.hasOwn(this.s.cs, q.category) ? this.s.cs[q.category] : undefined;
    if (slot === undefined) return { w, out: [] as Array<[number, number]> }; // untracked category
    const cat = slot === null ? null : String(slot);
    const out: Array<[number, number]> = [];
    for (const i of idx) {
      const c = contribution(series[String(i)]!, types, cat, f);
      if (c !== 0) out.push([i, c]);
    }
    return { w, out };
  }

  aggregate(q: AggregateQuery & { field?: AggregateField }, now: number): number {
    const { out } = this.contributions(q, now);
    // Newest first — the same addition order as aggregateTimeline, so both agree to the last bit.
    let acc = 0;
    for (let k = out.length - 1; k >= 0; k--) acc += out[k]![1];
    return acc;
  }

  aggregateTimeline(q: AggregateQuery & { field?: AggregateField }, now: number): AggregateTimeline {
    const { w, out } = this.contributions(q, now);
    const suffix: number[] = new Array(out.length + 1);
    let acc = 0;
    suffix[out.length] = 0;
    for (let k = out.length - 1; k >= 0; k--) {
      acc += out[k]![1];
      suffix[k] = acc;
    }
    const steps: Array<[number, number]> = [];
    for (let k = 0; k < out.length; k++) steps.push([(out[k]![0] + w.buckets) * w.granularityMs, suffix[k + 1]!]);
    return { value: suffix[0]!, steps };
  }

  count(q: AggregateQuery, now: number): number {
    return this.aggregate({ ...q, field: 'count' }, now);
  }

  sum(q: AggregateQuery & { field: 'amount' | 'quantity' }, now: number): number {
    return this.aggregate(q, now);
  }

  lastEventTime(type: EventType | null): number | null {
    if (type === null) return this.s.last;
    return Object.hasOwn(this.s.rec, type) ? this.s.rec[type]! : null;
  }

  recencyMs(type: EventType | null, now: number): number | null {
    const t = this.lastEventTime(type);
    return t === null ? null : now - t;
  }

  rfm(window: string | number | WindowSpec, now: number): Rfm {
    const q = { type: 'purchase' as const, window };
    return {
      recencyMs: this.recencyMs('purchase', now),
      frequency: this.count(q, now),
      monetary: this.sum({ ...q, field: 'amount' }, now),
    };
  }

  session(now: number): SessionInfo {
    const open = this.s.ses.open;
    const latest = open[open.length - 1];
    const count = this.s.ses.closed + open.length;
    if (!latest) return { count, active: false, currentLengthMs: 0, currentEvents: 0, latestStart: null, latestEnd: null };
    const active = now - latest[1] < this.config.sessionGapMs;
    return {
      count,
      active,
      currentLengthMs: active ? latest[1] - latest[0] : 0,
      currentEvents: active ? latest[2] : 0,
      latestStart: latest[0],
      latestEnd: latest[1],
    };
  }

  affinity(now: number): CategoryScore[] {
    const f = Math.pow(2, -(now - this.s.aff.t) / this.config.affinityHalfLifeMs);
    return this.ranked().map(([category, s]) => ({ category, score: s * f }));
  }

  topCategories(n: number, now: number): CategoryScore[] {
    return this.affinity(now).slice(0, n);
  }

  affinityRank(category: string): number | null {
    const r = this.ranked().findIndex(([c]) => c === category);
    return r < 0 ? null : r + 1;
  }

  private ranked(): Array<[string, number]> {
    return Object.entries(this.s.aff.s)
      .filter(([, s]) => s > 0)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
}

/** types: type codes; cat: category slot as a string. */
function contribution(bucket: Bucket, types: readonly string[] | null, cat: string | null, f: 0 | 1 | 2): number {
  let acc = 0;
  if (types === null) {
    for (const [k, e] of Object.entries(bucket)) {
      if (cat === null ? k.length === 1 : k.length > 1 && k.slice(1) === cat) acc += entryValue(e, f);
    }
  } else {
    for (const t of types) acc += entryValue(bucket[cat === null ? t : t + cat], f);
  }
  return acc;
}
