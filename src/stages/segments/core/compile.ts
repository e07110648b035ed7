/**
 * Compiles validated rules once into evaluators. Besides membership at `now`, each compiled segment knows the
 * earliest event time at which its membership changes with the mere passage of time (no new event): every
 * condition is piecewise constant in time between known breakpoints (a bucket leaving a window, a recency or
 * first-seen threshold crossed, a session timing out), so the next change is found exactly by walking the merged
 * breakpoints of its conditions.
 */
import { createHash } from 'node:crypto';
import type { FeatureConfig } from '../features/config.js';
import type { FeatureView } from '../features/view.js';
import type { Condition, Expr, SegmentRule } from './rules.js';

export interface SegmentInfo {
  id: string;
  description: string | null;
  /** Whether a member set is kept for the segment (`members: true`). */
  members: boolean;
}

export interface CompiledSegments {
  /** Segment ids in file order. */
  readonly segments: readonly SegmentInfo[];
  /**
   * Hash of everything membership (and member sets, and timers) depends on: the segments' ids, rules and
   * `members` flags, and the feature configuration. Positions, descriptions, comments and layout are ignored.
   * Stored per partition; a worker whose fingerprint differs re-evaluates every known user of the partition.
   */
  readonly fingerprint: string;
  /** Segments the user is in at `now` (now >= every event time applied to the view's state). */
  evaluate(view: FeatureView, now: number): Set<string>;
  /** Per segment: the earliest time > now at which membership changes without new events (absent = never). */
  nextChangeTimes(view: FeatureView, now: number): Map<string, number>;
  /** Min of nextChangeTimes, or null. */
  nextChangeTime(view: FeatureView, now: number): number | null;
}

interface Timeline {
  value: boolean;
  /** Ascending times > now at which the condition's truth toggles. */
  flips: number[];
}

interface CompiledCondition {
  at(view: FeatureView, now: number): boolean;
  timeline(view: FeatureView, now: number): Timeline;
}

type CExpr =
  | { kind: 'all' | 'any'; items: CExpr[] }
  | { kind: 'not'; item: CExpr }
  | { kind: 'cond'; index: number };

export function compileRules(rules: readonly SegmentRule[], cfg: FeatureConfig): CompiledSegments {
  const compiled = rules.map((r) => {
    const conds: CompiledCondition[] = [];
    const expr = lower(r.when, conds, cfg);
    return { id: r.id, expr, conds };
  });

  const nextFor = (c: (typeof compiled)[number], view: FeatureView, now: number): number | null => {
    const tls = c.conds.map((k) => k.timeline(view, now));
    const truth = tls.map((t) => t.value);
    const current = evalExpr(c.expr, truth);
    const flips: Array<[number, number]> = [];
    tls.forEach((t, i) => t.flips.forEach((time) => flips.push([time, i])));
    flips.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (let k = 0; k < flips.length; ) {
      const time = flips[k]![0];
      while (k < flips.length && flips[k]![0] === time) {
        const i = flips[k]![1];
        truth[i] = !truth[i];
        k++;
      }
      if (evalExpr(c.expr, truth) !== current) return time;
    }
    return null;
  };

  return {
    segments: rules.map((r) => ({ id: r.id, description: r.description, members: r.members })),
    fingerprint: rulesFingerprint(rules, cfg),
    evaluate(view, now) {
      const out = new Set<string>();
      for (const c of compiled) {
        if (evalExpr(c.expr, (i) => c.conds[i]!.at(view, now))) out.add(c.id);
      }
      return out;
    },
    nextChangeTimes(view, now) {
      const out = new Map<string, number>();
      for (const c of compiled) {
        const t = nextFor(c, view, now);
        if (t !== null) out.set(c.id, t);
      }
      return out;
    },
    nextChangeTime(view, now) {
      let best: number | null = null;
      for (const c of compiled) {
        const t = nextFor(c, view, now);
        if (t !== null && (best === null || t < best)) best = t;
      }
      return best;
    },
  };
}

