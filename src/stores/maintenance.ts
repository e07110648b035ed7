/** Bulk operations on a deployment's keys (reset, tests). SCAN, never KEYS, so Redis stays responsive. */
import { Cluster, type Redis } from 'ioredis';

export async function deleteKeysWithPrefix(client: Redis | Cluster, prefix: string): Promise<number> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  let n = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      // One UNLINK per key: keys of a batch may sit in different slots.
      await Promise.all(keys.map((k) => node.unlink(k)));
      n += keys.length;
    } while (cursor !== '0');
  }
  return n;
}

/**
 * Every key matching `pattern`, on a single Redis or on every master of a Cluster (SCAN on one Cluster node sees
 * only that node's slots). Use this, never KEYS, for start-up loads and audits.
 */
export async function* scanKeys(client: Redis | Cluster, pattern: string, count = 1000): AsyncGenerator<string[]> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      if (keys.length) yield keys;
    } while (cursor !== '0');
  }
}
