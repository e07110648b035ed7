/**
 * Prequential (test-then-learn) evaluation, after Vinagre et al. (UMAP 2014): for each event of a user who has an
 * earlier event, first ask that user's top list, count a hit when the event's item is in it, then learn the
 * event; a user's first event is only learned. Two protocols (`EvalProtocol`):
 *   - repeat: every such event is tested and anything may be recommended (already-bought items too);
 *   - discovery: only events where the user meets the item for the first time are tested, and the items the
 *     user already interacted with are excluded from every model's list (the harness passes the exclusion to
 *     the model, so each ranks the rest: no model loses places to items it may not show).
 * Deterministic: no randomness anywhere.
 *
 * Metrics per tested event (one relevant item, at rank r, 1-based, or absent):
 *   HR@10 = [r ≤ 10]; NDCG@10 = 1/log2(r + 1) if r ≤ 10; Precision@10 = [r ≤ 10] / 10 (one relevant item:
 *   HR@10 / 10, listed because the literature's tables use it); Recall@20 = [r ≤ 20]; MAP@10 = 1/r if r ≤ 10
 *   (average precision with a single relevant item). Coverage = share of the data set's distinct items (those
 *   in the replayed events) shown in at least one top 10. The cold slice: the same metrics over the tested
 *   events that are a user's 2nd to 5th event.
 */
import type { CatalogItem, UserEvent } from '../domain/events.js';
import type { RecommenderConfigInput } from '../stages/recommend/model/config.js';
import { IdInterner } from '../stages/recommend/model/interner.js';
import { Recommender } from '../stages/recommend/model/recommender.js';
import type { StrategyFactory } from '../stages/recommend/model/strategy/types.js';
import { CountRanking } from './count-ranking.js';
import { TimelineBuckets, type TimelineOptions, type TimelinePoint } from './timeline.js';

export const EVAL_PROTOCOLS = ['repeat', 'discovery'] as const;
export type EvalProtocol = (typeof EVAL_PROTOCOLS)[number];

/** The protocols in one sentence each (the report's `protocol` line). */
export const PROTOCOL_TEXT: Record<EvalProtocol, string> = {
  repeat:
    'prequential test-then-learn, repeat: every event of a user with an earlier event is tested (top 10/20 asked first), then learned; first events only learned; items the user already has may be recommended',
  discovery:
    'prequential test-then-learn, discovery: only events where a user with an earlier event meets the item for the first time are tested; items the user already interacted with are excluded from every model\'s list; every event is learned',
};

/** The users' events that form the cold slice: their 2nd to 5th (the 1st is never tested). */
export const COLD_SLICE = { from: 2, to: 5 } as const;

/** A model under evaluation: ranks interned ids and learns events. */
export interface PrequentialModel {
  readonly name: string;
  /** Interned id of an item, -1 when unknown to the model. */
  idOf(itemId: string): number;
  /** The user's top `n` as interned ids, best first; never an id `exclude` names (when given). */
  top(e: UserEvent, n: number, exclude?: (id: number) => boolean): ArrayLike<number>;
  learn(e: UserEvent): void;
}

/** The rank metrics of a set of tested events. */
export interface RankMetrics {
  tested: number;
  hr10: number;
  ndcg10: number;
  precision10: number;
  recall20: number;
  map10: number;
}

export interface PrequentialMetrics extends RankMetrics {
  model: string;
  coverage: number;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** The same metrics over the cold slice (tested events that are a user's 2nd to 5th event). */
  cold: RankMetrics;
  /** HR@10 and NDCG@10 over the timeline (tested events by event time, bounded windows; see timeline.ts). */
  timeline: { windowMs: number; points: TimelinePoint[] };
}

export interface PrequentialOptions {
  /** Which events are tested and what may be recommended (default 'repeat'). */
  protocol?: EvalProtocol;
  /** Called every `progressEvery` events and at the end. */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
  /** Windows of the timeline series (default: a day each, at most 512). */
  timeline?: TimelineOptions;
}

/** Sums of the rank metrics, turned into means by `finish`. */
class RankSums {
  tested = 0;
  hits10 = 0;
  hits20 = 0;
  ndcg = 0;
  map = 0;

  add(rank: number): number {
    this.tested++;
    if (rank === 0) return 0;
    this.hits20++;
    if (rank > 10) return 0;
    this.hits10++;
    const gain = 1 / Math.log2(rank + 1);
    this.ndcg += gain;
    this.map += 1 / rank;
    return gain;
  }