/** See CompiledSegments.fingerprint. Pure and stable across processes (sha256, hex, first 32 chars). */
export function rulesFingerprint(rules: readonly SegmentRule[], cfg: FeatureConfig): string {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v instanceof Map) return [...v.entries()].sort((a, b) => Number(a[0]) - Number(b[0])).map(strip);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) if (k !== 'pos') out[k] = strip((v as Record<string, unknown>)[k]);
      return out;
    }
    return v;
  };
  const canonical = JSON.stringify({
    segments: rules.map((r) => ({ id: r.id, members: r.members, when: strip(r.when) })),
    features: strip(cfg),
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

function evalExpr(e: CExpr, truth: boolean[] | ((i: number) => boolean)): boolean {
  switch (e.kind) {
    case 'all':
      return e.items.every((x) => evalExpr(x, truth));
    case 'any':
      return e.items.some((x) => evalExpr(x, truth));
    case 'not':
      return !evalExpr(e.item, truth);
    case 'cond':
      return typeof truth === 'function' ? truth(e.index) : truth[e.index]!;
  }
}

function lower(e: Expr, conds: CompiledCondition[], cfg: FeatureConfig): CExpr {
  switch (e.kind) {
    case 'all':
    case 'any':
      return { kind: e.kind, items: e.items.map((x) => lower(x, conds, cfg)) };
    case 'not':
      return { kind: 'not', item: lower(e.item, conds, cfg) };
    case 'cond':
      conds.push(compileCondition(e, cfg));
      return { kind: 'cond', index: conds.length - 1 };
  }
}

/** Comparison with SQL-like nulls: a missing value fails every operator except `exists: false`. */
function predicate(c: Condition): (v: number | string | boolean | null) => boolean {
  const x = c.value;
  switch (c.op) {
    case 'exists':
      return (v) => (v !== null) === x;
    case 'gt':
      return (v) => v !== null && (v as number) > (x as number);
    case 'gte':
      return (v) => v !== null && (v as number) >= (x as number);
    case 'lt':
      return (v) => v !== null && (v as number) < (x as number);
    case 'lte':
      return (v) => v !== null && (v as number) <= (x as number);
    case 'eq':
      return (v) => v !== null && v === x;
    case 'ne':
      return (v) => v !== null && v !== x;
    case 'in':
      return (v) => v !== null && (x as string[]).includes(v as string);
    case 'not_in':
      return (v) => v !== null && !(x as string[]).includes(v as string);
  }
}

/** Truth timeline of a piecewise-constant value given its change candidates. */
function fromCandidates(
  pred: (v: number | string | boolean | null) => boolean,
  valueAt: (t: number) => number | string | boolean | null,
  now: number,
  candidates: number[],
): Timeline {
  const value = pred(valueAt(now));
  const flips: number[] = [];
  let cur = value;
  for (const t of [...new Set(candidates.filter((t) => t > now))].sort((a, b) => a - b)) {
    const v = pred(valueAt(t));
    if (v !== cur) {
      flips.push(t);
      cur = v;
    }
  }
  return { value, flips };
}

function compileCondition(c: Condition, cfg: FeatureConfig): CompiledCondition {
  const pred = predicate(c);
  const f = c.feature;
  const constant = (get: (view: FeatureView, now: number) => number | string | boolean | null): CompiledCondition => ({
    at: (view, now) => pred(get(view, now)),
    timeline: (view, now) => ({ value: pred(get(view, now)), flips: [] }),
  });
  const aggregate = (q: Parameters<FeatureView['aggregateTimeline']>[0]): CompiledCondition => ({
    at: (view, now) => pred(view.aggregate(q, now)),
    timeline: (view, now) => {
      const tl = view.aggregateTimeline(q, now);
      const value = pred(tl.value);
      const flips: number[] = [];
      let cur = value;
      for (const [t, v] of tl.steps) {
        const b = pred(v);
        if (b !== cur) {
          flips.push(t);
          cur = b;
        }
      }
      return { value, flips };
    },
  });
  /** value(now) = now - anchor: candidates are the threshold and one ms after it. */
  const elapsed = (anchorOf: (view: FeatureView) => number | null): CompiledCondition => ({
    at: (view, now) => {
      const a = anchorOf(view);
      return pred(a === null ? null : now - a);
    },
    timeline: (view, now) => {
      const a = anchorOf(view);
      if (a === null || typeof c.value !== 'number') return { value: pred(a === null ? null : now - a), flips: [] };
      const th = a + c.value;
      return fromCandidates(pred, (t) => t - a, now, [th, th + 1]);
    },
  });

  switch (f.f) {
    case 'count':
      return aggregate({ type: f.types, category: f.category, window: f.window, field: 'count' });
    case 'sum':
      return aggregate({ type: f.types, category: f.category, window: f.window, field: f.field });
    case 'rfm':
      if (f.metric === 'recency') return elapsed((v) => v.lastEventTime('purchase'));
      return aggregate({ type: 'purchase', window: f.window!, field: f.metric === 'frequency' ? 'count' : 'amount' });
    case 'recency':
      return elapsed((v) => v.lastEventTime(f.type));
    case 'since_first_seen':
      return elapsed((v) => v.firstSeen);
    case 'affinity_rank':
      // All scores decay by the same factor, so ranks do not change with time.
      return constant((v) => v.affinityRank(f.category));
    case 'context':
      return constant((v) => v.context[f.field]);
    case 'session': {
      const get = (v: FeatureView, now: number): number | boolean => {
        const s = v.session(now);
        return f.field === 'count' ? s.count : f.field === 'active' ? s.active : f.field === 'current_length' ? s.currentLengthMs : s.currentEvents;
      };
      if (f.field === 'count') return constant(get);
      return {
        at: (v, now) => pred(get(v, now)),
        timeline: (v, now) => {
          const end = v.session(now).latestEnd;
          return fromCandidates(pred, (t) => get(v, t), now, end === null ? [] : [end + cfg.sessionGapMs]);
        },
      };
    }
  }
}
