import { describe, it, expect } from 'vitest';
import { createRequire } from 'node:module';
import type { KafkaJSProtocolError } from 'kafkajs';
import { chunkByBytes, recordBytes, maxRecordBytes, REQUEST_OVERHEAD_BYTES } from '../../src/kafka/chunk.js';
import { KafkajsProducer } from '../../src/kafka/kafkajs-client.js';
import type { OutboundRecord } from '../../src/kafka/port.js';
import { ProduceError } from '../../src/errors.js';
import {
  capBytes, deadLetter, fitDeadLetter, processFailed, safeMessage, TRUNCATED_HEADER, KEY_TRUNCATED_HEADER, MAX_MESSAGE_BYTES, PROCESS_FAILED,
} from '../../src/stages/dead-letter/record.js';
import { ValidationError } from '../../src/errors.js';

const require = createRequire(import.meta.url);
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode: (code: number) => KafkaJSProtocolError };

const rec = (n: number, i = 0): OutboundRecord => ({ key: `k${i}`, value: Buffer.alloc(n, 1), headers: { 'attune.i': String(i) } });

describe('produce chunks by bytes', () => {
  it('counts key, value, every header and the overheads', () => {
    const r: OutboundRecord = { key: 'ab', value: Buffer.alloc(10), headers: { h: 'xyz', é: 'ü' } };
    expect(recordBytes(r)).toBe(32 + 2 + 10 + (10 + 1 + 3) + (10 + 2 + 2));
    expect(recordBytes({ key: null, value: null })).toBe(32);
  });

  it('keeps order, keeps every request under the cap, and packs requests full', () => {
    const records = Array.from({ length: 300 }, (_, i) => rec(70_000, i)); // the burst: 300 × 70 kB
    const cap = 524_288;
    const chunks = chunkByBytes(records, cap);
    expect(chunks.flat()).toEqual(records);
    for (const c of chunks) expect(c.reduce((n, r) => n + recordBytes(r), 0) + REQUEST_OVERHEAD_BYTES).toBeLessThanOrEqual(cap);
    expect(chunks.length).toBe(Math.ceil(300 / Math.floor(maxRecordBytes(cap) / recordBytes(records[0]))));
  });

  it('sends a record too large for any request alone, between its neighbours', () => {
    const chunks = chunkByBytes([rec(10, 0), rec(2_000_000, 1), rec(10, 2)], 100_000);
    expect(chunks.map((c) => c.map((r) => r.headers!['attune.i']))).toEqual([['0'], ['1'], ['2']]);
    expect(chunkByBytes([], 100_000)).toEqual([]);
  });

  it('the kafkajs producer sends the chunks in order, one request each, and types a failure', async () => {
    const sent: number[][] = [];
    const producer = new KafkajsProducer({
      connect: async () => {},
      disconnect: async () => {},
      send: async ({ messages }) => {
        if (messages.some((m) => m.headers?.['attune.i'] === 'boom')) throw createErrorFromCode(10); // MESSAGE_TOO_LARGE
        sent.push(messages.map((m) => Number(m.headers!['attune.i'])));
        return [];
      },
    }, 200_000);
    await producer.send('t', Array.from({ length: 10 }, (_, i) => rec(60_000, i)));
    expect(sent).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
    const err = await producer.send('t', [rec(10, 0), { key: 'x', value: Buffer.alloc(300_000), headers: { 'attune.i': 'boom' } }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProduceError);
    expect((err as ProduceError).retriable).toBe(false);
    expect((err as Error).message).toMatch(/request 2 of 2, 1 records sent before it/);
  });
});

describe('dead-letter copies fit the cap', () => {
  const src = { topic: 'attune.events', partition: 3, groupId: 'g' };
  const inbound = (value: Buffer, key = 'user-42') => ({ offset: '17', key: Buffer.from(key), value, timestamp: '1', headers: {} });

  it('a copy that fits is unchanged; an oversized value is cut, with its original length in a header', () => {
    const small = deadLetter(inbound(Buffer.alloc(100)), new ValidationError('BAD_ID', 'bad'), src);
    expect(fitDeadLetter(small, 10_000)).toBe(small);
    const big = deadLetter(inbound(Buffer.alloc(900_000, 7)), new ValidationError('TOO_LARGE', 'too large'), src);
    const fit = fitDeadLetter(big, maxRecordBytes(524_288));
    expect(recordBytes(fit)).toBeLessThanOrEqual(maxRecordBytes(524_288));
    expect(recordBytes(fit)).toBeGreaterThan(maxRecordBytes(524_288) - 64); // cut, not emptied
    expect(fit.headers![TRUNCATED_HEADER]).toBe('900000');
    expect(fit.value!.equals(Buffer.alloc(fit.value!.length, 7))).toBe(true); // a prefix of the original
    expect(fit.key).toEqual(big.key);
    expect(fit.headers!['attune.error.code']).toBe('TOO_LARGE');
  });

  it('a key too large on its own is cut too, and says so', () => {
    const r = deadLetter(inbound(Buffer.alloc(10), 'k'.repeat(5_000)), new ValidationError('ID_TOO_LONG', 'long'), src);
    const fit = fitDeadLetter(r, 2_000);
    expect(recordBytes(fit)).toBeLessThanOrEqual(2_000);
    expect(fit.headers![KEY_TRUNCATED_HEADER]).toBe('5000');
    expect(fit.headers![TRUNCATED_HEADER]).toBe('10');
  });

  it('caps header texts in bytes, never inside a character', () => {
    expect(capBytes('aé', 2)).toBe('a');
    expect(capBytes('a😀b', 4)).toBe('a');
    expect(capBytes('a😀b', 5)).toBe('a😀');
    const long = deadLetter(inbound(Buffer.alloc(1)), new ValidationError('BAD_ID', 'é'.repeat(2_000)), src);
    expect(Buffer.byteLength(long.headers!['attune.error.message'])).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(long.headers!['attune.error.message']).toMatch(/^é+$/);
  });

  it('a processing failure: PROCESS_FAILED, stage process, its class, and no user id in the message', () => {
    let parseError: unknown;
    try { JSON.parse('{"userId":"user-42","x":'); } catch (e) { parseError = e; }
    const r = processFailed(inbound(Buffer.alloc(3)), parseError, src);
    expect(r.headers).toMatchObject({ 'attune.error.code': PROCESS_FAILED, 'attune.error.stage': 'process', 'attune.error.class': 'SyntaxError', 'attune.source.offset': '17' });
    expect(r.headers!['attune.error.message']).not.toContain('user-42');
    expect(safeMessage(new Error('state of user-42 is corrupt'), { key: Buffer.from('user-42') })).toBe('state of <key> is corrupt');
    expect(safeMessage(new Error(`bad 'user-7' and "user-8" here`))).toBe('bad "…" here');
    expect(r.headers!['attune.error.message']).toMatch(/^Unexpected end of JSON input|"…"/);
  });
});
