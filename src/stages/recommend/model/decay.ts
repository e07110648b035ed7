/**
 * Lazy exponential decay with a global scale factor. Instead of multiplying every stored count by
 * 2^(-Δt/halfLife) as time passes (O(state)), increments are stored inflated by 2^((t - epoch)/halfLife).
 * The true value of a stored count at time `now` is stored × 2^(-(now - epoch)/halfLife) — the same factor for
 * every count, so ratios (cosine, rankings) never need it, and an update stays O(1).
 * When the factor grows too large the owner rebases (multiplies its state by `rebaseFactor`, once every
 * ~30 half-lives — amortised O(1)).
 */
export class DecayClock {
  constructor(
    public readonly halfLifeMs: number,
    public epoch = 0,
  ) {}

  /** Memo of the last `scale` call (events arrive in bursts with the same time stamp). */
  private memoT = NaN;
  private memoEpoch = NaN;
  private memoS = 1;

  /** Multiplier for an increment happening at time t (1 when decay is off). */
  scale(t: number): number {
    if (this.halfLifeMs <= 0) return 1;
    if (t === this.memoT && this.epoch === this.memoEpoch) return this.memoS;
    const s = Math.pow(2, (t - this.epoch) / this.halfLifeMs);
    this.memoT = t;
    this.memoEpoch = this.epoch;
    this.memoS = s;
    return s;
  }

  /** True value of a stored count at `now`. */
  valueAt(stored: number, now: number): number {
    return this.halfLifeMs <= 0 ? stored : stored / this.scale(now);
  }

  /** Whether increments at t have grown past the safe range; call rebase(t) then. */
  needsRebase(t: number): boolean {
    return this.halfLifeMs > 0 && (t - this.epoch) / this.halfLifeMs > 30;
  }

  /** Moves the epoch to t; returns the factor the owner must multiply its stored counts by. */
  rebase(t: number): number {
    const f = 1 / this.scale(t);
    this.epoch = t;
    return f;
  }
}
