/**
 * Prequential (test-then-learn) evaluation, after Vinagre et al. (UMAP 2014), with the protocol of the
 * recommender issue: for each event of a user who has an earlier event, first ask that user's top list, count a
 * hit when the event's item is in the top 10, then learn the event; a user's first event is only learned.
 * Already-bought items may be recommended. Deterministic: no randomness anywhere, ties broken by item id.
 *
 * Metrics per tested event (one relevant item, at rank r, 1-based, or absent):
 *   HR@10 = [r ≤ 10]; NDCG@10 = 1/log2(r + 1) if r ≤ 10; Recall@20 = [r ≤ 20]; MAP@10 = 1/r if r ≤ 10
 *   (average precision with a single relevant item). Coverage = share of the data set's distinct items
 *   (those in the replayed events) shown in at least one top 10.
 */
import type { CatalogItem, UserEvent } from '../domain/events.js';
import type { RecommenderConfigInput } from '../stages/recommend/model/config.js';
import { IdInterner } from '../stages/recommend/model/interner.js';
import { Recommender } from '../stages/recommend/model/recommender.js';
import type { StrategyFactory } from '../stages/recommend/model/strategy/types.js';
import { TimelineBuckets, type TimelineOptions, type TimelinePoint } from './timeline.js';

/** A model under evaluation: ranks interned ids and learns events. */
export interface PrequentialModel {
  readonly name: string;
  /** Interned id of an item, -1 when unknown to the model. */
  idOf(itemId: string): number;
  /** The user's top `n` as interned ids, best first. */
  top(e: UserEvent, n: number): ArrayLike<number>;
  learn(e: UserEvent): void;
}

export interface PrequentialMetrics {
  model: string;
  hr10: number;
  ndcg10: number;
  recall20: number;
  map10: number;
  coverage: number;
  events: number;
  tested: number;
  seconds: number;
  eventsPerSecond: number;
  /** HR@10 and NDCG@10 over the timeline (tested events by event time, bounded windows; see timeline.ts). */
  timeline: { windowMs: number; points: TimelinePoint[] };
}

export interface PrequentialOptions {
  /** Called every `progressEvery` events and at the end. */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
  /** Windows of the timeline series (default: a day each, at most 512). */
  timeline?: TimelineOptions;
}

export function runPrequential(events: readonly UserEvent[], model: PrequentialModel, opts: PrequentialOptions = {}): PrequentialMetrics {
  const seen = new Set<string>();
  // interned ids shown in a top 10 (dense ints: a growable bitmap instead of a Set)
  let shown = new Uint8Array(4096);
  const shownOther = new Set<number>();
  const allItems = new Set<string>();
  let tested = 0;
  let hits10 = 0;
  let hits20 = 0;
  let ndcg = 0;
  let map = 0;
  const timeline = new TimelineBuckets(opts.timeline);
  const every = opts.progressEvery ?? 5000;
  const t0 = performance.now();
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e.itemId !== null) allItems.add(e.itemId);
    if (seen.has(e.userId) && e.itemId !== null) {
      tested++;
      const top = model.top(e, 20);
      const target = model.idOf(e.itemId);
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
      let gain = 0;
      if (rank > 0) {
        hits20++;
        if (rank <= 10) {
          hits10++;
          gain = 1 / Math.log2(rank + 1);
          ndcg += gain;
          map += 1 / rank;
        }
      }
      timeline.add(e.eventTime, rank > 0 && rank <= 10, gain);
    } else seen.add(e.userId);
    model.learn(e);
    if (opts.onProgress && (i + 1) % every === 0) opts.onProgress(i + 1, events.length);
  }
  const seconds = (performance.now() - t0) / 1000;
  opts.onProgress?.(events.length, events.length);
  const d = tested || 1;
  return {
    model: model.name,
    hr10: hits10 / d,
    ndcg10: ndcg / d,
    recall20: hits20 / d,
    map10: map / d,
    coverage: allItems.size
      ? [...allItems].filter((it) => {
          const id = model.idOf(it);
          return id >= 0 && id < shown.length ? shown[id] === 1 : shownOther.has(id);
        }).length / allItems.size
      : 0,
    events: events.length,
    tested,
    seconds,
    eventsPerSecond: events.length / (seconds || 1e-9),
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
    top: (e, n) => {
      // the same ranking as recommendRaw(…, { explain: false }), without result objects; the buffer is reused
      // (runPrequential reads the list before the next call)
      if (buf.length < n) buf = new Int32Array(n);
      const len = rec.recommendIds(e.userId, buf, { n, now: e.eventTime, country: e.context?.country ?? null });
      return len === buf.length ? buf : buf.subarray(0, len);
    },
    learn: (e) => rec.learn(e),
  };
}

/** Popularity baseline: all-time most frequent items (event counts), the same list for everyone. */
export function popularityModel(): PrequentialModel {
  const ids = new IdInterner();
  const counts: number[] = [];
  const top: number[] = [];
  const N = 20;
  return {
    name: 'popularity',
    idOf: (itemId) => ids.lookup(itemId),
    top: (_e, n) => top.slice(0, n),
    learn: (e) => {
      if (e.itemId === null) return;
      const id = ids.intern(e.itemId);
      const v = (counts[id] = (counts[id] ?? 0) + 1);
      let at = top.indexOf(id);
      if (at < 0) {
        if (top.length >= N && v <= counts[top[N - 1]]) return;
        if (top.length >= N) top.pop();
        top.push(id);
        at = top.length - 1;
      }
      while (at > 0 && (counts[top[at - 1]] < v || (counts[top[at - 1]] === v && top[at - 1] > id))) {
        top[at] = top[at - 1];
        at--;
      }
      top[at] = id;
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
