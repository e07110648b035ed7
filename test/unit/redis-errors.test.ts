import { describe, it, expect } from 'vitest';
import { ReplyError } from 'ioredis';
import { isTransientRedisError, redisReason, toStoreError, withStoreErrors } from '../../src/stores/redis-errors.js';
import { StateStoreUnavailableError, isRetriable, ScriptRejectedError, ProduceError } from '../../src/errors.js';

describe('Redis error mapping', () => {
  it('maps outages, timeouts and passing server states to the retriable StateStoreUnavailableError', () => {
    const conn = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6392'), { code: 'ECONNREFUSED' });
    const maxRetries = Object.assign(new Error('Reached the max retries per request limit (which is 2).'), { name: 'MaxRetriesPerRequestError' });
    for (const e of [conn, maxRetries, new Error('Command timed out'), new Error('Connection is closed.'),
      new ReplyError('LOADING Redis is loading the dataset in memory'), new ReplyError("OOM command not allowed when used memory > 'maxmemory'."),
      new ReplyError('CLUSTERDOWN The cluster is down'), new ReplyError('TRYAGAIN Multiple keys request during rehashing of slot'),
      // ioredis Cluster auto-pipelining after a slots-map refresh (single-slot commands, regrouped on the next try)
      new Error('All keys in the pipeline should belong to the same slots allocation group')]) {
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
    // A truly cross-slot command is a bug, not a passing state.
    const crossSlot = new Error('All the keys in a pipeline command should belong to the same slot');
    expect(toStoreError(crossSlot)).toBe(crossSlot);
    const own = new ScriptRejectedError('SCRIPT_BAD_ARGS', 'x', false);
    expect(toStoreError(own)).toBe(own);
    expect(toStoreError('not an error')).toBe('not an error');
  });
});

describe('Redis error mapping', () => {
  it('maps once: a mapped error stays itself and still counts as transient', () => {
    const mapped = toStoreError(new Error('Command timed out')) as StateStoreUnavailableError;
    expect(toStoreError(mapped)).toBe(mapped);
    expect(isTransientRedisError(mapped)).toBe(true);
    expect(mapped.message).toBe('Redis unavailable: Command timed out');
    expect(redisReason(mapped)).toBe('Command timed out');
    expect(redisReason(new Error('PING took longer than 3000 ms'))).toBe('PING took longer than 3000 ms');
  });
});

/** Stands in for an ioredis client: commands, a script command added on the instance, a pipeline. */
class FakeRedis {
  status = 'ready';
  constructor(private readonly fail: unknown) {}
  get(_key: string): Promise<string> { return Promise.reject(this.fail); }
  set(_key: string, _v: string): Promise<'OK'> { return Promise.resolve('OK'); }
  on(_event: string, _cb: () => void): this { return this; }
  nodes(): FakeRedis[] { return [this]; }
  pipeline(): FakePipeline { return new FakePipeline(this.fail); }
  defineCommand(name: string): void {
    (this as unknown as Record<string, () => Promise<never>>)[name] = () => Promise.reject(this.fail);
  }
  throwsNow(): never { throw this.fail; }
}
class FakePipeline {
  private n = 0;
  constructor(private readonly fail: unknown) {}
  incr(_key: string): this { this.n++; return this; }
  exec(): Promise<Array<[Error | null, unknown]>> {
    return Promise.resolve([[null, 1], ...Array.from({ length: this.n - 1 }, (): [Error | null, unknown] => [this.fail as Error, null])]);
  }
}

describe('withStoreErrors (the client createRedis returns)', () => {
  const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });

  it('rejects every command, script command and pipeline reply with the mapped error itself', async () => {
    const cause = refused();
    const raw = new FakeRedis(cause);
    raw.defineCommand('applyUserEvents');
    const client = withStoreErrors(raw);
    const fromGet = await client.get('k').catch((e: unknown) => e);
    expect(fromGet).toBeInstanceOf(StateStoreUnavailableError);
    expect((fromGet as Error).cause).toBe(cause);
    const script = (client as unknown as Record<string, () => Promise<unknown>>).applyUserEvents;
    await expect(script()).rejects.toBeInstanceOf(StateStoreUnavailableError);
    expect(() => client.throwsNow()).toThrow(StateStoreUnavailableError);
    const replies = await client.pipeline().incr('a').incr('b').exec();
    expect(replies[0]).toEqual([null, 1]);
    expect(replies[1][0]).toBeInstanceOf(StateStoreUnavailableError);
    await expect(client.set('k', 'v')).resolves.toBe('OK');
  });

  it('passes bugs and errors that are not Redis failures through unchanged', async () => {
    const bug = new ReplyError('ERR Error running script: attempt to index a nil value');
    await expect(withStoreErrors(new FakeRedis(bug)).get('k')).rejects.toBe(bug);
    const produce = new ProduceError('producing 1 records to attune.dlq failed: Connection error: connect ECONNREFUSED', { retriable: false, cause: refused() });
    await expect(withStoreErrors(new FakeRedis(produce)).get('k')).rejects.toBe(produce);
  });

  it('is still the client to its callers: class, fields, chaining and the same method on every look-up', () => {
    const raw = new FakeRedis(refused());
    const client = withStoreErrors(raw);
    expect(client).toBeInstanceOf(FakeRedis);
    expect(client.status).toBe('ready');
    expect(client.on('error', () => {})).toBe(client);
    expect(client.nodes()[0]).toBe(raw);
    expect(client.get).toBe(client.get);
  });
});
