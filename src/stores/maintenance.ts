/** Bulk operations on a deployment's keys (reset, tests). SCAN, never KEYS, so Redis stays responsive. */
import type { Cluster, Redis } from 'ioredis';
import { readyMasters } from './redis-client.js';

export async function deleteKeysWithPrefix(client: Redis | Cluster, prefix: string): Promise<number> {
  let n = 0;
  for await (const keys of scanKeys(client, `${prefix}:*`)) {
    // One UNLINK per key: keys of a batch may sit in different slots.
    await Promise.all(keys.map((k) => client.unlink(k)));
    n += keys.length;
  }
  return n;
}

/**
 * Every key matching `pattern`, on a single Redis or on every master of a Cluster (SCAN on one Cluster node sees
 * only that node's slots). Use this, never KEYS, for start-up loads and audits.
 */
export async function* scanKeys(client: Redis | Cluster, pattern: string, count = 1000): AsyncGenerator<string[]> {
  for (const node of await readyMasters(client)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      if (keys.length) yield keys;
    } while (cursor !== '0');
  }
}
