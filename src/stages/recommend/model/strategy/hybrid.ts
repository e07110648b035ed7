/**
 * The hybrid strategy ('hybrid-v1', the default): collaborative and content neighbours of the user's most
 * recent items, buy-again and trending, each unbounded source normalised to [0, 1] by its maximum and blended
 * with the configured weights (default 0.6 collaborative / 0.3 content, 0.25 buy-again, 0.1 trending); a user
 * without history falls through to trending (country first, then global). Filters: unavailable/deleted,
 * category include/exclude, purchased within the window unless buy-again applies; diversity as configured
 * (default: at most 8 items of one category in a list).
 * Bump `version` whenever a change alters what it recommends: the label is emitted with every list.
 */
import type { RecommenderConfig } from '../config.js';
import { diversityFrom } from './diversity.js';
import { CandidateFilters } from './filters.js';
import { BuyAgainSource } from './sources/buy-again.js';
import { collaborativeSource, contentSource } from './sources/seed-neighbours.js';
import { TrendingSource } from './sources/trending.js';
import type { ScoringInputs, Strategy } from './types.js';

export function hybridStrategy(cfg: RecommenderConfig, inputs: ScoringInputs): Strategy {
  return {
    name: 'hybrid',
    version: 1,
    sources: [
      collaborativeSource(cfg, inputs),
      contentSource(cfg, inputs),
      new BuyAgainSource(cfg.buyAgain, cfg.blend.buyAgain),
      new TrendingSource(inputs, cfg.blend.trending),
    ],
    // your own purchase is the first explanation when contributions tie
    reasonOrder: ['buy-again', 'collaborative', 'content', 'trending'],
    filters: new CandidateFilters(cfg, inputs.blocked),
    diversity: diversityFrom(cfg.diversity, inputs.categoryOf, inputs.content),
  };
}
