/**
 * Per-user rolling feature state: a compact, JSON-safe object (one Redis blob per user, key `{u:<id>}:features`)
 * updated by `applyEvent`. Read it through `FeatureView` (view.ts), never directly.
 */
import { isActivity, type UserEvent } from '../../../domain/events.js';
import type { FeatureConfig } from './config.js';

/** [count, amount (quantity × price), quantity]; a bare number n stands for [n, 0, n] (the common no-price case). */
export type BucketEntry = number | [number, number, number];
/**
 * key -> entry. Keys: `<type code>` (all items of that type) and `<type code><category slot>` (tracked categories
 * only), e.g. "v" = views, "v3" = views of the category in slot 3 (see `cs`).
 */
export type Bucket = Record<string, BucketEntry>;

/** One-letter codes of the counted event types (bucket keys). */
export const TYPE_CODES: Readonly<Record<string, string>> = {
  view: 'v',
  click: 'c',
  add_to_cart: 'a',
  remove_from_cart: 'r',
  purchase: 'p',
  rating: 's',
};

export function entryValue(e: BucketEntry | undefined, f: 0 | 1 | 2): number {
  if (e === undefined) return 0;
  if (typeof e === 'number') return f === 1 ? 0 : e;
  return e[f];
}

/** [start, end, events] of one session, event time. */
export type SessionSpan = [number, number, number];

export interface UserFeatureState {
  v: 1;
  /** First and last (max) event time seen. */
  first: number | null;
  last: number | null;
  /** Number of events applied. */
  n: number;
  /** Latest event time per event type. */
  rec: Record<string, number>;
  /** Granularity ms (as string) -> bucket index (floor(t / g), as string) -> bucket. */
  b: Record<string, Record<string, Bucket>>;
  /** Tracked categories -> slot number used in bucket keys (at most maxCategories). */
  cs: Record<string, number>;
  /** Decayed category affinity: scores valid at time `t` (score(now) = s · 2^-((now - t) / halfLife)). */
  aff: { t: number; s: Record<string, number> };
  /**
   * Sessions. `open`: the sessions a late event could still touch, sorted by start, disjoint;
   * `closed`: how many older sessions were folded away.
   */
  ses: { closed: number; open: SessionSpan[] };
  /** Latest known context values and the event time they came from. */
  ctx: { country: string | null; countryT: number | null; device: string | null; deviceT: number | null };
}

/** Resolves an item's categories when the event carries no `properties.category` (e.g. a catalog lookup). */
export type CategoryLookup = (itemId: string) => readonly string[] | string | null | undefined;

/**
 * A map object without a prototype. Category names are input: on a plain object `'constructor' in o` is true and
 * `o.__proto__ = 0` sets nothing, so a category named `constructor` or `__proto__` would give NaN affinities or
 * vanish. Objects keyed by input stay JSON objects (the state is one JSON blob) but never have a prototype.
 */
export function dict<V>(from?: Record<string, V>): Record<string, V> {
  const o = Object.create(null) as Record<string, V>;
  // Object.assign reads own properties only (an own `__proto__` from JSON.parse included) and sets them as plain
  // properties here, since a prototype-less object has no `__proto__` setter.
  return from ? Object.assign(o, from) : o;
}

/** Makes the input-keyed maps of a state prototype-less (after JSON.parse or structuredClone, which add one). */
export function normalizeFeatureState(s: UserFeatureState): UserFeatureState {
  if (Object.getPrototypeOf(s.rec) !== null) s.rec = dict(s.rec);
  if (Object.getPrototypeOf(s.cs) !== null) s.cs = dict(s.cs);
  if (Object.getPrototypeOf(s.aff.s) !== null) s.aff.s = dict(s.aff.s);
  return s;
}

export function emptyFeatureState(): UserFeatureState {
  return {
    v: 1,
    first: null,
    last: null,
    n: 0,
    rec: dict(),
    b: {},
    cs: dict(),
    aff: { t: 0, s: dict() },
    ses: { closed: 0, open: [] },
    ctx: { country: null, countryT: null, device: null, deviceT: null },
  };
}

/** Parses a blob read back from Redis (a missing blob gives an empty state). */
export function parseFeatureState(json: string | null | undefined): UserFeatureState {
  if (!json) return emptyFeatureState();
  const s = JSON.parse(json) as UserFeatureState;
  if (s.v !== 1) throw new Error(`unsupported feature state version ${String(s.v)}`);
  return normalizeFeatureState(s);
}

export function serializeFeatureState(s: UserFeatureState): string {
  return JSON.stringify(s);
}


export function eventCategories(event: UserEvent, lookup?: CategoryLookup): string[] {
  const p = event.properties?.category;
  let raw: readonly string[] | string | null | undefined = p && p.length > 0 ? p : undefined;
  if (raw === undefined && lookup && event.itemId) raw = lookup(event.itemId);
  if (raw == null) return [];
  const list = typeof raw === 'string' ? [raw] : raw;
  return [...new Set(list.filter((c) => typeof c === 'string' && c.length > 0))];
}

/**
 * Applies one accepted event (on time or late within the allowance — the caller classifies lateness first).
 * MUTATES `state` and returns it. Deterministic: the same sequence of events gives the same state, whatever
 * happened to the blob in between (JSON round trips included).
 */
