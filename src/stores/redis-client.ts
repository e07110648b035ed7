/**
 * Creates the ioredis client: a single Redis or a Redis Cluster (ATTUNE_REDIS_CLUSTER_NODES). Auto-pipelining
 * batches the commands issued in one event-loop tick per node, which keeps Redis round trips per micro-batch
 * small on both topologies without cross-slot pipelines.
 */
import { Redis, Cluster } from 'ioredis';
import type { Config } from '../config/config.js';
import { defineScripts, type ScriptCommands } from './scripts.js';

export type RedisClient = (Redis | Cluster) & ScriptCommands;

export function createRedis(cfg: Pick<Config, 'redisUrl' | 'redisClusterNodes'>, opts: { lazy?: boolean } = {}): RedisClient {
  const common = {
    enableAutoPipelining: true,
    // Fail commands instead of queueing them forever while Redis is away: the runner pauses and retries.
    maxRetriesPerRequest: 2,
    lazyConnect: opts.lazy ?? false,
  };
  let client: Redis | Cluster;
  if (cfg.redisClusterNodes && cfg.redisClusterNodes.length > 0) {
    client = new Cluster(
      cfg.redisClusterNodes.map((hp: string) => {
        const [host, port] = hp.split(':');
        return { host, port: Number(port) };
      }),
      { enableAutoPipelining: true, redisOptions: { maxRetriesPerRequest: 2 }, lazyConnect: common.lazyConnect },
    );
  } else {
    client = new Redis(cfg.redisUrl, common);
  }
  defineScripts(client);
  return client as RedisClient;
}

/** Reads maxmemory-policy from every master; Attune's state must never be evicted. */
export async function evictionPolicies(client: Redis | Cluster): Promise<string[]> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  const out: string[] = [];
  for (const n of nodes) {
    const res = (await n.config('GET', 'maxmemory-policy')) as string[];
    out.push(res[1] ?? 'unknown');
  }
  return out;
}
