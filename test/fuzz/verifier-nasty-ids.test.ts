/**
 * The verifier (test/support/verifier.ts) with the fuzzer's nasty ids: a field named like an Object.prototype member
 * present on one side only is a mismatch (not a crash, not equal), and a sorted-set member `__proto__` is in the dump.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compareDumps, dumpPrefix, type Dumped } from '../support/verifier.js';
import { createRedis } from '../../src/stores/redis-client.js';
import { deleteKeysWithPrefix } from '../../src/stores/maintenance.js';
import { testConfig } from '../support/env.js';

const hash = (value: Record<string, string>): Dumped => ({ type: 'hash', value });

describe('the verifier and nasty ids', () => {
  const cfg = testConfig();
  const redis = createRedis(cfg);
  afterAll(async () => {
    await deleteKeysWithPrefix(redis, cfg.keyPrefix);
    await redis.quit();
  });

  it('reports a field named constructor, toString or __proto__ that only one side has', () => {
    for (const f of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const a = new Map([['{i:x}:co', hash(Object.fromEntries([['_n', '1'], [f, '2']]))]]);
      const b = new Map([['{i:x}:co', hash({ _n: '1' })]]);
      const res = compareDumps(a, b, []);
      expect(res.mismatchCount, f).toBe(1);
      expect(res.mismatches[0], f).toContain(`field ${f}: only in the chaos state (2)`);
      expect(compareDumps(b, a, []).mismatches[0], f).toContain(`field ${f}: only in the reference state (2)`);
      expect(compareDumps(a, a, []).mismatchCount, f).toBe(0);
    }
  });

  it('compares JSON objects by own keys', () => {
    const a = new Map([['{u:x}:features', hash({ s: JSON.stringify({ aff: { constructor: 1 } }) })]]);
    const b = new Map([['{u:x}:features', hash({ s: JSON.stringify({ aff: {} }) })]]);
    expect(compareDumps(a, b, []).mismatchCount).toBe(1);
  });

  it('dumps a sorted-set member named __proto__', async () => {
    await redis.zadd(`${cfg.keyPrefix}:{g}:popularity`, 3, '__proto__', 2, 'constructor', 1, 'a');
    const dump = await dumpPrefix(redis, cfg.keyPrefix);
    const z = dump.get('{g}:popularity')!.value as Record<string, string>;
    expect(Object.keys(z).sort()).toEqual(['__proto__', 'a', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(z, '__proto__')?.value).toBe('3');
  });
});
