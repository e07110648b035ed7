/**
 * Named starting points of the recommender settings (ATTUNE_RECOMMENDER_PRESET, `attune eval --preset`). A
 * settings file (ATTUNE_RECOMMENDER_CONFIG, `--config`) is merged on top of the preset, so a deployment names the
 * kind of catalogue it has and overrides only what it must. docs/recommender.md says when to use which and how
 * each value was chosen.
 */
import type { RecommenderConfigInput } from './config.js';

export const RECOMMENDER_PRESETS = {
  /** Repeat purchases (groceries, supplies, the bundled shop): the defaults, with buy-again. */
  retail: {},
  /**
   * One-time consumption (films, books, articles): nobody needs an item twice, so everything the user
   * interacted with is excluded whatever its event type (the log keeps the last 1,000 distinct items) and
   * buy-again is off. The order of what a user saw says less than in an order's lines, so the candidates come
   * from the whole recent history as well as the newest items (a flat profile weight over the last 20), and
   * popularity is read over months rather than a week (docs/recommender.md, step 8). Neighbours are ranked by
   * the asymmetric cosine at α = 0.8, which penalises a popular candidate less than the cosine does: among the
   * items of a user's taste the popular ones are the likely next (step 9).
   */
  media: {
    collaborative: { asymmetry: 0.8 },
    filters: { excludeConsumed: true },
    buyAgain: { enabled: false, maxItems: 1000 },
    blend: { profileWeight: 1, trending: 0.2 },
    trending: { halfLifeMs: 60 * 86_400_000 },
  },
} as const satisfies Record<string, RecommenderConfigInput>;

export type RecommenderPreset = keyof typeof RECOMMENDER_PRESETS;
export const PRESET_NAMES = Object.keys(RECOMMENDER_PRESETS) as RecommenderPreset[];

/** The preset's settings; a name that is none of them is an error naming the choices. */
export function presetConfig(name: string): RecommenderConfigInput {
  if (!Object.hasOwn(RECOMMENDER_PRESETS, name)) throw new RangeError(`unknown recommender preset '${name}': use ${PRESET_NAMES.join(' or ')}`);
  return structuredClone(RECOMMENDER_PRESETS[name as RecommenderPreset]) as RecommenderConfigInput;
}
