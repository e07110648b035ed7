/**
 * The in-process recommender: wires interner, collaborative model, content index, trending, per-user state
 * and a strategy (default: the hybrid, strategy/hybrid.ts) run by the ranker. Pure computation, no I/O — the worker later keeps the same pieces with state in Redis
 * (see deltas.ts for the micro-batch path and docs/recommender.md).
 */
import type { CatalogItem, RecommendedItem, UserEvent } from '../../../domain/events.js';
import { mergeConfig, parseRecommenderConfig, type RecommenderConfig, type RecommenderConfigInput } from './config.js';
import { CollaborativeModel } from './collaborative.js';
import { catalogTerms, ContentIndex } from './content.js';
import { IdInterner } from './interner.js';
import { hybridStrategy } from './strategy/hybrid.js';
import { StrategyRanker } from './strategy/ranker.js';
import type { ScoredCandidate, ScoringInputs, Strategy, StrategyFactory } from './strategy/types.js';
import type { RequestContext } from './strategy/request.js';

export { strategyLabel } from './strategy/types.js';
export type { ScoredCandidate, Strategy, StrategyFactory } from './strategy/types.js';
import { TrendingIndex } from './trending.js';
import { TrendingScopes } from './trending-scopes.js';
import { ItemTable } from './item-table.js';
import { newUserState, recordPurchase, type PurchaseEntry, type UserState } from './user-state.js';
import { internHistory, internPurchases, mergeRest, type MergedState, type UserMerge } from './user-merge.js';
import { batchDeltas, CoocBatchDelta, mergeHistories, type InternedInteraction } from './deltas.js';

const NO_SEGMENTS: readonly string[] = [];


export interface RecommendOptions {
  /** List length (default 10). */
  n?: number;
  /** Evaluation time (default: the latest event time seen). */
  now?: number;
  /** Context country for a user never seen (cold-start cascade). */
  country?: string | null;
  /** Context device (the request's event's `context.device`): trending on that device ranks in the cascade. */
  device?: string | null;
  /** The user's real-time segments: trending among each segment's members ranks in the cascade. */
  segments?: readonly string[];
  /** Items (interned ids) this request must not return, on top of the filters (the evaluation's discovery protocol). */
  exclude?: (item: number) => boolean;
}

/**
 * A reset of one user's recommender state, at its place in a micro-batch (users' rights: an erasure, or
 * personalization consent withdrawn): the user's history, purchase log and country start again empty. What the
 * user's earlier events added to the anonymous aggregates (co-occurrence, trending) stays.
 */
export interface UserReset {
  readonly reset: true;
  readonly userId: string;
}

export type { UserMerge } from './user-merge.js';

/** One item row's share of a micro-batch's co-occurrence deltas: [item, norm increment, [other item, pair increment][]]. */
export type RowDelta = readonly [string, number, ReadonlyArray<readonly [string, number]>];

/** What `learnBatch` takes: events, and resets and merges in order with them. */
export type LearnRecord = UserEvent | UserReset | UserMerge;

function isReset(r: LearnRecord): r is UserReset {
  return (r as Partial<UserReset>).reset === true;
}

function isMerge(r: LearnRecord): r is UserMerge {
  return (r as Partial<UserMerge>).merge === true;
}

/** A strategy over a recommender's model (Recommender.variant). */
export interface RecommenderVariant {
  readonly strategy: Strategy;
  recommend(userId: string, opts?: RecommendOptions): RecommendedItem[];
}

export interface RecommenderOptions {
  /** The strategy the recommender runs (default: the hybrid). */
  strategy?: StrategyFactory;
}

export class Recommender {
  readonly cfg: RecommenderConfig;
  readonly items: IdInterner;
  readonly categories: IdInterner;
  readonly collaborative: CollaborativeModel;
  readonly content: ContentIndex | null;
  readonly trending: TrendingIndex;
  private readonly trendingScopes: TrendingScopes;
  readonly users = new Map<string, UserState>();
  /** The strategy in use; `strategyLabel(rec.strategy)` is the label emitted with every list. */
  readonly strategy: Strategy;
  private readonly ranker: StrategyRanker;
  /** What strategies read: one object, shared by the default strategy and every variant's (`variant`). */
  private readonly inputs: ScoringInputs;
  private readonly itemTable: ItemTable;
  private now = 0;
  private readonly weights: Record<string, number>;
  private readonly repurchasable: ReadonlySet<string>;
  /** Events learned (with a positive weight). */
  learned = 0;

