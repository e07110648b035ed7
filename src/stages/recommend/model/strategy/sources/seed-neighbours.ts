/**
 * Seed-neighbour sources: the neighbours of the user's most recent items (the seeds, newest first, at most
 * `seedItems`, each weighted seedDecay^rank, plus `profileWeight` for each of the newest `profileItems`: the
 * short-term intent and the longer-term taste in one walk), summed per candidate. Collaborative neighbours (co-occurrence)
 * and content neighbours (TF-IDF: the user's content profile — the sum of the seeds' vectors — evaluated on
 * each seed's content neighbourhood, which keeps the work bounded) are the same walk over different indexes.
 * Normalised by the request's maximum; the reason is the seed that contributed most.
 */
import type { Reason } from '../../../../../domain/events.js';
import type { RecommenderConfig } from '../../config.js';
import type { NeighbourIndex } from '../../neighbours.js';
import type { CandidateAccumulator } from '../accumulator.js';
import type { CandidateSource, ScoreRequest, ScoringInputs } from '../types.js';

type SeedConfig = Pick<RecommenderConfig['blend'], 'seedItems' | 'seedDecay' | 'profileItems' | 'profileWeight'>;

export class SeedNeighboursSource implements CandidateSource {
  readonly bounded = false;
  readonly normalise = true;

  constructor(
    readonly name: string,
    private readonly index: NeighbourIndex | null,
    private readonly blendWeight: number,
    private readonly seeds: SeedConfig,
    /** The reason for a candidate reached from `seed`. */
    private readonly because: (seed: number) => Reason,
  ) {}

  weight(): number {
    return this.index ? this.blendWeight : 0;
  }

  collect(acc: CandidateAccumulator, slot: number, req: ScoreRequest): number {
    const hist = req.user?.history;
    const index = this.index;
    if (!hist || !index) return 0;
    const explain = req.explain;
    const stride = acc.stride;
    const scores = acc.scores;
    const best = acc.best;
    const why = acc.why;
    const items = hist.items;
    const { seedItems, seedDecay, profileItems, profileWeight } = this.seeds;
    const profile = profileWeight > 0 ? profileItems : 0;
    const walk = Math.max(seedItems, profile);
    let max = 0;
    let decayed = 1;
    for (let k = items.length - 1, r = 0; k >= 0 && r < walk; k--, r++, decayed *= seedDecay) {
      const ws = (r < seedItems ? decayed : 0) + (r < profile ? profileWeight : 0);
      const s = items[k];
      const nb = index.raw(s);
      const ids = nb.ids;
      const sims = nb.sims;
      for (let i = nb.offset, end = nb.offset + nb.size; i < end; i++) {
        const c = ids[i];
        const v = ws * sims[i];
        acc.touch(c);
        const a = c * stride + slot;
        if (explain && v > best[a]) {
          // the strongest single contributor becomes the reason
          best[a] = v;
          why[a] = s;
        }
        const t = (scores[a] += v);
        if (t > max) max = t;
      }
    }
    return max;
  }

  reason(why: number): Reason | null {
    return why >= 0 ? this.because(why) : null;
  }
}

/**
 * Collaborative neighbours of the seeds: "bought together with …". `weight` defaults to the blend's; a strategy
 * with this source alone passes 1 (normalised, any positive weight ranks the same).
 */
export function collaborativeSource(cfg: RecommenderConfig, inputs: ScoringInputs, weight = cfg.blend.collaborative): SeedNeighboursSource {
  return new SeedNeighboursSource('collaborative', inputs.collab, weight, cfg.blend, (s) => ({
    kind: 'bought_together',
    text: `bought together with ${inputs.itemLabel(s)}`,
    relatedItemId: inputs.itemName(s),
  }));
}

/** Content neighbours of the seeds (none when content is disabled): "similar to …". `weight` as above. */
export function contentSource(cfg: RecommenderConfig, inputs: ScoringInputs, weight = cfg.blend.content): SeedNeighboursSource {
  return new SeedNeighboursSource('content', inputs.content?.neighbours ?? null, weight, cfg.blend, (s) => ({
    kind: 'similar',
    text: `similar to ${inputs.itemLabel(s)}`,
    relatedItemId: inputs.itemName(s),
  }));
}
