/**
 * Every knob of the recommender, as a zod schema with defaults: `parseRecommenderConfig({})` gives the
 * default configuration (the one `attune eval` reports). See docs/recommender.md for how defaults were chosen.
 */
import { z } from 'zod';

const DAY = 86_400_000;

export const RecommenderConfigSchema = z.object({
  collaborative: z
    .object({
      /** H: co-occurrences are counted against the user's last H distinct items. Work per event is O(H + K). */
      historySize: z.number().int().min(1).max(1000).default(20),
      /** K: neighbours kept per item. */
      neighbours: z.number().int().min(1).max(1000).default(50),
      similarity: z.enum(['cosine', 'llr']).default('cosine'),
      /**
       * α of the asymmetric cosine C / (N_seed^α · N_candidate^(1−α)) (cosine only; 0.5 = the plain cosine). Above
       * 0.5 a popular candidate is penalised less (neighbours.ts, asymmetricCosineSim).
       */
      asymmetry: z.number().min(0).max(1).default(0.5),
      /** A pair enters a neighbour list only once its (undecayed-equivalent) co-occurrence reaches this. */
      minCooccurrence: z.number().min(0).default(0),
      /** Interaction weight per event type (view < add_to_cart < purchase). Types not listed are ignored. */
      eventWeights: z
        .record(z.string(), z.number().min(0))
        .default({ view: 1, click: 1, add_to_cart: 2, rating: 2, purchase: 3 }),
      /**
       * Recency weighting of a pair (new item, history item): 'time' multiplies by 2^(-Δt / timeHalfLifeMs),
       * 'position' by positionDecay^(rank in history, 0 = newest), 'none' by 1.
       */
      recency: z.enum(['none', 'position', 'time']).default('position'),
      positionDecay: z.number().gt(0).max(1).default(0.9),
      timeHalfLifeMs: z.number().gt(0).default(30 * DAY),
      /** Half-life of all co-occurrence counts (0 = no decay). Implemented with a global scale factor. */
      decayHalfLifeMs: z.number().min(0).default(180 * DAY),
    })
    .prefault({}),
  content: z
    .object({
      enabled: z.boolean().default(true),
      /** Content neighbours kept per item. */
      neighbours: z.number().int().min(1).max(1000).default(20),
      /** Terms whose posting list is longer than this are skipped when searching neighbours (bounded work). */
      maxPostings: z.number().int().min(1).default(400),
      /** Field weights of the terms. */
      titleWeight: z.number().min(0).default(1),
      categoryWeight: z.number().min(0).default(0.5),
      tagWeight: z.number().min(0).default(0.5),
    })
    .prefault({}),
  trending: z
    .object({
      halfLifeMs: z.number().gt(0).default(7 * DAY),
      /** Items kept per trending scope (global, country:X, category:Y). */
      size: z.number().int().min(1).default(50),
    })
    .prefault({}),
  buyAgain: z
    .object({
      enabled: z.boolean().default(true),
      /** Event types after which buying the same item again is normal. */
      eventTypes: z.array(z.string()).default(['purchase']),
      /** An item becomes a buy-again candidate once bought this many times. */
      minPurchases: z.number().int().min(1).default(1),
      /** Distinct purchased items remembered per user (LRU); bounds the work per request. */
      maxItems: z.number().int().min(1).default(100),
      /**
       * Buy-again applies only once this long has passed since the last purchase: the same product is not
       * bought twice in one order, so items of the current order are not "buy again".
       */
      minGapMs: z.number().min(0).default(DAY),
      /** Recency half-life of the buy-again score. */
      halfLifeMs: z.number().gt(0).default(60 * DAY),
    })
    .prefault({}),
  blend: z
    .object({
      /** Collaborative against content: 0.6 / 0.3 (tuned from the classic 0.6 / 0.4; docs/recommender.md). */
      collaborative: z.number().min(0).default(0.6),
      content: z.number().min(0).default(0.3),
      buyAgain: z.number().min(0).default(0.25),
      trending: z.number().min(0).default(0.1),
      /** How many of the user's most recent items seed the candidate search. */
      seedItems: z.number().int().min(1).default(5),
      /** Position decay of the seed items' influence (newest = 1). */
      seedDecay: z.number().gt(0).max(1).default(0.5),
      /**
       * The longer-term profile: each of the user's newest `profileItems` distinct items (at most the history,
       * collaborative.historySize) adds `profileWeight` to its seed weight, flat (0 = off: the seeds alone).
       * One-time consumption, where the order of what a user saw says little, needs it (the media preset).
       */
      profileItems: z.number().int().min(1).max(1000).default(20),
      profileWeight: z.number().min(0).default(0),
    })
    .prefault({}),
  filters: z
    .object({
      /** Items purchased within this window are not recommended unless buy-again applies (0 = off). */
      purchasedWithinMs: z.number().min(0).default(DAY),
      /**
       * One-time consumption (films, articles): never recommend an item the user already interacted with,
       * whatever the event type and however long ago. The user's log then records every learned event's item
       * (not only buy-again types) and holds the last buyAgain.maxItems distinct ones: that bounds what is
       * excluded. Buy-again should be off with it (it would have nothing to offer).
       */
      excludeConsumed: z.boolean().default(false),
      includeCategories: z.array(z.string()).default([]),
      excludeCategories: z.array(z.string()).default([]),
    })
    .prefault({}),
  /**
   * Bounds on what input can make the in-memory model hold (issue #10). Items: ids are interned into typed arrays,
   * co-occurrence and neighbour lists, so one is never evicted (that would need every neighbour list and row
   * rewritten, and workers would disagree); past the cap, new ids are refused — their events still count (ingest),
   * they are just not learned or recommended. Country scopes: one trending scope per distinct country; past the
   * cap a new country gets no scope of its own (its users see global trending).
   */
  limits: z
    .object({
      maxItems: z.number().int().min(1).default(1_000_000),
      /**
       * Co-occurrence pairs held in memory (cooc-state.ts): past it, a prune keeps the pairs of the neighbour lists
       * and the strongest others, half of the bound in all. 8M pairs: a 256 MB table (16 B a slot, half full at
       * most), ~4× what the bundled shop data makes (1.8M), so its figures do not change.
       */
      maxPairs: z.number().int().min(2).default(8_388_608),
      maxCountryScopes: z.number().int().min(1).default(1024),
      /** Device scopes (one per distinct `context.device`, e.g. mobile, desktop, tv); past the cap none of its own. */
      maxDeviceScopes: z.number().int().min(1).default(64),
      /** Segment scopes (one per segment rule name whose members' events were learned); past the cap none of its own. */
      maxSegmentScopes: z.number().int().min(1).default(256),
    })
    .prefault({}),
  diversity: z
    .object({
      mode: z.enum(['none', 'category-cap', 'mmr']).default('category-cap'),
      /** At most this many items of one (first) category in a list. */
      categoryCap: z.number().int().min(1).default(8),
      /** MMR trade-off: 1 = relevance only. */
      mmrLambda: z.number().min(0).max(1).default(0.8),
    })
    .prefault({}),
});

export type RecommenderConfig = z.infer<typeof RecommenderConfigSchema>;
export type RecommenderConfigInput = z.input<typeof RecommenderConfigSchema>;

export function parseRecommenderConfig(input: RecommenderConfigInput = {}): RecommenderConfig {
  return RecommenderConfigSchema.parse(input);
}

/** Deep-merges plain objects (arrays and scalars replace); handy for overrides on top of a config. */
export function mergeConfig(base: RecommenderConfigInput, over: RecommenderConfigInput): RecommenderConfigInput {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? mergeConfig(b as RecommenderConfigInput, v as RecommenderConfigInput)
        : v;
  }
  return out as RecommenderConfigInput;
}
