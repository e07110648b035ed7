/**
 * A seeded pseudo-random generator (sfc32, 128 bits of state) and the samplers the bandit and the simulation
 * need: uniform, standard normal, gamma and beta. Never Math.random: a decision seeded from a hash of its inputs
 * is the same decision in a replay or after a crash.
 */
import { keyedDigest } from './keyed-hash.js';

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** A second normal from the last Box–Muller pair, or null. */
  private spare: number | null = null;

  /** Four 32-bit words of seed (all zero is allowed: the counter word keeps sfc32 moving). */
  constructor(a: number, b: number, c: number, d: number) {
    this.a = a >>> 0;
    this.b = b >>> 0;
    this.c = c >>> 0;
    this.d = d >>> 0;
    // discard the first outputs: they still correlate with the seed words
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  /** A generator seeded from HMAC-SHA256(salt, parts): equal inputs, equal stream. */
  static fromKey(salt: string, ...parts: string[]): Prng {
    const h = keyedDigest(salt, ...parts);
    return new Prng(h.readUInt32BE(0), h.readUInt32BE(4), h.readUInt32BE(8), h.readUInt32BE(12));
  }

  /** A generator from an integer seed (the simulation's runs). */
  static fromSeed(seed: number): Prng {
    return Prng.fromKey('attune-seed', String(seed));
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1), 53 bits. */
  next(): number {
    const hi = this.nextUint32() >>> 11;
    const lo = this.nextUint32();
    return (hi * 2 ** 32 + lo) / 2 ** 53;
  }

  /** Standard normal (Box–Muller, the pair's second value kept for the next call). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Gamma(shape, 1) by Marsaglia–Tsang; shape < 1 through the boost Gamma(shape + 1)·U^(1/shape). */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
    if (shape < 1) {
      let u = 0;
      while (u === 0) u = this.next();
      return this.gamma(shape + 1) * Math.pow(u, 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Beta(alpha, beta) as X / (X + Y) of two gammas. */
  beta(alpha: number, beta: number): number {
    const x = this.gamma(alpha);
    const y = this.gamma(beta);
    return x / (x + y);
  }

  /** Bernoulli(p). */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}
