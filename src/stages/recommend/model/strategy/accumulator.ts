/**
 * The per-request candidate accumulator: one slot per source, interleaved per candidate (candidate c's slots
 * are scores[c·stride .. c·stride + stride), one cache line for the hybrid's four), a touched list, and
 * generation stamps — an entry is live for the current request iff stamp[c] === gen, so there is no reset pass
 * and no allocation per request. In explain mode each slot also keeps its strongest single contribution
 * (`best`) and what it came from (`why`: a seed item, a reason code; -1 none), for the reasons.
 */
export class CandidateAccumulator {
  scores = new Float64Array(0);
  best = new Float64Array(0);
  why = new Int32Array(0);
  private stamp = new Int32Array(0);
  private gen = 0;
  private explain = true;
  touched = new Int32Array(1024);
  nTouched = 0;

  constructor(readonly stride: number) {}

  /** Starts a request over items [0, itemCount). */
  begin(itemCount: number, explain: boolean): void {
    if (this.stamp.length < itemCount) {
      const size = Math.max(1024, itemCount * 2);
      this.scores = new Float64Array(size * this.stride);
      this.best = new Float64Array(size * this.stride);
      this.why = new Int32Array(size * this.stride);
      this.stamp = new Int32Array(size);
      this.gen = 0;
    }
    this.explain = explain;
    this.gen++;
    if (this.gen === 0x7fffffff) {
      this.stamp.fill(0);
      this.gen = 1;
    }
    this.nTouched = 0;
  }

  /** Whether c is already a candidate of this request. */
  has(c: number): boolean {
    return this.stamp[c] === this.gen;
  }

  /** Makes c a candidate of this request (slots zeroed on first touch). */
  touch(c: number): void {
    if (this.stamp[c] === this.gen) return;
    this.stamp[c] = this.gen;
    const stride = this.stride;
    const a = c * stride;
    const scores = this.scores;
    // unrolled for up to four slots (the hybrid's): a loop here costs ~10% of a request
    scores[a] = 0;
    if (stride > 1) {
      scores[a + 1] = 0;
      if (stride > 2) {
        scores[a + 2] = 0;
        if (stride > 3) {
          scores[a + 3] = 0;
          for (let k = 4; k < stride; k++) scores[a + k] = 0;
        }
      }
    }
    if (this.explain) {
      const best = this.best;
      const why = this.why;
      for (let k = 0; k < stride; k++) {
        best[a + k] = 0;
        why[a + k] = -1;
      }
    }
    if (this.nTouched === this.touched.length) {
      const t = new Int32Array(this.touched.length * 2);
      t.set(this.touched);
      this.touched = t;
    }
    this.touched[this.nTouched++] = c;
  }
}
