/**
 * The strategy seam: a recommendation strategy is candidate sources, blended by weight, then filters and
 * diversity. The ranker (ranker.ts) runs any strategy with the same zero-allocation hot path; the hybrid
 * (hybrid.ts) is one composition of the parts under sources/, filters.ts and diversity.ts, and other strategies
 * (collaborative-only, content-only, trending, buy-again) are other compositions of the same parts.
 */
import type { Reason } from '../../../../domain/events.js';
import type { RecommenderConfig } from '../config.js';
import type { ContentIndex } from '../content.js';
import type { NeighbourIndex } from '../neighbours.js';
import type { TrendingIndex } from '../trending.js';
import type { CandidateAccumulator } from './accumulator.js';
import type { Diversity } from './diversity.js';
import type { CandidateFilters } from './filters.js';
import type { ScoreRequest } from './request.js';

export type { ScoreRequest };

/** What strategies read; the recommender (or a Redis-backed cache) provides it. */
export interface ScoringInputs {
  collab: NeighbourIndex;
  content: ContentIndex | null;
  trending: TrendingIndex;
  /** True when the item must not be recommended (unavailable, deleted, category rules). */
  blocked(item: number): boolean;
  /** First category id of the item, -1 when none. */
  categoryOf(item: number): number;
  categoryName(cat: number): string;
  /** External id of an interned item (reasons name related items by it). */
  itemName(item: number): string;
  /** What a reason calls the item: its catalog title, else its id. */
  itemLabel(item: number): string;
}

/**
 * One source of candidates. It writes its raw value of each candidate into its slot of the accumulator; the
 * blend multiplies the slot by the source's weight for the request (divided by the request's maximum when
 * `normalise`), and sums the slots in source order.
 */
export interface CandidateSource {
  readonly name: string;
  /**
   * A bounded source writes values in [0, 1] without normalisation and is collected after the others; when
   * the others already fill the top list with candidates its whole weight could not overtake, it only adds to
   * existing candidates (`onlyExisting`) — same result, less work.
   */
  readonly bounded: boolean;
  readonly normalise: boolean;
  /** The source's weight for this request; 0 skips it. */
  weight(req: ScoreRequest): number;
  /** Adds this request's candidates to `slot`; returns the largest value written (0 when none). */
  collect(acc: CandidateAccumulator, slot: number, req: ScoreRequest, onlyExisting: boolean): number;
  /** Why a candidate got this source's contribution; `why` is what `collect` recorded (-1 when none). */
  reason(why: number): Reason | null;
}

/** A composed strategy: its parts are stateful (typed-array buffers), one instance per recommender. */
export interface Strategy {
  readonly name: string;
  readonly version: number;
  /** Sources in blend order (non-bounded ones first): their contributions are summed in this order. */
  readonly sources: readonly CandidateSource[];
  /** Source names in the order their reasons are listed when contributions tie (default: source order). */
  readonly reasonOrder?: readonly string[];
  readonly filters: CandidateFilters;
  readonly diversity: Diversity;
}

/** Builds a strategy for a recommender's configuration and inputs. */
export type StrategyFactory = (cfg: RecommenderConfig, inputs: ScoringInputs) => Strategy;

/** The label emitted with every list (`Recommendations.strategy`), e.g. 'hybrid-v1'. */
export function strategyLabel(s: Pick<Strategy, 'name' | 'version'>): string {
  return `${s.name}-v${s.version}`;
}

/** One scored candidate: its score, each source's weighted contribution and the reasons, strongest first. */
export interface ScoredCandidate {
  item: number;
  score: number;
  /** Weighted contribution per source, in the strategy's source order. */
  parts: number[];
  reasons: Reason[];
}
