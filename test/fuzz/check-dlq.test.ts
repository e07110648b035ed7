/**
 * The fuzz harness's DLQ check (bench/fuzz/harness.ts `checkDlq`), on hand-made DLQ records: it must see a record
 * missing, dead-lettered twice, with the wrong code or stage, altered without the truncation header, leaking the user
 * id, and a valid record dead-lettered — and accept a truncated copy that says so.
 */
import { describe, expect, it } from 'vitest';
import { checkDlq } from '../../bench/fuzz/harness.js';
import type { Kind } from '../../bench/fuzz/kinds.js';
import type { ReadRecord } from '../../src/output/read-topic.js';

const topics = { events: 'f.events', items: 'f.items' };
const kind = (name: string, code: string, stage: Kind['stage'] = 'decode'): Kind => ({ name, topic: 'events', code, stage, weight: 1, what: name, make: () => ({ key: null, value: null }) });
const dead = (partition: number, offset: number, code: string, stage: string, value: Buffer | null, extra: Record<string, string> = {}): ReadRecord => ({
  partition: 0, offset: '0', key: null, value,
  headers: { 'attune.error.code': code, 'attune.error.stage': stage, 'attune.error.message': 'm', 'attune.source.topic': topics.events, 'attune.source.partition': String(partition), 'attune.source.offset': String(offset), ...extra },
});

describe('checkDlq', () => {
  it('counts each hostile record once and names every way a dead letter can be wrong', () => {
    const kinds = [kind('a', 'BAD_MAGIC'), kind('b', 'MISSING_ID', 'validate'), kind('c', 'TOO_LARGE')];
    const metas = new Map([
      ['events:0:0', { kind: 0, len: 3, key: 'c10001' }], // ok
      ['events:0:1', { kind: 0, len: 3, key: 'c10001' }], // twice
      ['events:0:2', { kind: 0, len: 3, key: 'c10002' }], // missing
      ['events:1:0', { kind: 1, len: 3, key: 'c10003' }], // wrong code
      ['events:1:1', { kind: 1, len: 3, key: 'c10003' }], // wrong stage
      ['events:1:2', { kind: 1, len: 3, key: 'c10004' }], // leaks the user id
      ['events:2:0', { kind: 2, len: 100, key: 'u' }], // truncated, with the header
      ['events:2:1', { kind: 2, len: 100, key: 'u' }], // altered, no header
      ['events:2:2', { kind: -1, len: 5, key: 'u' }], // a valid record
    ]);
    const v3 = Buffer.from('abc');
    const dlq = [
      dead(0, 0, 'BAD_MAGIC', 'decode', v3),
      dead(0, 1, 'BAD_MAGIC', 'decode', v3),
      dead(0, 1, 'BAD_MAGIC', 'decode', v3),
      dead(1, 0, 'BAD_ID', 'validate', v3),
      dead(1, 1, 'MISSING_ID', 'decode', v3),
      dead(1, 2, 'MISSING_ID', 'validate', v3, { 'attune.error.message': 'user c10004 has no id' }),
      dead(2, 0, 'TOO_LARGE', 'decode', Buffer.alloc(10), { 'attune.value.truncated': '100' }),
      dead(2, 1, 'TOO_LARGE', 'decode', Buffer.alloc(10)),
      dead(2, 2, 'TOO_LATE', 'process', Buffer.alloc(5)),
      dead(9, 9, 'SOMETHING', 'elsewhere', null),
    ];
    const violations: string[] = [];
    const [a, b, c] = checkDlq(dlq, metas, kinds, [3, 3, 2], topics, (v) => violations.push(v));
    expect(a).toMatchObject({ count: 3, ok: 2, missing: 1, duplicates: 1, altered: 0, leaks: 0 });
    expect(b).toMatchObject({ count: 3, ok: 1, missing: 0, wrongCode: { BAD_ID: 1 }, wrongStage: { decode: 1 }, leaks: 1 });
    expect(c).toMatchObject({ count: 2, ok: 2, missing: 0, altered: 1 });
    expect(violations).toEqual([
      'valid records dead-lettered: 1 as TOO_LATE',
      '1 DLQ records whose source is no record of this run',
      'DLQ headers outside the contract: SOMETHING, stage elsewhere',
    ]);
  });
});
