/**
 * Buy-again: the user's own repeat-purchase log — items bought at least minPurchases times whose last
 * purchase is at least minGapMs ago (not the current order) score log2(1 + count) × recency
 * (half-life halfLifeMs). Normalised by the request's maximum.
 */
import type { Reason } from '../../../../../domain/events.js';
import type { RecommenderConfig } from '../../config.js';
import type { CandidateAccumulator } from '../accumulator.js';
import type { CandidateSource, ScoreRequest } from '../types.js';

/** log2(1 + count) for small counts (the same values Math.log2 gives, computed once). */
const LOG2_1P = new Float64Array(1024).map((_, i) => Math.log2(1 + i));

export class BuyAgainSource implements CandidateSource {
  readonly name = 'buy-again';
  readonly bounded = false;
  readonly normalise = true;
  /** Memo of the recency factor per item: valid for (memoNow, memoLast). */
  private memoNow = new Float64Array(0);
  private memoLast = new Float64Array(0);
  private memoExp = new Float64Array(0);

  constructor(
    private readonly ba: RecommenderConfig['buyAgain'],
    private readonly blendWeight: number,
  ) {}

  weight(): number {
    return this.ba.enabled ? this.blendWeight : 0;
  }

  collect(acc: CandidateAccumulator, slot: number, req: ScoreRequest): number {
    const { size, items, counts, lasts } = req.purchases;
    if (size === 0) return 0;
    if (this.memoNow.length < req.itemCount) {
      const size = Math.max(1024, req.itemCount * 2);
      this.memoNow = new Float64Array(size).fill(NaN);
      this.memoLast = new Float64Array(size);
      this.memoExp = new Float64Array(size);
    }
    const { memoNow, memoLast, memoExp } = this;
    const now = req.now;
    const minP = this.ba.minPurchases;
    const gapUntil = now - this.ba.minGapMs;
    const k = -Math.LN2 / this.ba.halfLifeMs;
    const stride = acc.stride;
    const scores = acc.scores;
    let max = 0;
    for (let i = 0; i < size; i++) {
      const count = counts[i];
      const last = lasts[i];
      if (!(count >= minP && last <= gapUntil)) continue;
      const item = items[i];
      let e: number;
      if (memoNow[item] === now && memoLast[item] === last) e = memoExp[item];
      else {
        e = Math.exp(k * Math.max(0, now - last));
        memoNow[item] = now;
        memoLast[item] = last;
        memoExp[item] = e;
      }
      const v = (count < 1024 ? LOG2_1P[count] : Math.log2(1 + count)) * e;
      acc.touch(item);
      scores[item * stride + slot] = v;
      if (v > max) max = v;
    }
    return max;
  }

  reason(): Reason {
    return { kind: 'buy_again', text: 'you bought this before', relatedItemId: null };
  }
}
