import { describe, it, expect } from 'vitest';
import { DeadLetterSink } from '../../src/stages/dead-letter/sink.js';
import { deadLetter, VALUE_DROPPED_HEADER } from '../../src/stages/dead-letter/record.js';
import { ValidationError } from '../../src/errors.js';
import type { OutboundRecord } from '../../src/kafka/port.js';
import type { StateStore } from '../../src/stores/state-store.js';

function sink(dropValues: boolean | undefined) {
  const sent: OutboundRecord[] = [];
  const store = {
    deadLetterMarks: async () => ({ done: -1, pending: null, pendingAt: null }),
    markDeadLetters: async () => {},
  } as unknown as StateStore;
  const s = new DeadLetterSink({
    store, producer: { connect: async () => {}, disconnect: async () => {}, send: async (_t, rs) => void sent.push(...rs) },
    dlqTopic: 'dlq', readBack: async () => [], maxRecordBytes: 1_000_000, dropValues,
  });
  return { s, sent };
}

const record = { offset: '7', key: Buffer.from('alice@example.com'), value: Buffer.from('{"userId":"alice@example.com"}'), timestamp: '1000', headers: {} };
const dead = () => deadLetter(record, new ValidationError('BAD_CONSENT', 'a consent event needs at least one choice'), { topic: 'ev', partition: 0, groupId: 'g' }, 5);

describe('ATTUNE_DLQ_VALUES', () => {
  it('drop: the copy has no key and no value, only the headers and attune.value.dropped', async () => {
    const { s, sent } = sink(true);
    await s.send('ev', 0, 'decode', [dead()]);
    expect(sent).toHaveLength(1);
    expect(sent[0].key).toBeNull();
    expect(sent[0].value).toBeNull();
    expect(sent[0].headers![VALUE_DROPPED_HEADER]).toBe('true');
    expect(sent[0].headers!['attune.error.code']).toBe('BAD_CONSENT');
    expect(sent[0].headers!['attune.source.offset']).toBe('7');
    expect(JSON.stringify(sent[0].headers)).not.toContain('alice');
  });
  it('keep (the default): the original key and value bytes', async () => {
    const { s, sent } = sink(undefined);
    await s.send('ev', 0, 'decode', [dead()]);
    expect(sent[0].key).toEqual(record.key);
    expect(sent[0].value).toEqual(record.value);
    expect(sent[0].headers![VALUE_DROPPED_HEADER]).toBeUndefined();
  });
});