export function applyEvent(
  state: UserFeatureState,
  event: UserEvent,
  cfg: FeatureConfig,
  itemCategories?: CategoryLookup,
): UserFeatureState {
  // Rights requests and impressions carry no behavioural signal (domain/events.ts).
  if (!isActivity(event.type)) return state;
  normalizeFeatureState(state);
  const t = event.eventTime;
  state.first = state.first === null ? t : Math.min(state.first, t);
  state.last = state.last === null ? t : Math.max(state.last, t);
  state.n += 1;
  const prevRec = state.rec[event.type];
  if (prevRec === undefined || t > prevRec) state.rec[event.type] = t;

  // Categories: track at most cfg.maxCategories; a new one evicts the weakest (decayed affinity, then name).
  const cats = eventCategories(event, itemCategories);
  const tracked: string[] = [];
  const evicted: string[] = [];
  const aff = state.aff;
  const half = cfg.affinityHalfLifeMs;
  if (cats.length > 0) {
    if (t > aff.t) {
      const f = Math.pow(2, -(t - aff.t) / half);
      for (const k of Object.keys(aff.s)) aff.s[k] = aff.s[k]! * f;
      aff.t = t;
    }
    for (const c of cats) {
      if (!(c in aff.s)) {
        const keys = Object.keys(aff.s);
        if (keys.length >= cfg.maxCategories) {
          let victim: string | null = null;
          for (const k of keys) {
            if (cats.includes(k)) continue;
            if (victim === null || aff.s[k]! < aff.s[victim]! || (aff.s[k] === aff.s[victim] && k > victim)) victim = k;
          }
          if (victim === null) continue; // cannot track more categories than maxCategories
          delete aff.s[victim];
          evicted.push(String(state.cs[victim]));
          delete state.cs[victim];
        }
        aff.s[c] = 0;
        const used = new Set(Object.values(state.cs));
        let slot = 0;
        while (used.has(slot)) slot++;
        state.cs[c] = slot;
      }
      tracked.push(c);
      const w = cfg.affinityWeights[event.type] ?? 0;
      aff.s[c] = aff.s[c]! + w * Math.pow(2, -(aff.t - t) / half);
    }
  }

  // Time buckets, one series per granularity.
  const qty = event.quantity ?? 1;
  const amount = event.price === null || event.price === undefined ? 0 : qty * event.price;
  for (const [g, retention] of cfg.retention) {
    const gk = String(g);
    const series = (state.b[gk] ??= {});
    const minIdx = Math.floor(state.last / g) - retention / g + 1;
    const idx = Math.floor(t / g);
    if (evicted.length > 0) {
      for (const bucket of Object.values(series)) {
        for (const key of Object.keys(bucket)) {
          if (key.length > 1 && evicted.includes(key.slice(1))) delete bucket[key];
        }
      }
    }
    if (idx >= minIdx) {
      const bucket = (series[String(idx)] ??= {});
      const code = TYPE_CODES[event.type]!;
      add(bucket, code, amount, qty);
      for (const c of tracked) add(bucket, `${code}${state.cs[c]}`, amount, qty);
    }
    for (const k of Object.keys(series)) if (Number(k) < minIdx) delete series[k];
  }

  updateSessions(state, t, cfg);

  const country = event.context?.country ?? event.properties?.country ?? null;
  if (country && (state.ctx.countryT === null || t >= state.ctx.countryT)) {
    state.ctx.country = country;
    state.ctx.countryT = t;
  }
  const device = event.context?.device ?? event.properties?.device ?? null;
  if (device && (state.ctx.deviceT === null || t >= state.ctx.deviceT)) {
    state.ctx.device = device;
    state.ctx.deviceT = t;
  }
  return state;
}

function add(bucket: Bucket, key: string, amount: number, qty: number): void {
  const e = bucket[key];
  const [c0, a0, q0] = e === undefined ? [0, 0, 0] : typeof e === 'number' ? [e, 0, e] : e;
  const c1 = c0 + 1;
  const a1 = a0 + amount;
  const q1 = q0 + qty;
  bucket[key] = a1 === 0 && q1 === c1 ? c1 : [c1, a1, q1];
}

/**
 * Sessions are defined on event time only: sort all events, a gap >= sessionGapMs starts a new session.
 * Hence an out-of-order event (a) extends the session it falls within `gap` of, (b) bridges two sessions it is
 * within `gap` of both (merge: count - 1), or (c) forms a new session, possibly between two existing ones
 * (what looked like one gap is split by a new session: count + 1). Sessions that no accepted late event can
 * reach any more (end <= last - allowedLateness - gap) are folded into `closed`.
 */
function updateSessions(state: UserFeatureState, t: number, cfg: FeatureConfig): void {
  const gap = cfg.sessionGapMs;
  const open = state.ses.open;
  const hits: number[] = [];
  for (let i = 0; i < open.length; i++) {
    const s = open[i]!;
    if (t > s[0] - gap && t < s[1] + gap) hits.push(i);
  }
  if (hits.length === 0) {
    let i = 0;
    while (i < open.length && open[i]![0] < t) i++;
    open.splice(i, 0, [t, t, 1]);
  } else {
    const first = open[hits[0]!]!;
    let start = Math.min(first[0], t);
    let end = Math.max(first[1], t);
    let events = first[2] + 1;
    for (let h = 1; h < hits.length; h++) {
      const s = open[hits[h]!]!;
      start = Math.min(start, s[0]);
      end = Math.max(end, s[1]);
      events += s[2];
    }
    open.splice(hits[0]!, hits.length, [start, end, events]);
  }
  const horizon = state.last! - cfg.allowedLatenessMs - gap;
  while (open.length > 1 && open[0]![1] <= horizon) {
    open.shift();
    state.ses.closed += 1;
  }
}
