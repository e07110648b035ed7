/**
 * What the in-memory model gives up to stay bounded, made visible: item ids refused at ATTUNE_MAX_ITEMS and prunes
 * of the co-occurrence table at ATTUNE_MAX_PAIRS (cooc-state.ts). Both keep the worker's memory bounded and both make
 * its recommendations approximate, so an operator must be able to see that they happen (a warning in the log and
 * the metrics attune_model_pairs, attune_model_prunes_total, attune_model_pairs_pruned_total) and what to raise.
 * `report()` runs after each change of the model (a micro-batch learned, the warm-up); it reads the model's
 * cumulative counters, so prunes caused by other paths (the changelog of other workers) are reported there too.
 */
import type { Metrics } from '../../metrics/metrics.js';
import { log } from '../../log.js';
import type { Recommender } from './model/recommender.js';

/** Refused item ids between two warnings. */
const REFUSED_WARN_STEP = 10_000;

type HealthMetrics = Pick<Metrics, 'modelPairs' | 'modelPrunes' | 'modelPairsPruned'>;

export class ModelHealth {
  private refusedWarnedAt = -REFUSED_WARN_STEP;
  private prunes = 0;
  private prunedPairs = 0;

  constructor(private readonly rec: Recommender, private readonly metrics: HealthMetrics) {}

  report(): void {
    const { refused, maxSize } = this.rec.items;
    if (refused > 0 && refused >= this.refusedWarnedAt + REFUSED_WARN_STEP) {
      this.refusedWarnedAt = refused;
      log.warn({ refused, maxItems: maxSize }, 'the recommender holds ATTUNE_MAX_ITEMS item ids; new items are counted but not learned: raise ATTUNE_MAX_ITEMS if the catalog is that large');
    }
    const state = this.rec.collaborative.state;
    this.metrics.modelPairs.set(state.pairCount);
    if (state.prunes === this.prunes) return;
    const prunes = state.prunes - this.prunes;
    const dropped = state.prunedPairs - this.prunedPairs;
    this.prunes = state.prunes;
    this.prunedPairs = state.prunedPairs;
    this.metrics.modelPrunes.inc(prunes);
    this.metrics.modelPairsPruned.inc(dropped);
    log.warn(
      { maxPairs: state.maxPairs, prunes, dropped, held: state.pairCount, threshold: state.lastPruneThreshold },
      'the co-occurrence table reached ATTUNE_MAX_PAIRS and was pruned to half of it (pairs in no neighbour list and with counts at or below the threshold dropped): similarities of rare pairs are approximate from now on; the Redis rows keep exact counts. Raise ATTUNE_MAX_PAIRS (about 32 bytes per pair) for exact counts',
    );
  }
}
