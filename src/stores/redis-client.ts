/**
 * Creates the ioredis client: a single Redis or a Redis Cluster (ATTUNE_REDIS_CLUSTER_NODES). Auto-pipelining
 * batches the commands issued in one event-loop tick per node, which keeps Redis round trips per micro-batch
 * small on both topologies without cross-slot pipelines.
 *
 * Outages: the client reconnects forever with a capped backoff; a command fails (instead of queueing forever)
 * after 2 reconnect attempts or after `redisCommandTimeoutMs` when Redis is paused or frozen. The client returned
 * (and every node `masters`/`readyMasters` hand out) rejects with those failures already mapped to the retriable
 * StateStoreUnavailableError (redis-errors.ts), so the runner pauses and retries and no caller maps them itself.
 */
import { Redis, Cluster } from 'ioredis';
import type { Config } from '../config/config.js';
import { ConfigError } from '../errors.js';
import { log } from '../log.js';
import { RECONNECT_BACKOFF, backoffMs } from '../retry.js';
import { toStoreError, withStoreErrors } from './redis-errors.js';
import { defineScripts, type ScriptCommands } from './scripts.js';

export type RedisClient = (Redis | Cluster) & ScriptCommands;

const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;
/** Reconnect delay (RECONNECT_BACKOFF: 100 ms, 200 ms, ... capped at 2 s); never gives up (a transient outage must not end the worker). */
export const reconnectDelayMs = (attempt: number) => backoffMs(attempt, RECONNECT_BACKOFF);

export function createRedis(
  cfg: Pick<Config, 'redisUrl' | 'redisClusterNodes'> & Partial<Pick<Config, 'redisCommandTimeoutMs'>>,
  opts: { lazy?: boolean } = {},
): RedisClient {
  const perNode = {
    // Fail commands instead of queueing them forever while Redis is away: the runner pauses and retries.
    maxRetriesPerRequest: 2,
    // A paused (CLIENT PAUSE) or frozen (SIGSTOP, GC, swap) Redis keeps the socket open: only a timeout notices.
    commandTimeout: cfg.redisCommandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    retryStrategy: reconnectDelayMs,
  };
  let client: Redis | Cluster;
  if (cfg.redisClusterNodes && cfg.redisClusterNodes.length > 0) {
    client = new Cluster(
      cfg.redisClusterNodes.map((hp: string) => {
        const [host, port] = hp.split(':');
        return { host, port: Number(port) };
      }),
      {
        enableAutoPipelining: true,
        redisOptions: perNode,
        clusterRetryStrategy: reconnectDelayMs,
        lazyConnect: opts.lazy ?? false,
      },
    );
  } else {
    client = new Redis(cfg.redisUrl, { ...perNode, enableAutoPipelining: true, lazyConnect: opts.lazy ?? false });
  }
  // Without a listener ioredis prints every reconnect failure to stderr; log at most one line per 10 s instead.
  let lastLogged = 0;
  client.on('error', (err: Error) => {
    const now = Date.now();
    if (now - lastLogged < 10_000) return;
    lastLogged = now;
    log.warn({ err: err.message }, 'Redis connection error (the client keeps reconnecting)');
  });
  defineScripts(client);
  return withStoreErrors(client) as RedisClient;
}

/**
 * The nodes that hold data: the client itself, or every master of a Cluster (none before the Cluster is ready).
 * A Cluster's nodes are plain ioredis clients: they are handed out with their errors mapped like the client's.
 */
export function masters(client: Redis | Cluster): Redis[] {
  return client instanceof Cluster ? client.nodes('master').map(mappedNode) : [client];
}

/** One wrapper per node, so a node compares equal to itself across calls. */
const mappedNodes = new WeakMap<Redis, Redis>();
function mappedNode(node: Redis): Redis {
  let m = mappedNodes.get(node);
  if (!m) mappedNodes.set(node, (m = withStoreErrors(node)));
  return m;
}

/**
 * Every master, once the Cluster client knows them: a fresh Cluster client lists no node until its slots are
 * loaded, and a SCAN or CONFIG over "every master" would then silently cover none. Throws a transient error
 * (StateStoreUnavailableError, "Cluster isn't ready") after `timeoutMs`.
 */
export async function readyMasters(client: Redis | Cluster, timeoutMs = 10_000): Promise<Redis[]> {
  if (!(client instanceof Cluster)) return [client];
  const deadline = Date.now() + timeoutMs;
  while (client.status !== 'ready' || client.nodes('master').length === 0) {
    if (Date.now() > deadline) throw toStoreError(new Error(`Cluster isn't ready after ${timeoutMs} ms (status ${client.status}): no master known`));
    await new Promise((r) => setTimeout(r, 50));
  }
  return masters(client);
}

/**
 * Refuses a Redis that may evict keys: an evicted key is state silently lost (counts restart from zero, an
 * applied-offset hash vanishes and its events are applied twice). Only `noeviction` is safe; with it a full
 * Redis rejects writes (OOM), which the worker treats as retriable and waits out without advancing.
 */
export async function assertNoEviction(client: Redis | Cluster): Promise<void> {
  const nodes = await readyMasters(client);
  const bad: string[] = [];
  for (const n of nodes) {
    const res = (await n.config('GET', 'maxmemory-policy')) as string[];
    const policy = res[1] ?? 'unknown';
    if (policy !== 'noeviction') bad.push(`${n.options.host ?? '?'}:${n.options.port ?? '?'} has ${policy}`);
  }
  if (bad.length) {
    throw new ConfigError(
      `Redis maxmemory-policy must be noeviction, but ${bad.join(', ')}: Attune's state would be evicted and ` +
        'silently lost. Fix: set `maxmemory-policy noeviction` in redis.conf (or `redis-cli CONFIG SET maxmemory-policy ' +
        'noeviction` on every master, then CONFIG REWRITE), and use a Redis dedicated to Attune rather than a shared cache.',
      'REDIS_EVICTION_POLICY',
    );
  }
}
