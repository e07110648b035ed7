/**
 * Candidate filters: items that must not be recommended (unavailable, deleted, category rules — the inputs'
 * `blocked`) and items purchased within the filter window, unless buy-again applies to them (a proven repeat
 * item whose last purchase is at least minGapMs ago). The window is marked once per request from the user's
 * purchase log (generation stamps), not looked up per candidate.
 */
import type { RecommenderConfig } from '../config.js';
import type { ScoreRequest } from './request.js';

export class CandidateFilters {
  /** excluded[c] === gen: c was purchased within the window (and buy-again does not apply). */
  private excluded = new Int32Array(0);
  private gen = 0;
  private checkWindow = false;

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
    if (this.gen === 0x7fffffff) {
      this.excluded.fill(0);
      this.gen = 1;
    }
    const user = req.user;
    const f = this.cfg.filters;
    const markWindow = f.purchasedWithinMs > 0;
    this.checkWindow = markWindow && user !== undefined;
    if (!this.checkWindow) return;
    const windowFrom = req.now - f.purchasedWithinMs;
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
      if (!(baOn && due)) excluded[item] = gen;
    }
  }

  /** Whether candidate c may be recommended in the prepared request. */
  passes(c: number): boolean {
    if (this.blocked(c)) return false;
    return !(this.checkWindow && this.excluded[c] === this.gen);
  }
}
