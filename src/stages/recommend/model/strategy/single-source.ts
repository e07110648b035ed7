/**
 * The single-source strategies: each of the hybrid's candidate sources on its own, with the hybrid's filters and
 * diversity, so that an experiment (or `attune eval --strategy`) compares the sources side by side.
 *
 * - 'collaborative-v1': item-kNN — co-occurrence neighbours of the user's most recent items.
 * - 'content-v1': TF-IDF content neighbours of the user's most recent items (empty when content is disabled).
 * - 'trending-v1': trending in the user's context — their country, the category of their newest item, global.
 * - 'buy-again-v1': the user's own repeat purchases (buy-again settings from the config, always enabled here).
 *
 * A user without history falls through to trending in every one of them, as in the hybrid (the cold-start
 * cascade: `TrendingSource` with blend weight 0 weighs 1 for a cold user and 0 for everyone else), so a variant
 * never answers a newcomer with an empty list. A user with history whose source finds nothing gets an empty list:
 * that is what the source alone recommends, and what an experiment should measure.
 * Bump a strategy's `version` whenever a change alters what it recommends: the label is emitted with every list.
 */
import type { RecommenderConfig } from '../config.js';
import { diversityFrom } from './diversity.js';
import { CandidateFilters } from './filters.js';
import { BuyAgainSource } from './sources/buy-again.js';
import { collaborativeSource, contentSource } from './sources/seed-neighbours.js';
import { TrendingSource } from './sources/trending.js';
import type { CandidateSource, ScoringInputs, Strategy } from './types.js';

/** A strategy of one source plus the cold-start fallback, with the hybrid's filters and diversity. */
function alone(name: string, cfg: RecommenderConfig, inputs: ScoringInputs, source: CandidateSource | null): Strategy {
  return {
    name,
    version: 1,
    // the fallback is bounded, so it comes last
    sources: source ? [source, new TrendingSource(inputs, 0)] : [new TrendingSource(inputs, 1)],
    filters: new CandidateFilters(cfg, inputs.blocked),
    diversity: diversityFrom(cfg.diversity, inputs.categoryOf, inputs.content),
  };
}

export function collaborativeStrategy(cfg: RecommenderConfig, inputs: ScoringInputs): Strategy {
  return alone('collaborative', cfg, inputs, collaborativeSource(cfg, inputs, 1));
}

export function contentStrategy(cfg: RecommenderConfig, inputs: ScoringInputs): Strategy {
  return alone('content', cfg, inputs, contentSource(cfg, inputs, 1));
}

/** Trending for everyone (weight 1 whether cold or not): the source is its own fallback. */
export function trendingStrategy(cfg: RecommenderConfig, inputs: ScoringInputs): Strategy {
  return alone('trending', cfg, inputs, null);
}

export function buyAgainStrategy(cfg: RecommenderConfig, inputs: ScoringInputs): Strategy {
  // buy-again on, for the source and for the filters (which keep a due repeat item although recently bought)
  const on: RecommenderConfig = { ...cfg, buyAgain: { ...cfg.buyAgain, enabled: true } };
  return alone('buy-again', on, inputs, new BuyAgainSource(on.buyAgain, 1));
}
