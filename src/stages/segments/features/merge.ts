/**
 * Identity stitching: folds an anonymous user's feature state into a known user's, as close as the aggregated
 * state allows to applying both users' events to one state (see mergeFeatureStates for what is not exact).
 */
import type { FeatureConfig } from './config.js';
import {
  dict,
  entryValue,
  normalizeFeatureState,
  type Bucket,
  type BucketEntry,
  type SessionSpan,
  type UserFeatureState,
} from './state.js';

/**
 * Merges `from` into `into`. MUTATES and returns `into`; `from` is only read (nothing of it is shared with the
 * result). Deterministic: the result depends on the two states' contents only, not on key order.
 *
 * Exact (as if one state had seen both event sequences) except where the aggregates lost the order:
 * - categories: a category either state evicted earlier has lost its counts and affinity there, and the merged
 *   eviction (when the union exceeds maxCategories) ranks by final affinity rather than replaying arrivals;
 * - sessions: folded (`closed`) sessions are counts without spans, so one that the other user's events would have
 *   joined to a neighbour stays a separate session (the count can only come out too high, never too low);
 * - affinities and amounts are float sums in another order (last-bit differences).
 */
export function mergeFeatureStates(into: UserFeatureState, from: UserFeatureState, cfg: FeatureConfig): UserFeatureState {
  normalizeFeatureState(into);
  // Normalize a shallow copy: normalizing `from` in place would replace its maps.
  const src = normalizeFeatureState({ ...from, aff: { ...from.aff } });
  if (src.n === 0) return into;

  into.first = pick(into.first, src.first, Math.min);
  into.last = pick(into.last, src.last, Math.max);
  into.n += src.n;
  for (const [type, t] of Object.entries(src.rec)) {
    const prev = into.rec[type];
    if (prev === undefined || t > prev) into.rec[type] = t;
  }

  const { keepInto, remapFrom } = mergeCategories(into, src, cfg);
  mergeBuckets(into, src, keepInto, remapFrom, cfg);
  mergeSessions(into, src, cfg);
  mergeContext(into, src);
  return into;
}

function pick(a: number | null, b: number | null, f: (x: number, y: number) => number): number | null {
  return a === null ? b : b === null ? a : f(a, b);
}

/**
 * Sets `into.aff` and `into.cs`. Returns the slots (as strings) of `into`'s kept categories and the map from
 * `from`'s slots to the merged slots of its kept categories.
 */
function mergeCategories(into: UserFeatureState, src: UserFeatureState, cfg: FeatureConfig) {
  const half = cfg.affinityHalfLifeMs;
  const t = Math.max(into.aff.t, src.aff.t);
  const score = dict<number>();
  // A category with a slot but no score (should not happen) still competes, with 0.
  for (const s of [into, src]) {
    const f = Math.pow(2, -(t - s.aff.t) / half);
    for (const [c, v] of Object.entries(s.aff.s)) score[c] = (score[c] ?? 0) + v * f;
    for (const c of Object.keys(s.cs)) score[c] ??= 0;
  }
  // Strongest first, ties by name ascending: the complement of applyEvent's victim rule.
  const ranked = Object.keys(score).sort((a, b) => score[b]! - score[a]! || (a < b ? -1 : a > b ? 1 : 0));
  const kept = ranked.slice(0, Math.max(0, cfg.maxCategories));
  const keptSet = new Set(kept);

  const cs = dict<number>();
  const used = new Set<number>();
  const keepInto = new Set<string>();
  for (const [c, slot] of Object.entries(into.cs)) {
    if (keptSet.has(c)) {
      cs[c] = slot;
      used.add(slot);
      keepInto.add(String(slot));
    }
  }
  let slot = 0;
  for (const c of kept.filter((c) => !Object.hasOwn(cs, c)).sort()) {
    while (used.has(slot)) slot++;
    cs[c] = slot;
    used.add(slot);
  }

  const aff = dict<number>();
  for (const c of kept) aff[c] = score[c]!;
  const remapFrom = new Map<string, string>();
  for (const [c, s] of Object.entries(src.cs)) if (Object.hasOwn(cs, c)) remapFrom.set(String(s), String(cs[c]));

  into.aff = { t, s: aff };
  into.cs = cs;
  return { keepInto, remapFrom };
}

function mergeBuckets(
  into: UserFeatureState,
  src: UserFeatureState,
  keepInto: ReadonlySet<string>,
  remapFrom: ReadonlyMap<string, string>,
  cfg: FeatureConfig,
): void {
  // Drop `into`'s keys of evicted (or slot-less) categories first: their slots may now belong to `from`'s.
  for (const series of Object.values(into.b)) {
    for (const bucket of Object.values(series)) {
      for (const key of Object.keys(bucket)) if (key.length > 1 && !keepInto.has(key.slice(1))) delete bucket[key];
    }
  }
  for (const [gk, fromSeries] of Object.entries(src.b)) {
    const series = (into.b[gk] ??= {});
    for (const [idx, fromBucket] of Object.entries(fromSeries)) {
      const bucket: Bucket = (series[idx] ??= {});
      for (const [key, e] of Object.entries(fromBucket)) {
        const slot = key.length > 1 ? remapFrom.get(key.slice(1)) : '';
        if (slot === undefined) continue; // a `from` category not kept
        const k = key.slice(0, 1) + slot;
        bucket[k] = sumEntry(bucket[k], e);
      }
    }
  }
  if (into.last === null) return;
  for (const [g, retention] of cfg.retention) {
    const series = into.b[String(g)];
    if (!series) continue;
    const minIdx = Math.floor(into.last / g) - retention / g + 1;
    for (const k of Object.keys(series)) if (Number(k) < minIdx) delete series[k];
  }
}

/** Always a new value (never one of `from`'s arrays); compact as `add` writes it. */
function sumEntry(a: BucketEntry | undefined, b: BucketEntry): BucketEntry {
  const c = entryValue(a, 0) + entryValue(b, 0);
  const am = entryValue(a, 1) + entryValue(b, 1);
  const q = entryValue(a, 2) + entryValue(b, 2);
  return am === 0 && q === c ? c : [c, am, q];
}

/** Same rules as updateSessions: spans less than a gap apart are one session; unreachable ones fold into `closed`. */
function mergeSessions(into: UserFeatureState, src: UserFeatureState, cfg: FeatureConfig): void {
  const gap = cfg.sessionGapMs;
  const spans = [...into.ses.open, ...src.ses.open].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const open: SessionSpan[] = [];
  for (const s of spans) {
    const cur = open[open.length - 1];
    if (cur && s[0] < cur[1] + gap) {
      cur[1] = Math.max(cur[1], s[1]);
      cur[2] += s[2];
    } else {
      open.push([s[0], s[1], s[2]]);
    }
  }
  let closed = into.ses.closed + src.ses.closed;
  if (into.last !== null) {
    const horizon = into.last - cfg.allowedLatenessMs - gap;
    while (open.length > 1 && open[0]![1] <= horizon) {
      open.shift();
      closed += 1;
    }
  }
  into.ses = { closed, open };
}

/** Per field, the later value wins; on a tie `from`'s (the anonymous activity is the more recent identity). */
function mergeContext(into: UserFeatureState, src: UserFeatureState): void {
  const a = into.ctx;
  const b = src.ctx;
  if (b.country && (a.countryT === null || (b.countryT !== null && b.countryT >= a.countryT))) {
    a.country = b.country;
    a.countryT = b.countryT;
  }
  if (b.device && (a.deviceT === null || (b.deviceT !== null && b.deviceT >= a.deviceT))) {
    a.device = b.device;
    a.deviceT = b.deviceT;
  }
}