  finish(): RankMetrics {
    const d = this.tested || 1;
    return {
      tested: this.tested,
      hr10: this.hits10 / d,
      ndcg10: this.ndcg / d,
      precision10: this.hits10 / 10 / d,
      recall20: this.hits20 / d,
      map10: this.map / d,
    };
  }
}

export function runPrequential(events: readonly UserEvent[], model: PrequentialModel, opts: PrequentialOptions = {}): PrequentialMetrics {
  const protocol = opts.protocol ?? 'repeat';
  if (!EVAL_PROTOCOLS.includes(protocol)) throw new RangeError(`unknown protocol '${protocol}': use ${EVAL_PROTOCOLS.join(' or ')}`);
  const discovery = protocol === 'discovery';
  // events per user so far; under discovery also the items each user met (names: which events are tested must
  // not depend on the model) and the same as the model's ids (the exclusion the model is given)
  const eventsOf = new Map<string, number>();
  const metNames = new Map<string, Set<string>>();
  const metIds = new Map<string, Set<number>>();
  let metNow: Set<number> | undefined;
  const excluded = (id: number): boolean => metNow!.has(id);
  // interned ids shown in a top 10 (dense ints: a growable bitmap instead of a Set)
  let shown = new Uint8Array(4096);
  const shownOther = new Set<number>();
  const allItems = new Set<string>();
  const all = new RankSums();
  const cold = new RankSums();
  const timeline = new TimelineBuckets(opts.timeline);
  const every = opts.progressEvery ?? 5000;
  const t0 = performance.now();
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    const item = e.itemId;
    if (item !== null) allItems.add(item);
    const nth = (eventsOf.get(e.userId) ?? 0) + 1;
    eventsOf.set(e.userId, nth);
    let met: Set<string> | undefined;
    if (discovery) {
      met = metNames.get(e.userId);
      if (!met) metNames.set(e.userId, (met = new Set()));
    }
    if (nth > 1 && item !== null && !(met && met.has(item))) {
      metNow = discovery ? metIds.get(e.userId) : undefined;
      const top = model.top(e, 20, metNow ? excluded : undefined);
      const target = model.idOf(item);
      let rank = 0;
      for (let r = 0; r < top.length; r++) {
        const it = top[r];
        if (r < 10 && it >= 0) {
          if (it >= shown.length) {
            const next = new Uint8Array(Math.max(it + 1, shown.length * 2));
            next.set(shown);
            shown = next;
          }
          shown[it] = 1;
        } else if (r < 10) shownOther.add(it);
        if (rank === 0 && it === target && target >= 0) rank = r + 1;
      }
      const gain = all.add(rank);
      if (nth >= COLD_SLICE.from && nth <= COLD_SLICE.to) cold.add(rank);
      timeline.add(e.eventTime, rank > 0 && rank <= 10, gain);
    }
    model.learn(e);
    if (met && item !== null) {
      met.add(item);
      const id = model.idOf(item);
      if (id >= 0) {
        let ids = metIds.get(e.userId);
        if (!ids) metIds.set(e.userId, (ids = new Set()));
        ids.add(id);
      }
    }
    if (opts.onProgress && (i + 1) % every === 0) opts.onProgress(i + 1, events.length);
  }
  const seconds = (performance.now() - t0) / 1000;
  opts.onProgress?.(events.length, events.length);
  return {
    model: model.name,
    ...all.finish(),
    coverage: allItems.size
      ? [...allItems].filter((it) => {
          const id = model.idOf(it);
          return id >= 0 && id < shown.length ? shown[id] === 1 : shownOther.has(id);
        }).length / allItems.size
      : 0,
    events: events.length,
    seconds,
    eventsPerSecond: events.length / (seconds || 1e-9),
    cold: cold.finish(),
    timeline: { windowMs: timeline.windowMs, points: timeline.points() },
  };
}

/**
 * Attune's recommender as a prequential model (catalog upserted before the replay), running the given strategy
 * (default: the hybrid, the worker's).
 */
export function attuneModel(
  config: RecommenderConfigInput = {},
  catalog: readonly CatalogItem[] = [],
  strategy?: StrategyFactory,
): PrequentialModel & { recommender: Recommender } {
  const rec = new Recommender(config, { strategy });
  for (const c of catalog) rec.upsertItem(c);
  let buf = new Int32Array(20);
  return {
    name: 'attune',
    recommender: rec,
    idOf: (itemId) => rec.items.lookup(itemId),
    top: (e, n, exclude) => {
      // the same ranking as recommendRaw(…, { explain: false }), without result objects; the buffer is reused
      // (runPrequential reads the list before the next call)
      if (buf.length < n) buf = new Int32Array(n);
      const len = rec.recommendIds(e.userId, buf, { n, now: e.eventTime, country: e.context?.country ?? null, device: e.context?.device ?? null, exclude });
      return len === buf.length ? buf : buf.subarray(0, len);
    },
    learn: (e) => rec.learn(e),
  };
}

/**
 * Popularity baseline: all-time most frequent items (event counts, ties by the earlier seen item), the same list
 * for everyone but the items the protocol excludes.
 */
export function popularityModel(): PrequentialModel {
  const ids = new IdInterner();
  const ranking = new CountRanking();
  const out = new Int32Array(64);
  return {
    name: 'popularity',
    idOf: (itemId) => ids.lookup(itemId),
    top: (_e, n, exclude) => out.subarray(0, ranking.top(out, Math.min(n, out.length), exclude)),
    learn: (e) => {
      if (e.itemId !== null) ranking.add(ids.intern(e.itemId));
    },
  };
}

/** Events of the first `fraction` of the timeline (by position), for tuning on a prefix. */
export function timelinePrefix<T>(events: readonly T[], fraction: number): T[] {
  return events.slice(0, Math.round(events.length * Math.min(1, Math.max(0, fraction))));
}

/**
 * Benchmark entry point: the in-process recommender's throughput (events/s, test + learn per event) on a full
 * prequential replay of the given events and catalog, default configuration unless overridden.
 */
export function benchmarkInProcess(
  events: readonly UserEvent[],
  catalog: readonly CatalogItem[] = [],
  config: RecommenderConfigInput = {},
  strategy?: StrategyFactory,
): PrequentialMetrics & { learnOnlyEventsPerSecond: number } {
  const m = runPrequential(events, attuneModel(config, catalog, strategy));
  const learnOnly = new Recommender(config);
  for (const c of catalog) learnOnly.upsertItem(c);
  const t0 = performance.now();
  for (const e of events) learnOnly.learn(e);
  const s = (performance.now() - t0) / 1000;
  return { ...m, learnOnlyEventsPerSecond: events.length / (s || 1e-9) };
}