  constructor(config: RecommenderConfigInput | RecommenderConfig = {}, opts: RecommenderOptions = {}) {
    this.cfg = parseRecommenderConfig(config as RecommenderConfigInput);
    // Bounded by the config's limits: ids from input are refused past the cap, never evicted (see config.ts).
    this.items = new IdInterner(this.cfg.limits.maxItems);
    this.categories = new IdInterner(this.cfg.limits.maxItems);
    this.itemTable = new ItemTable(this.items, this.categories, this.cfg.filters);
    this.collaborative = new CollaborativeModel(this.cfg.collaborative, this.cfg.limits.maxPairs);
    this.content = this.cfg.content.enabled ? new ContentIndex(this.cfg.content) : null;
    this.trending = new TrendingIndex(this.cfg.trending.halfLifeMs, this.cfg.trending.size);
    this.trendingScopes = new TrendingScopes(this.trending, this.cfg.limits, (item) => this.itemTable.categoryOf(item), (c) => this.categories.name(c));
    this.weights = this.cfg.collaborative.eventWeights;
    this.repurchasable = new Set(this.cfg.buyAgain.eventTypes);
    this.inputs = {
      collab: this.collaborative.neighbours,
      content: this.content,
      trending: this.trending,
      blocked: (i) => this.itemTable.isBlocked(i),
      categoryOf: (i) => this.itemTable.categoryOf(i),
      categoryName: (c) => this.categories.name(c),
      itemName: (i) => this.items.name(i),
      itemLabel: (i) => this.itemTable.labelOf(i),
    };
    this.strategy = (opts.strategy ?? hybridStrategy)(this.cfg, this.inputs);
    this.ranker = new StrategyRanker(this.strategy);
  }

  /** Adds or updates a catalog record: availability, category rules, content vectors and neighbours. */
  upsertItem(item: CatalogItem): void {
    const { id, gone } = this.itemTable.describe(item);
    if (id < 0) return; // past limits.maxItems
    if (this.content) {
      if (item.deleted) this.content.remove(id);
      else this.content.upsert(id, catalogTerms(item, this.cfg.content));
    }
    if (gone) this.trending.remove(id);
  }

  /** The item's catalog categories (undefined for an item the catalog has not described). */
  categoriesOf(itemId: string): string[] | undefined {
    const id = this.items.lookup(itemId);
    return id < 0 ? undefined : this.itemTable.catalogCategoriesOf(id);
  }

  /** Whether the item may currently be recommended. */
  isRecommendable(itemId: string): boolean {
    const id = this.items.lookup(itemId);
    return id < 0 || !this.itemTable.isBlocked(id);
  }

  /** Learns one event (test-then-learn: call after asking). Events without an item or weight are ignored. */
  learn(e: UserEvent, segments?: readonly string[]): void {
    if (e.itemId === null) return;
    const w = this.weights[e.type] ?? 0;
    if (!(w > 0)) return;
    const item = this.itemTable.intern(e.itemId);
    if (item < 0) return; // past limits.maxItems: counted by ingest, not learned
    let u = this.users.get(e.userId);
    if (!u) this.users.set(e.userId, (u = newUserState()));
    const t = e.eventTime;
    if (t > this.now) this.now = t;
    u.history = this.collaborative.learn(u.history, item, w, t);
    if (this.logged(e.type)) recordPurchase(u.purchases, item, t, this.cfg.buyAgain.maxItems);
    const country = e.context?.country ?? null;
    if (country) u.country = country;
    u.lastTime = t;
    this.trendingScopes.add(u.country, e.context?.device ?? null, segments, item, w, t);
    this.learned++;
  }

  /**
   * Whether an event of this type enters the user's log (the purchase log of buy-again and the filters): the
   * buy-again types, or every type when consumption is one-time (filters.excludeConsumed).
   */
  private logged(type: string): boolean {
    return this.cfg.filters.excludeConsumed || this.repurchasable.has(type);
  }

  /**
   * Applies co-occurrence deltas another worker learned (the shared model's changelog, ../changelog.ts): per row
   * item, its norm increment and its pair increments. Neighbour lists follow as for the batch's own deltas. Items
   * past limits.maxItems are skipped, as when learning.
   */
  applyRowDeltas(rows: ReadonlyArray<RowDelta>): void {
    const delta = new CoocBatchDelta();
    for (const [row, norm, pairs] of rows) {
      const a = this.itemTable.intern(row);
      if (a < 0) continue;
      if (norm !== 0) delta.norm(a, norm);
      for (const [other, inc] of pairs) {
        const b = this.itemTable.intern(other);
        if (b < 0 || b === a) continue;
        delta.pair(a, b, inc);
      }
    }
    this.collaborative.applyBatch(delta);
  }

