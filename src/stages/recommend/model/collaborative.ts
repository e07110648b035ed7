/**
 * The incremental item-item model: deltas (deltas.ts) → state (cooc-state.ts) → neighbour lists
 * (neighbours.ts). `learn` is the per-event in-process path; `applyBatch` applies a combined micro-batch
 * (as computed by `batchDeltas`) — both give the same state.
 */
import type { RecommenderConfig } from './config.js';
import { CoocState } from './cooc-state.js';
import { DecayClock } from './decay.js';
import { interactionDeltas, type CoocBatchDelta, type CoocDeltaSink, type DeltaParams, type UserHistory } from './deltas.js';
import { asymmetricCosineSim, cosineSim, llrSim, NeighbourIndex } from './neighbours.js';

export class CollaborativeModel {
  readonly state: CoocState;
  readonly neighbours: NeighbourIndex;
  readonly clock: DecayClock;
  readonly params: DeltaParams;
  private readonly simKind: 'cosine' | 'llr';
  private readonly alpha: number;
  private readonly minCooc: number;
  private epochSet = false;
  /** Set by setEpoch: the stored counts are shared, so this model must never rebase them on its own. */
  private fixedEpoch = false;
  private now = 0;
  /** Sink that applies each pair to the state and offers the fresh similarity to both lists. */
  private readonly sink: CoocDeltaSink;

  /** @param maxPairs limits.maxPairs: the co-occurrence table's bound (cooc-state.ts: a prune keeps the listed pairs). */
  constructor(cfg: RecommenderConfig['collaborative'], maxPairs = Infinity) {
    this.neighbours = new NeighbourIndex(cfg.neighbours);
    this.state = new CoocState(maxPairs, (visit) => this.neighbours.forEachEntry(visit));
    this.clock = new DecayClock(cfg.decayHalfLifeMs);
    this.params = {
      historySize: cfg.historySize,
      recency: cfg.recency,
      positionDecay: cfg.positionDecay,
      timeHalfLifeMs: cfg.timeHalfLifeMs,
    };
    this.simKind = cfg.similarity;
    this.alpha = cfg.asymmetry;
    this.minCooc = cfg.minCooccurrence;
    const state = this.state;
    this.sink = {
      norm: (a, inc) => state.norm(a, inc),
      pair: (a, b, inc) => {
        const c = state.add(a, b, inc);
        const ab = this.simFrom(c, a, b);
        this.neighbours.offer(a, b, ab);
        this.neighbours.offer(b, a, this.alpha === 0.5 ? ab : this.simFrom(c, b, a));
      },
    };
  }

  /** Similarity of candidate b to seed a (the entry of b in a's list) from the current state. */
  sim(a: number, b: number): number {
    return this.simFrom(this.state.cooc(a, b), a, b);
  }

  private simFrom(c: number, a: number, b: number): number {
    if (c <= 0) return 0;
    if (this.minCooc > 0 && this.clock.valueAt(c, this.now) < this.minCooc) return 0;
    const na = this.state.normOf(a);
    const nb = this.state.normOf(b);
    if (this.simKind === 'llr') {
      const s = this.clock.scale(this.now);
      return llrSim(c / s, na / s, nb / s, this.state.total / s);
    }
    return this.alpha === 0.5 ? cosineSim(c, na, nb) : asymmetricCosineSim(c, na, nb, this.alpha);
  }

  /**
   * Offers the pair's current similarity to both lists, each in its own direction (the asymmetric cosine differs by
   * direction): every path that builds lists from the state (batches, warm-up) goes through here.
   */
  offerPair(a: number, b: number): void {
    const ab = this.sim(a, b);
    this.neighbours.offer(a, b, ab);
    this.neighbours.offer(b, a, this.alpha === 0.5 ? ab : this.sim(b, a));
  }

  private tick(time: number): number {
    if (!this.epochSet) {
      this.clock.epoch = time;
      this.epochSet = true;
    }
    if (time > this.now) this.now = time;
    if (!this.fixedEpoch && this.clock.needsRebase(time)) {
      const f = this.clock.rebase(time);
      this.state.rescale(f);
      for (let i = 0; i < this.refreshedAt.length; i++) this.refreshedAt[i] *= f;
    }
    return this.clock.scale(time);
  }

  /** In-process path: one interaction, applied at once. Returns the user's new history. */
  learn(history: UserHistory, item: number, weight: number, time: number): UserHistory {
    if (!(weight > 0)) return history;
    const scale = this.tick(time);
    // issue the ~H random table reads together (they overlap in the CPU) before the dependent update chain
    this.state.prefetch(item, history.items, history.items.length);
    const next = interactionDeltas(history, item, weight, time, scale, this.params, this.sink);
    this.maybeRefresh(item);
    return next;
  }

  /**
   * Lazy re-scoring of an item's list after its norm grew: cosine entries scale with 1/√N, so re-scoring only
   * once N grew by `refreshRatio` bounds the staleness of the item's own list (≤ ~5% at 1.1) at a fraction of
   * the cost. Entries touched by pair updates are always exact.
   */
  private maybeRefresh(item: number): void {
    const n = this.state.normOf(item);
    if (item >= this.refreshedAt.length) {
      const next = new Float64Array(Math.max(item + 1, this.refreshedAt.length * 2));
      next.set(this.refreshedAt);
      this.refreshedAt = next;
    }
    if (n > this.refreshedAt[item] * this.refreshRatio) {
      this.refreshedAt[item] = n;
      const nb = this.neighbours.raw(item);
      this.state.prefetch(item, nb.ids.subarray(nb.offset, nb.offset + nb.size), nb.size);
      this.neighbours.refresh(item, (b) => this.sim(item, b));
    }
  }
  private refreshedAt = new Float64Array(1024);
  private readonly refreshRatio = 1.1;

  /** Scale factor for increments at `time` (advances the clock); pass to `batchDeltas`. */
  scaleAt = (time: number): number => this.tick(time);

  /**
   * Fixes the decay epoch (workers share one, kept in Redis, so their scaled counts are comparable).
   * Rebasing is then the deployment's business, not one worker's: call before the first update.
   */
  setEpoch(epoch: number): void {
    this.clock.epoch = epoch;
    this.epochSet = true;
    this.fixedEpoch = true;
  }

  /** Micro-batch path: apply combined deltas, then update neighbour lists of every touched pair/item. */
  applyBatch(delta: CoocBatchDelta): void {
    this.state.applyBatch(delta);
    for (const k of delta.pairs.keys()) {
      const a = Math.floor(k / 67_108_864);
      this.offerPair(a, k - a * 67_108_864);
    }
    for (const a of delta.norms.keys()) this.maybeRefresh(a);
  }

  /** Re-scores every neighbour list from the current state (O(items·K)); e.g. before exporting lists. */
  refreshAll(): void {
    for (let a = 0; a < this.refreshedAt.length; a++) {
      if (this.neighbours.size(a) === 0) continue;
      this.refreshedAt[a] = this.state.normOf(a);
      this.neighbours.refresh(a, (b) => this.sim(a, b));
    }
  }

  /** Removes an item from the model (deleted from the catalog / erased). */
  dropItem(item: number): void {
    this.neighbours.forEach(item, (b) => this.neighbours.remove(b, item));
    // Neighbours that list `item` without being listed back are cleaned on their next refresh (sim → 0).
    this.state.dropItem(item);
    this.neighbours.clear(item);
  }
}
