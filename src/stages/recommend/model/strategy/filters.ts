/**
 * Candidate filters: items that must not be recommended (unavailable, deleted, category rules — the inputs'
 * `blocked`), items purchased within the filter window unless buy-again applies to them (a proven repeat item
 * whose last purchase is at least minGapMs ago), with `filters.excludeConsumed` every item in the user's log
 * whatever its event type and age (one-time consumption: the media preset), and the request's own exclusion
 * (the evaluation's discovery protocol). The log's items are marked once per request (generation stamps), not
 * looked up per candidate.
 */
import type { RecommenderConfig } from '../config.js';
import type { ScoreRequest } from './request.js';

export class CandidateFilters {
  /** excluded[c] === gen: c was purchased within the window (and buy-again does not apply). */
  private excluded = new Int32Array(0);
  private gen = 0;
  private checkWindow = false;
  private exclude: ((item: number) => boolean) | undefined;

  constructor(
    private readonly cfg: Pick<RecommenderConfig, 'filters' | 'buyAgain'>,
    private readonly blocked: (item: number) => boolean,
  ) {}

  /** Marks the request's purchase window; call before `passes`. */
  prepare(req: ScoreRequest): void {
    if (this.excluded.length < req.itemCount) {
      this.excluded = new Int32Array(Math.max(1024, req.itemCount * 2));
      this.gen = 0;
    }
    this.gen++;
    this.exclude = req.exclude;
    if (this.gen === 0x7fffffff) {
      this.excluded.fill(0);
      this.gen = 1;
    }
    const user = req.user;
    const f = this.cfg.filters;
    const consumed = f.excludeConsumed;
    this.checkWindow = (consumed || f.purchasedWithinMs > 0) && user !== undefined;
    if (!this.checkWindow) return;
    // every logged item, however old, when consumption is one-time
    const windowFrom = consumed ? -Infinity : req.now - f.purchasedWithinMs;
    const ba = this.cfg.buyAgain;
    const baOn = ba.enabled;
    const minP = ba.minPurchases;
    const baGapUntil = req.now - ba.minGapMs;
    const excluded = this.excluded;
    const gen = this.gen;
    const { size, items, counts, lasts } = req.purchases;
    for (let i = 0; i < size; i++) {
      const item = items[i];
      const last = lasts[i];
      if (last < windowFrom || item >= excluded.length) continue;
      const due = counts[i] >= minP && last <= baGapUntil;
      if (consumed || !(baOn && due)) excluded[item] = gen;
    }
  }

  /** Whether candidate c may be recommended in the prepared request. */
  passes(c: number): boolean {
    if (this.blocked(c)) return false;
    if (this.checkWindow && this.excluded[c] === this.gen) return false;
    return !(this.exclude && this.exclude(c));
  }
}