  /** Resets the user's state (see UserReset); the per-event counterpart of a reset in `learnBatch`. */
  resetUser(userId: string): void {
    this.users.set(userId, newUserState());
  }

  /** Merges an anonymous user's state into the user's (see UserMerge); the per-event counterpart of a merge in `learnBatch`. */
  mergeUser(userId: string, state: MergedState): void {
    let u = this.users.get(userId);
    if (!u) this.users.set(userId, (u = newUserState()));
    u.history = mergeHistories(u.history, internHistory(state.h, this.itemTable), this.collaborative.params.historySize);
    mergeRest(u, state, internPurchases(state.p, this.itemTable), this.cfg.buyAgain.maxItems);
  }

  /**
   * An event of a user without personalization consent, where the deployment lets such events feed anonymous
   * aggregates (ATTUNE_CONSENT_ANONYMOUS_AGGREGATES): trending only (global, the event's country, the item's
   * category) — an anonymous aggregate in memory. Never the user's state, and never co-occurrence: a pair needs
   * the user's history, which is not kept without consent.
   */
  learnAnonymous(e: UserEvent): void {
    if (e.itemId === null) return;
    const w = this.weights[e.type] ?? 0;
    if (!(w > 0)) return;
    const item = this.itemTable.intern(e.itemId);
    if (item < 0) return; // past limits.maxItems
    if (e.eventTime > this.now) this.now = e.eventTime;
    this.trendingScopes.add(e.context?.country ?? null, e.context?.device ?? null, undefined, item, w, e.eventTime);
  }

  /** The request's context (one reused object: the evaluation asks once per event). */
  private contextOf(opts: RecommendOptions): RequestContext {
    const c = this.requestContext;
    c.country = opts.country ?? null;
    c.device = opts.device ?? null;
    c.segments = opts.segments ?? NO_SEGMENTS;
    return c;
  }
  private readonly requestContext: RequestContext = { country: null, device: null, segments: NO_SEGMENTS };

  /** Raw top-n (interned ids with per-source contributions); the hot path used by the evaluation. */
  recommendRaw(userId: string, n = 10, opts: RecommendOptions & { explain?: boolean } = {}): ScoredCandidate[] {
    const u = this.users.get(userId);
    return this.ranker.score(u, n, opts.now ?? this.now, this.items.size, this.contextOf(opts), opts.explain ?? true);
  }

  /**
   * The same ranking as `recommendRaw(…, { explain: false })`, as interned ids written into `out` (best first,
   * at most `out.length`); returns how many. No per-call allocation: the evaluation's and the benchmark's path.
   */
  recommendIds(userId: string, out: Int32Array, opts: RecommendOptions = {}): number {
    const u = this.users.get(userId);
    return this.ranker.scoreIds(u, opts.n ?? out.length, opts.now ?? this.now, this.items.size, this.contextOf(opts), out, opts.exclude);
  }

  /**
   * Another strategy over the same model (an experiment's variant): `overrides` may change what the strategy
   * reads (blend, diversity, filters.purchasedWithinMs, buy-again scoring: experiments/file.ts checks it); the
   * model itself (co-occurrence, content, trending, users) is this recommender's and shared.
   */
  variant(factory: StrategyFactory, overrides: RecommenderConfigInput = {}): RecommenderVariant {
    const cfg = parseRecommenderConfig(mergeConfig(this.cfg, overrides));
    const strategy = factory(cfg, this.inputs);
    const ranker = new StrategyRanker(strategy);
    return {
      strategy,
      recommend: (userId, opts = {}) => ranker
        .score(this.users.get(userId), opts.n ?? 10, opts.now ?? this.now, this.items.size, this.contextOf(opts), true)
        .map((c) => this.toRecommended(c)),
    };
  }

  /** The user's recommendations with reasons, best first. */
  recommend(userId: string, opts: RecommendOptions = {}): RecommendedItem[] {
    return this.recommendRaw(userId, opts.n ?? 10, opts).map((c) => this.toRecommended(c));
  }

  /** Turns a scored candidate into the shared `RecommendedItem` (reasons already ordered by contribution). */
  toRecommended(c: ScoredCandidate): RecommendedItem {
    return { itemId: this.items.name(c.item), score: c.score, reasons: c.reasons };
  }

  /** An item's collaborative neighbours, best first. */
  neighboursOf(itemId: string, n = this.cfg.collaborative.neighbours): Array<{ itemId: string; score: number }> {
    const id = this.items.lookup(itemId);
    if (id < 0) return [];
    return this.collaborative.neighbours
      .sorted(id)
      .slice(0, n)
      .map((x) => ({ itemId: this.items.name(x.item), score: x.sim }));
  }

