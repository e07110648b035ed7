/** Longs decode exactly: avsc alone flips the sign of longs beyond ±2^52 (−8.64e15 became +8.64e15). */
import { describe, it, expect } from 'vitest';
import { readerType, avro } from '../../src/stages/decode/avsc.js';
import { longBytes } from '../support/avro-bytes.js';

describe('exact longs', () => {
  const exact = readerType('long');
  const plain = avro.Type.forSchema('long');

  it('decodes longs near ±2^52 and at the Date limits exactly, where avsc alone does not', () => {
    for (const v of [0n, 1n, -1n, 2n ** 52n - 1n, 2n ** 52n + 1n, -(2n ** 52n) - 3n, 8_640_000_000_000_000n, -8_640_000_000_000_000n, BigInt(Number.MAX_SAFE_INTEGER), BigInt(Number.MIN_SAFE_INTEGER)]) {
      expect(exact.fromBuffer(longBytes(v))).toBe(Number(v));
    }
    // The bug this guards against: the sign of a large negative long is lost.
    expect(plain.fromBuffer(longBytes(-8_640_000_000_000_000n))).not.toBe(-8_640_000_000_000_000);
  });

  it('refuses a long beyond ±(2^53 − 1) instead of rounding it', () => {
    expect(() => exact.fromBuffer(longBytes(2n ** 53n))).toThrow(/beyond/);
    expect(() => exact.fromBuffer(longBytes(-(2n ** 63n)))).toThrow(/beyond/);
  });

  it('inside records and unions too (the event schema\'s eventTime and optional longs)', () => {
    // eventTime is a long with a logical type: that form must be exact too.
    const t = readerType({ type: 'record', name: 'R', fields: [{ name: 't', type: { type: 'long', logicalType: 'timestamp-millis' } }, { name: 'o', type: ['null', 'long'] }] });
    const buf = Buffer.concat([longBytes(-8_640_000_000_000_000n), Buffer.from([2]), longBytes(5_000_000_000_000_001n)]);
    expect(t.fromBuffer(buf)).toMatchObject({ t: -8_640_000_000_000_000, o: 5_000_000_000_000_001 });
  });
});
