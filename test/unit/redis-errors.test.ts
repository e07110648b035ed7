import { describe, it, expect } from 'vitest';
import { ReplyError } from 'ioredis';
import { isTransientRedisError, toStoreError } from '../../src/stores/redis-errors.js';
import { StateStoreUnavailableError, isRetriable, ScriptRejectedError } from '../../src/errors.js';

describe('Redis error mapping', () => {
  it('maps outages, timeouts and passing server states to the retriable StateStoreUnavailableError', () => {
    const conn = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6392'), { code: 'ECONNREFUSED' });
    const maxRetries = Object.assign(new Error('Reached the max retries per request limit (which is 2).'), { name: 'MaxRetriesPerRequestError' });
    for (const e of [conn, maxRetries, new Error('Command timed out'), new Error('Connection is closed.'),
      new ReplyError('LOADING Redis is loading the dataset in memory'), new ReplyError("OOM command not allowed when used memory > 'maxmemory'."),
      new ReplyError('CLUSTERDOWN The cluster is down'), new ReplyError('TRYAGAIN Multiple keys request during rehashing of slot')]) {
      expect(isTransientRedisError(e), e.message).toBe(true);
      const mapped = toStoreError(e);
      expect(mapped).toBeInstanceOf(StateStoreUnavailableError);
      expect(isRetriable(mapped)).toBe(true);
    }
  });

  it('leaves bugs and Attune errors alone', () => {
    const bug = new ReplyError('ERR Error running script: attempt to index a nil value');
    expect(toStoreError(bug)).toBe(bug);
    const wrongType = new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value');
    expect(toStoreError(wrongType)).toBe(wrongType);
    const own = new ScriptRejectedError('SCRIPT_BAD_ARGS', 'x', false);
    expect(toStoreError(own)).toBe(own);
    expect(toStoreError('not an error')).toBe('not an error');
  });
});
