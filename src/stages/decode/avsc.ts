/**
 * avsc, the registry client's own Avro library (the one it encodes with), resolved through the client so that
 * decoding and encoding use one version and Attune does not depend on a second copy.
 */
import { createRequire } from 'node:module';

export const avro = createRequire(createRequire(import.meta.url).resolve('@kafkajs/confluent-schema-registry'))('avsc') as typeof import('avsc');

/**
 * Longs decoded exactly. avsc reads a long's zig-zag varint into a JS number, and from 2^52 on the doubled magnitude
 * no longer holds the sign bit: −8.64e15 decodes as +8.64e15 (an event time "in the future" instead of "too old").
 * This type reads the 8-byte two's complement that avsc hands over, and refuses a long beyond ±(2^53 − 1) (it has no
 * exact JS number) with an error that the codec reports as BAD_AVRO.
 */
export const exactLong = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => {
    const v = buf.readBigInt64LE();
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new Error(`a long of ${v} is beyond ±(2^53 − 1), where JavaScript numbers stop being exact`);
    }
    return Number(v);
  },
  toBuffer: (n: number) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n));
    return buf;
  },
  fromJSON: Number,
  toJSON: Number,
  isValid: (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n),
  compare: (a: number, b: number) => (a === b ? 0 : a < b ? -1 : 1),
});

/**
 * Parses a writer schema for decoding, every long exact (see exactLong). A type hook, not `registry: {long}`: the
 * registry only replaces the bare name 'long', and a `{"type": "long", "logicalType": ...}` (eventTime) would still
 * get avsc's own long.
 */
export function readerType(schema: unknown): import('avsc').Type {
  const isLong = (s: unknown) => s === 'long' || (typeof s === 'object' && s !== null && (s as { type?: unknown }).type === 'long');
  return avro.Type.forSchema(schema as import('avsc').Schema, { typeHook: (s) => (isLong(s) ? exactLong : undefined) });
}
