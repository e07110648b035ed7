/**
 * Produce failures are ProduceError, retriable where kafkajs says the failure may pass. The errors are real
 * kafkajs instances, and the "retries exhausted" ones come out of kafkajs's own retrier, the one its producer
 * runs `send` under.
 */
import { describe, it, expect } from 'vitest';
import { createRequire } from 'node:module';
import kafkajs, { type KafkaJSError, type KafkaJSProtocolError } from 'kafkajs';
import { isRetriableKafkaError, toProduceError } from '../../src/kafka/kafkajs-client.js';
import { ProduceError, isRetriable } from '../../src/errors.js';
import { toStoreError } from '../../src/stores/redis-errors.js';

const { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError: ProtocolError, KafkaJSRequestTimeoutError } = kafkajs;
const require = createRequire(import.meta.url);
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode: (code: number) => KafkaJSProtocolError };
type Retrier = (fn: (bail: (e: Error) => void, retryCount: number) => Promise<unknown>) => Promise<unknown>;
const createRetry = require('kafkajs/src/retry') as (opts: object) => Retrier;

/** What kafkajs's retrier rejects with when `fn` keeps failing with `err` (2 quick retries). */
async function afterKafkajsRetries(err: Error): Promise<unknown> {
  const retrier = createRetry({ retries: 2, initialRetryTime: 1, maxRetryTime: 2 });
  return retrier(async () => { throw err; }).then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e);
}

const NOT_LEADER = 6;
const MESSAGE_TOO_LARGE = 10;
const connectionRefused = () => new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:19092', { broker: '127.0.0.1:19092', code: 'ECONNREFUSED' });

describe('kafkajs failures as ProduceError', () => {
  it('a failure that may pass is retriable, also once kafkajs gave up retrying it', async () => {
    const exhausted = await afterKafkajsRetries(connectionRefused());
    expect(exhausted).toBeInstanceOf(KafkaJSNumberOfRetriesExceeded);
    expect((exhausted as KafkaJSError).retriable).toBe(false); // what kafkajs says: stop retrying, not "cannot pass"
    for (const e of [connectionRefused(), new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out'),
      new ProtocolError(createErrorFromCode(NOT_LEADER)), exhausted,
      await afterKafkajsRetries(new ProtocolError(createErrorFromCode(NOT_LEADER)))]) {
      expect(isRetriableKafkaError(e), String(e)).toBe(true);
      const mapped = toProduceError(e, 'producing 3 records to attune.recommendations');
      expect(mapped).toBeInstanceOf(ProduceError);
      expect(mapped.code).toBe('PRODUCE');
      expect(isRetriable(mapped)).toBe(true);
      expect(mapped.cause).toBe(e);
      expect(mapped.message).toBe(`producing 3 records to attune.recommendations failed: ${(e as Error).message}`);
    }
  });

  it('a failure that cannot pass is not retriable: the runner stops instead of retrying forever', async () => {
    const tooLarge = new ProtocolError(createErrorFromCode(MESSAGE_TOO_LARGE));
    const wrapped = await afterKafkajsRetries(tooLarge); // kafkajs does not retry it: wraps it once
    expect(wrapped).toBeInstanceOf(KafkaJSNonRetriableError);
    for (const e of [tooLarge, wrapped, new KafkaJSNonRetriableError('Invalid partitioner'), new TypeError("Cannot read properties of undefined (reading 'length')"), 'a string']) {
      expect(isRetriableKafkaError(e), String(e)).toBe(false);
      const mapped = toProduceError(e, 'connecting the producer');
      expect(mapped).toBeInstanceOf(ProduceError);
      expect(isRetriable(mapped)).toBe(false);
      expect(mapped.cause).toBe(e);
    }
  });

  it('is never taken for a Redis failure, even when its cause looks like one', () => {
    const mapped = toProduceError(connectionRefused(), 'producing 1 records to attune.dlq');
    expect(toStoreError(mapped)).toBe(mapped);
  });
});
