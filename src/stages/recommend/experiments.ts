/**
 * The recommend stage's experiments (docs/experiments.md): which variant produces each list, the list's
 * recommendation id, and the attribution of the users' impressions, clicks and purchases to variants. The
 * decisions are the pure modules of src/experiments/; this adapter holds the experiments file, one strategy per
 * (strategy, params) in use over the shared model, and the bandits' state read from the counts once per
 * micro-batch. Without an experiments file every list is the default strategy's, in no experiment, and still
 * carries a recommendation id.
 */
import { randomBytes } from 'node:crypto';
import { loadExperimentsFile } from '../../experiments/file.js';
import type { ExperimentsConfig } from '../../experiments/model.js';
import { banditStateFrom, parseCounts } from '../../experiments/counts.js';
import { NO_EXPERIMENT, planFromRecorded, planList, type ListPlan, type Recorded } from '../../experiments/list-plan.js';
import { MAX_RECOMMENDATION_ID_LENGTH, RecommendationIds } from '../../experiments/recommendation-id.js';
import { ConfigError } from '../../errors.js';
import { attribute, type AttributedRecord, type Attribution, type RememberedClick } from '../../experiments/attribution.js';
import type { BanditState } from '../../experiments/thompson.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { Recommender, RecommenderVariant } from './model/recommender.js';
import { strategyByName } from './model/strategy/strategies.js';
import type { RecommenderStore } from './store.js';

export interface ListContext {
  segments: readonly string[];
  country: string | null;
  device: string | null;
  now: number;
}

const METRIC_LABEL = { i: 'impression', c: 'click', v: 'conversion' } as const;

export class ListExperiments {
  private readonly views = new Map<string, RecommenderVariant>();
  private readonly bandits: ReadonlyArray<ExperimentsConfig['experiments'][number]>;
  private readonly ids: RecommendationIds;

  constructor(
    readonly config: ExperimentsConfig,
    idKey: Buffer,
    private readonly rec: Recommender,
    private readonly store: Pick<RecommenderStore, 'experimentCounts'>,
    private readonly metrics: Metrics,
    private readonly windowMs: number,
  ) {
    this.ids = new RecommendationIds(idKey);
    this.bandits = config.experiments.filter((e) => e.allocation === 'thompson');
    // Downstream must be able to send every id back: the longest one (one experiment per layer, its longest
    // variant and segment names, a long source) must pass validation.
    const longest = new Map<string, number>();
    for (const e of config.experiments) {
      const n = e.id.length + 2 + Math.max(...e.variants.map((v) => v.id.length)) + Math.max(0, ...(e.eligible.segments ?? []).map((x) => x.length + 1));
      longest.set(e.layer, Math.max(longest.get(e.layer) ?? 0, n));
    }
    const worst = [...longest.values()].reduce((a, b) => a + b, 0) + 120;
    if (worst > MAX_RECOMMENDATION_ID_LENGTH) {
      throw new ConfigError(`the experiments file can make recommendation ids of up to ${worst} characters, above the ${MAX_RECOMMENDATION_ID_LENGTH} that events may carry back: use fewer layers or shorter experiment, variant and segment ids`);
    }
  }

  /**
   * No experiments, and ids signed with a random key (they verify in this process only): for tests of the stage
   * that do not look at experiments. The worker builds its ListExperiments from the settings (topology/processors.ts).
   */
  static none(rec: Recommender, metrics: Metrics): ListExperiments {
    return new ListExperiments({ experiments: [] }, randomBytes(32), rec, { experimentCounts: async () => ({}) }, metrics, 0);
  }

  /** The experiments file of the settings (ATTUNE_EXPERIMENTS), checked against the segment rules' ids. */
  static load(path: string | undefined, knownSegments: readonly string[]): ExperimentsConfig {
    return path === undefined ? { experiments: [] } : loadExperimentsFile(path, { knownSegments });
  }

  /** The bandits' state for a micro-batch's decisions: one read of the counts, none without a bandit. */
  async banditStates(): Promise<ReadonlyMap<string, BanditState>> {
    if (this.bandits.length === 0) return new Map();
    const counts = parseCounts(await this.store.experimentCounts());
    return new Map(this.bandits.map((e) => [e.id, banditStateFrom(e, counts)]));
  }

  plan(user: string, ctx: ListContext, bandits: ReadonlyMap<string, BanditState>, recorded: readonly Recorded[]): ListPlan {
    if (this.config.experiments.length === 0) return NO_EXPERIMENT;
    return planList(this.config, user, ctx, bandits, recorded);
  }

  /** The plan of a list as it was last assigned (a holder correction). */
  replan(recorded: readonly Recorded[]): ListPlan {
    return this.config.experiments.length === 0 ? NO_EXPERIMENT : planFromRecorded(this.config, recorded);
  }

  /** The strategy that ranks a planned list: the recommender's own, or a variant over its model. */
  rankerFor(plan: ListPlan): Pick<RecommenderVariant, 'strategy' | 'recommend'> {
    if (plan.strategy === null) return { strategy: this.rec.strategy, recommend: (u, o) => this.rec.recommend(u, o) };
    const key = `${plan.strategy}\u0000${JSON.stringify(plan.params)}`;
    let v = this.views.get(key);
    if (!v) this.views.set(key, (v = this.rec.variant(strategyByName(plan.strategy), plan.params)));
    return v;
  }

  recommendationId(user: string, plan: ListPlan, source: string): string {
    return this.ids.mint(user, plan.assignments, source);
  }

  /** The user's records attributed to variants (attribution.ts). */
  attribute(user: string, records: readonly AttributedRecord[], clicks: readonly RememberedClick[]): Attribution {
    return attribute(records, clicks, (id) => this.ids.read(user, id), this.windowMs);
  }

  /** Metrics of counts that are committed (a retry finds their records replayed, so each is counted once). */
  count(a: Attribution): void {
    for (const c of a.counted) this.metrics.experimentEvents.inc({ experiment: c.experiment, variant: c.variant, metric: METRIC_LABEL[c.metric] });
    if (a.refused) this.metrics.attributionRefused.inc(a.refused);
  }
}
