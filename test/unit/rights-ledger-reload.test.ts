/**
 * The erasure ledger re-read on assignment must succeed before the partitions' first micro-batches: a stale
 * ledger would let a replay on a taken-over partition re-count the events of a user another worker erased.
 */
import { describe, it, expect } from 'vitest';
import { reloadLedger, ledgerReadRetriable } from '../../src/topology/worker.js';
import { TopicReadTimeoutError, ConfigError } from '../../src/errors.js';

const FAST = { baseMs: 1, growth: 'linear' as const, maxMs: 2 };

function ledger(failures: unknown[]) {
  let calls = 0;
  return {
    get calls() { return calls; },
    size: 0,
    load: async () => {
      calls++;
      const f = failures.shift();
      if (f) throw f;
      return 3;
    },
  };
}

describe('the ledger re-read on assignment', () => {
  it('is retried while it fails retriably, and resolves only once a read succeeded', async () => {
    const kafkaErr = Object.assign(new Error('broker away'), { name: 'KafkaJSConnectionError' });
    const l = ledger([new TopicReadTimeoutError('slow'), kafkaErr, new TopicReadTimeoutError('slow')]);
    await reloadLedger(l, { isStopping: () => false, policy: FAST });
    expect(l.calls).toBe(4);
  });
  it('throws a failure that cannot pass instead of going on with the ledger known so far', async () => {
    const l = ledger([new TopicReadTimeoutError('slow'), new ConfigError('no such topic')]);
    await expect(reloadLedger(l, { isStopping: () => false, policy: FAST })).rejects.toThrow('no such topic');
    expect(l.calls).toBe(2);
  });
  it('stops retrying when the worker stops', async () => {
    const l = ledger([new TopicReadTimeoutError('slow'), new TopicReadTimeoutError('slow'), new TopicReadTimeoutError('slow')]);
    // The worker starts stopping during the first read.
    const p = reloadLedger(l, { isStopping: () => l.calls >= 1, policy: FAST });
    await expect(p).rejects.toThrow('slow');
    expect(l.calls).toBe(1);
  });
  it('counts read timeouts and broker errors as retriable, programming errors not', () => {
    expect(ledgerReadRetriable(new TopicReadTimeoutError('x'))).toBe(true);
    expect(ledgerReadRetriable(Object.assign(new Error('x'), { name: 'KafkaJSNumberOfRetriesExceeded' }))).toBe(true);
    expect(ledgerReadRetriable(new TypeError('x'))).toBe(false);
  });
});
