/** The Avro encoding of a long, exactly (BigInt): zig-zag, then a base-128 varint. Bomb and edge-case tests need
 * values past 2^53 that no JS number holds. */
export function longBytes(n: number | bigint): Buffer {
  const v = BigInt(n);
  let z = v >= 0n ? v << 1n : ((-v) << 1n) - 1n;
  const out: number[] = [];
  do {
    let b = Number(z & 0x7fn);
    z >>= 7n;
    if (z > 0n) b |= 0x80;
    out.push(b);
  } while (z > 0n);
  return Buffer.from(out);
}
