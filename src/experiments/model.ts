/**
 * The experiments file as data: what src/experiments/file.ts reads and assignment.ts / thompson.ts act on.
 * Times are epoch milliseconds; shares are fractions.
 */
import type { RecommenderConfigInput } from '../stages/recommend/model/config.js';

/** Who may enter an experiment: every given list must match (a list matches when the user has any of its values). */
export interface Eligibility {
  /** The user is in at least one of these segments. */
  segments: readonly string[] | null;
  /** The request's country is one of these. */
  countries: readonly string[] | null;
  /** The request's device is one of these. */
  devices: readonly string[] | null;
}

export interface Variant {
  id: string;
  /** A name of the strategy registry (strategies.ts). */
  strategy: string;
  /** Fraction of the experiment's users (fixed allocation); 1/k under Thompson sampling (the uniform reference). */
  share: number;
  /** Recommender config overrides for this variant (merged over the worker's config). */
  params: RecommenderConfigInput;
}

export interface BanditSettings {
  /** At least this fraction of decisions is uniform over the variants (each gets ≥ minExploration / k). */
  minExploration: number;
  /**
   * Keep a posterior per eligibility segment next to the global one; a user's segment is the first of the
   * experiment's `eligible.segments` they are in (so per_segment requires that list).
   */
  perSegment: boolean;
  /** Decisions are a function of (state, user, floor(time / bucketMs)): stable within a bucket. */
  bucketMs: number;
}

export interface Experiment {
  id: string;
  /** Experiments of one layer are mutually exclusive; the default layer is the experiment's own id. */
  layer: string;
  /** Fraction of the layer's users this experiment takes: its slice of the layer is [sliceFrom, sliceFrom + traffic). */
  traffic: number;
  /**
   * Slices are allotted in file order within a layer, so a stopped experiment left in the file keeps its slice and
   * the others do not move (removing it would shift the later ones and reshuffle their users).
   */
  sliceFrom: number;
  /** The HMAC key of the user's variant draw (default: the experiment id); changing it reshuffles the users. */
  salt: string;
  allocation: 'fixed' | 'thompson';
  bandit: BanditSettings | null;
  /** Active from `start` (inclusive) to `stop` (exclusive); null = unbounded. */
  start: number | null;
  stop: number | null;
  eligible: Eligibility;
  variants: readonly Variant[];
  /** Where the experiment is defined in the file (line:col), for messages. */
  line: number;
  col: number;
}

export interface ExperimentsConfig {
  experiments: readonly Experiment[];
}
