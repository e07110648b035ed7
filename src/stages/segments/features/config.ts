/**
 * Feature configuration: windows, bucket granularities, sessions, affinity, lateness.
 *
 * Windows are on EVENT time and bucket-aligned: a window of length W with bucket granularity g, evaluated at
 * `now`, covers the buckets with index in [floor(now/g) - W/g + 1, floor(now/g)]. An event at time t therefore
 * counts while now < (floor(t/g) + W/g) * g, i.e. for between W - g and W after it happened (never longer than W),
 * and it leaves the window exactly at a bucket boundary — which is what makes exits exactly schedulable.
 * The granularity is the finest of `granularities` that divides W with at most `maxBucketsPerWindow` buckets:
 * with the defaults 1h -> 1 min buckets (60), 24h -> 1 h (24), 7d -> 1 h (168), 30d -> 1 day (30), 90d -> 1 day (90).
 */
import type { EventType } from '../../../domain/events.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export interface FeatureConfigInput {
  /** Window lengths as durations ("1h", "24h", "7d", ...). Default 1h, 24h, 7d, 30d, 90d. */
  windows?: string[];
  /** Candidate bucket granularities, ms. Default 1 min, 1 h, 1 day. */
  granularities?: number[];
  maxBucketsPerWindow?: number;
  /** Session inactivity gap, ms (a gap >= this starts a new session). Default 30 min. */
  sessionGapMs?: number;
  /** Affinity half-life, ms. Default 7 days. */
  affinityHalfLifeMs?: number;
  /** Affinity weight per event type (types not listed weigh 0). */
  affinityWeights?: Partial<Record<EventType, number>>;
  /** At most this many categories are tracked per user (counts and affinity). Default 20. */
  maxCategories?: number;
  /** Allowed lateness relative to the partition watermark, ms. Default 10 min. */
  allowedLatenessMs?: number;
  /** Timer resolution for scheduled re-evaluations, ms. Default 1 s. */
  timerResolutionMs?: number;
}

export interface WindowSpec {
  /** Canonical name as configured, e.g. "7d". */
  name: string;
  ms: number;
  granularityMs: number;
  /** Number of buckets, ms / granularityMs. */
  buckets: number;
}

export interface FeatureConfig {
  windows: WindowSpec[];
  /** granularity ms -> retention ms (the longest window using it). */
  retention: Map<number, number>;
  sessionGapMs: number;
  affinityHalfLifeMs: number;
  affinityWeights: Partial<Record<EventType, number>>;
  maxCategories: number;
  allowedLatenessMs: number;
  timerResolutionMs: number;
}

export const DEFAULT_WINDOWS = ['1h', '24h', '7d', '30d', '90d'];
export const DEFAULT_AFFINITY_WEIGHTS: Partial<Record<EventType, number>> = {
  view: 1,
  click: 1.5,
  add_to_cart: 3,
  purchase: 5,
  rating: 2,
};

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: MINUTE, h: HOUR, d: DAY, w: 7 * DAY };

/** Parses "90s", "30m", "24h", "7d", "2w", "250ms"; returns null when malformed. Plain numbers are ms. */
export function parseDuration(input: string | number): number | null {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$/.exec(input);
  if (!m) return null;
  const v = Number(m[1]) * UNITS[m[2]!]!;
  return Number.isFinite(v) && Number.isInteger(v) ? v : null;
}

export function formatDuration(ms: number): string {
  for (const [u, f] of [['w', 7 * DAY], ['d', DAY], ['h', HOUR], ['m', MINUTE], ['s', 1000]] as const) {
    if (ms >= f && ms % f === 0) return `${ms / f}${u}`;
  }
  return `${ms}ms`;
}

export function resolveFeatureConfig(input: FeatureConfigInput = {}): FeatureConfig {
  const grans = [...(input.granularities ?? [MINUTE, HOUR, DAY])].sort((a, b) => a - b);
  const maxB = input.maxBucketsPerWindow ?? 168;
  const windows: WindowSpec[] = [];
  for (const name of input.windows ?? DEFAULT_WINDOWS) {
    const ms = parseDuration(name);
    if (ms === null || ms <= 0) throw new Error(`invalid window "${name}": use a duration such as 1h, 24h, 7d`);
    const g = grans.find((c) => ms % c === 0 && ms / c <= maxB);
    if (g === undefined) {
      throw new Error(
        `window "${name}" cannot be bucketed: it must be a multiple of one of ${grans.map(formatDuration).join(', ')} ` +
          `with at most ${maxB} buckets`,
      );
    }
    if (windows.some((w) => w.ms === ms)) continue;
    windows.push({ name, ms, granularityMs: g, buckets: ms / g });
  }
  windows.sort((a, b) => a.ms - b.ms);
  const retention = new Map<number, number>();
  for (const w of windows) retention.set(w.granularityMs, Math.max(retention.get(w.granularityMs) ?? 0, w.ms));
  return {
    windows,
    retention,
    sessionGapMs: input.sessionGapMs ?? 30 * MINUTE,
    affinityHalfLifeMs: input.affinityHalfLifeMs ?? 7 * DAY,
    affinityWeights: input.affinityWeights ?? DEFAULT_AFFINITY_WEIGHTS,
    maxCategories: input.maxCategories ?? 20,
    allowedLatenessMs: input.allowedLatenessMs ?? 10 * MINUTE,
    timerResolutionMs: input.timerResolutionMs ?? 1000,
  };
}

/** Finds the configured window whose length equals `name`'s duration (so "24h" and "1d" are the same window). */
export function findWindow(cfg: FeatureConfig, name: string): WindowSpec | undefined {
  const ms = parseDuration(name);
  return ms === null ? undefined : cfg.windows.find((w) => w.ms === ms);
}
