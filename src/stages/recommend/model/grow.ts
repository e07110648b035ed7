/**
 * Growing the model's typed arrays (per item id: ids are dense and never freed, so the arrays only grow). Doubling
 * keeps the copies amortised O(1) per item.
 */
type Typed = Float64Array | Float32Array | Int32Array | Uint8Array;

/** The smallest power-of-two multiple of `length` that is greater than `index`. */
export function doubledPast(length: number, index: number): number {
  let n = Math.max(1, length);
  while (n <= index) n *= 2;
  return n;
}

/** A copy of `a` with `length` slots (≥ a.length), the new ones set to `fill`. */
export function grownTo<T extends Typed>(a: T, length: number, fill = 0): T {
  const next = new (a.constructor as new (n: number) => T)(length);
  next.set(a as never);
  if (fill !== 0) next.fill(fill, a.length);
  return next;
}
