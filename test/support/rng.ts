/**
 * mulberry32: a tiny seeded PRNG, uniform in [0, 1) (its low bits do not cycle, unlike an LCG's). One
 * implementation for the chaos run, the benches' synthetic events, the fuzzer and the unit tests; a module of its
 * own so a unit test can import it without pulling in Kafka and Redis clients.
 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
