import { describe, it, expect } from 'vitest';
import { frameSchemaId, toUserEvent } from '../../src/stages/decode/codec.js';
import { DecodeError } from '../../src/errors.js';
import { deadLetter } from '../../src/stages/dead-letter/record.js';

const codeOf = (buf: Buffer | null, max = 100) => {
  try { frameSchemaId(buf, max); return 'OK'; } catch (e) { expect(e).toBeInstanceOf(DecodeError); return (e as DecodeError).code; }
};

describe('frameSchemaId', () => {
  it('reads the schema id of a framed record', () => {
    expect(frameSchemaId(Buffer.from([0, 0, 0, 1, 7, 2]), 100)).toBe(263);
  });
  it('rejects empty, short, oversized and unframed values', () => {
    expect(codeOf(null)).toBe('EMPTY_VALUE');
    expect(codeOf(Buffer.alloc(0))).toBe('EMPTY_VALUE');
    expect(codeOf(Buffer.from([0, 0, 0]))).toBe('BAD_FRAME');
    expect(codeOf(Buffer.alloc(101))).toBe('TOO_LARGE');
    expect(codeOf(Buffer.from('{"json":true}'))).toBe('BAD_MAGIC');
  });
});

describe('toUserEvent', () => {
  it('maps absent optionals to null and drops non-string properties', () => {
    const e = toUserEvent({ eventId: 'e', userId: 'u', type: 'view', eventTime: 5, itemId: 'i', properties: { a: 'x', b: 3 } });
    expect(e).toMatchObject({ quantity: null, price: null, context: null, properties: { a: 'x' } });
  });
});

describe('deadLetter', () => {
  it('keeps the bytes and says what failed where', () => {
    const rec = { offset: '7', key: Buffer.from('k'), value: Buffer.from('v'), timestamp: '123', headers: {} };
    const out = deadLetter(rec, new DecodeError('BAD_MAGIC', 'nope'), { topic: 't', partition: 2, groupId: 'g' }, 99);
    expect(out.value).toEqual(Buffer.from('v'));
    expect(out.headers).toMatchObject({
      'attune.error.code': 'BAD_MAGIC', 'attune.error.stage': 'decode', 'attune.source.topic': 't',
      'attune.source.partition': '2', 'attune.source.offset': '7', 'attune.failed.at': '99',
    });
  });
});