  /** An item's content neighbours, best first. */
  contentNeighboursOf(itemId: string, n = this.cfg.content.neighbours): Array<{ itemId: string; score: number }> {
    const id = this.items.lookup(itemId);
    if (id < 0 || !this.content) return [];
    return this.content.neighbours
      .sorted(id)
      .slice(0, n)
      .map((x) => ({ itemId: this.items.name(x.item), score: x.sim }));
  }

  /** Similarity of item b to item a (b's entry in a's list) from the current co-occurrence state. */
  similarity(a: string, b: string): number {
    const ia = this.items.lookup(a);
    const ib = this.items.lookup(b);
    return ia < 0 || ib < 0 ? 0 : this.collaborative.sim(ia, ib);
  }

  /**
   * Micro-batch path (the worker's): learns events in order like `learn`, but combines the co-occurrence
   * deltas per key and returns them, so the caller can write exactly these to a shared store.
   * Users' states must already be in `users` (loaded by the caller). A reset (UserReset) gives its user a new
   * empty state at its place: the user's later records of the batch start from it, the earlier ones were learned
   * against the old state (their co-occurrence deltas stay in the result). A merge (UserMerge) merges the snapshot
   * into the user's state at its place, adding no delta: the user's later events pair with the merged history
   * and see the merged purchase log.
   */
  learnBatch(events: readonly LearnRecord[], segmentsOf?: ReadonlyMap<string, readonly string[]>, opts: { applyPairs?: boolean } = {}): CoocBatchDelta {
    const interactions: InternedInteraction[] = [];
    // Parallel to interactions: the event learned, the merge, or null for a reset.
    const learnable: Array<UserEvent | UserMerge | null> = [];
    // A merge's interned purchase log, by its index in interactions (interned here, in record order, like events).
    const mergedPurchases = new Map<number, Array<[number, PurchaseEntry]>>();
    for (const e of events) {
      if (isMerge(e)) {
        const history = internHistory(e.state.h, this.itemTable);
        mergedPurchases.set(interactions.length, internPurchases(e.state.p, this.itemTable));
        interactions.push({ userId: e.userId, item: -1, weight: 0, time: 0, merge: history });
        learnable.push(e);
        continue;
      }
      if (isReset(e)) {
        interactions.push({ userId: e.userId, item: -1, weight: 0, time: 0, reset: true });
        learnable.push(null);
        continue;
      }
      if (e.itemId === null) continue;
      const w = this.weights[e.type] ?? 0;
      if (!(w > 0)) continue;
      const item = this.itemTable.intern(e.itemId);
      if (item < 0) continue; // past limits.maxItems: counted by ingest, not learned
      interactions.push({ userId: e.userId, item, weight: w, time: e.eventTime });
      learnable.push(e);
    }
    const delta = batchDeltas(interactions, (u) => this.users.get(u)?.history, this.collaborative.scaleAt, this.collaborative.params);
    // `applyPairs: false`: the model already holds these deltas (the shared model's changelog brought them from the
    // worker that learned this micro-batch before, ../changelog.ts); the users still learn it.
    if (opts.applyPairs !== false) this.collaborative.applyBatch(delta);
    learnable.forEach((e, k) => {
      const { userId, item, weight: w, time: t } = interactions[k];
      if (e === null) {
        // The history after the reset comes from delta.histories below (empty when nothing followed).
        this.users.set(userId, newUserState());
        return;
      }
      let u = this.users.get(e.userId);
      if (!u) this.users.set(e.userId, (u = newUserState()));
      if (isMerge(e)) {
        // The merged history comes from delta.histories below; purchases, country and lastTime merge here, in order.
        mergeRest(u, e.state, mergedPurchases.get(k) ?? [], this.cfg.buyAgain.maxItems);
        return;
      }
      if (t > this.now) this.now = t;
      if (this.logged(e.type)) recordPurchase(u.purchases, item, t, this.cfg.buyAgain.maxItems);
      const country = e.context?.country ?? null;
      if (country) u.country = country;
      u.lastTime = Math.max(u.lastTime, t);
      this.trendingScopes.add(u.country, e.context?.device ?? null, segmentsOf?.get(e.userId), item, w, t);
      this.learned++;
    });
    for (const [userId, h] of delta.histories) {
      const u = this.users.get(userId);
      if (u) u.history = h;
    }
    return delta;
  }
}
