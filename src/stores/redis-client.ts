/**
 * Creates the ioredis client: a single Redis or a Redis Cluster (ATTUNE_REDIS_CLUSTER_NODES). Auto-pipelining
 * batches the commands issued in one event-loop tick per node, which keeps Redis round trips per micro-batch
 * small on both topologies without cross-slot pipelines.
 *
 * Outages: the client reconnects forever with a capped backoff; a command fails (instead of queueing forever)
 * after 2 reconnect attempts or after `redisCommandTimeoutMs` when Redis is paused or frozen. The client returned
 * (and every node `masters`/`readyMasters` hand out) rejects with those failures already mapped to the retriable
 * StateStoreUnavailableError (redis-errors.ts), so the runner pauses and retries and no caller maps them itself.
 *
 * Security (docs/security.md): TLS (a rediss:// URL or ATTUNE_REDIS_TLS, with ATTUNE_REDIS_TLS_CA_FILE) and an ACL
 * user (ATTUNE_REDIS_USERNAME/PASSWORD) apply to the single Redis and to every Cluster node alike. Start-up checks
 * (assertNoEviction, assertRedisAccess) need no admin rights and turn refused logins and missing permissions into
 * ConfigErrors that name the setting.
 */
import { Redis, Cluster } from 'ioredis';
import type { Config } from '../config/config.js';
import { ConfigError } from '../errors.js';
import { log } from '../log.js';
import { RECONNECT_BACKOFF, backoffMs } from '../retry.js';
import { toStoreError, withStoreErrors } from './redis-errors.js';
import { defineScripts, variableKeyCommands, type ScriptCommands } from './scripts.js';
import { timeCommands, type CommandObserver } from './command-timing.js';
import { explainRedisError, redisTransport, type RedisSecuritySettings } from '../security/transport.js';

export type RedisClient = (Redis | Cluster) & ScriptCommands;

const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;
/** Reconnect delay (RECONNECT_BACKOFF: 100 ms, 200 ms, ... capped at 2 s); never gives up (a transient outage must not end the worker). */
export const reconnectDelayMs = (attempt: number) => backoffMs(attempt, RECONNECT_BACKOFF);

export function createRedis(
  cfg: Pick<Config, 'redisUrl' | 'redisClusterNodes'> & Partial<Pick<Config, 'redisCommandTimeoutMs'>> & Partial<RedisSecuritySettings>,
  opts: { lazy?: boolean; observeCommand?: CommandObserver } = {},
): RedisClient {
  const perNode = {
    ...redisTransport(cfg),
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
        autoPipeliningIgnoredCommands: variableKeyCommands(),
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
  let wrapped: RedisClient | undefined;
  const onError = (err: Error) => {
    // A refused login or an untrusted certificate shows only here (commands just run out of retries): remember
    // it, so that the start-up checks fail at once with the setting to fix instead of waiting for a Redis that is up.
    const explained = explainRedisError(err);
    if (explained instanceof ConfigError && wrapped) connectionConfigErrors.set(wrapped, explained);
    const now = Date.now();
    if (now - lastLogged < 10_000) return;
    lastLogged = now;
    log.warn({ err: err.message }, 'Redis connection error (the client keeps reconnecting)');
  };
  client.on('error', onError);
  if (client instanceof Cluster) client.on('node error', onError);
  const scripts = defineScripts(client);
  if (opts.observeCommand) timeCommands(client, scripts, opts.observeCommand);
  wrapped = withStoreErrors(client) as RedisClient;
  return wrapped;
}

/** The last connection error of a client that a setting fixes (WRONGPASS, an untrusted certificate), if any. */
const connectionConfigErrors = new WeakMap<object, ConfigError>();

function startupError(client: object, err: unknown, keyPrefix?: string): unknown {
  const explained = explainRedisError(err, keyPrefix);
  if (explained instanceof ConfigError) return explained;
  return connectionConfigErrors.get(client) ?? err;
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
    // A refused login never gets ready: say so now rather than after the timeout.
    const fatal = connectionConfigErrors.get(client);
    if (fatal) throw fatal;
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
  const bad: string[] = [];
  try {
    const nodes = await readyMasters(client);
    for (const n of nodes) {
      const policy = await evictionPolicy(n);
      if (policy !== undefined && policy !== 'noeviction') bad.push(`${n.options.host ?? '?'}:${n.options.port ?? '?'} has ${policy}`);
    }
  } catch (err) {
    throw startupError(client, err);
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

/**
 * A node's maxmemory-policy without admin rights. INFO memory (maxmemory_policy) first: a least-privilege ACL user
 * and managed Redis services allow it, and a denied CONFIG GET at every start would fill the ACL LOG that
 * operators watch for intrusions. CONFIG GET (@admin) only when INFO is denied or says nothing; with neither
 * allowed, the check is skipped with a warning (undefined).
 */
async function evictionPolicy(n: Redis): Promise<string | undefined> {
  try {
    const policy = /^maxmemory_policy:(\S+)/m.exec(await n.info('memory'))?.[1];
    if (policy) return policy;
  } catch (err) {
    if (!isNoPerm(err)) throw err;
  }
  try {
    const res = (await n.config('GET', 'maxmemory-policy')) as string[];
    return res[1] ?? 'unknown';
  } catch (err) {
    if (!isNoPerm(err)) throw err;
  }
  log.warn({ node: `${n.options.host ?? '?'}:${n.options.port ?? '?'}` }, 'cannot read maxmemory-policy (the Redis user may run neither INFO nor CONFIG GET): eviction check skipped; make sure the server runs with maxmemory-policy noeviction');
  return undefined;
}

const isNoPerm = (err: unknown) => err instanceof Error && /^NOPERM\b/.test(err.message);

/**
 * Fails start-up with a ConfigError that names the fix when the Redis user cannot do what Attune does under
 * `keyPrefix`: a Lua script that writes and deletes a key of the prefix (EVAL, SET, DEL and the key pattern), and
 * a SCAN of the prefix on every master. Without it a restricted user would first fail deep inside bootstrap or
 * the first micro-batch with a bare NOPERM.
 */
export async function assertRedisAccess(client: RedisClient, keyPrefix: string): Promise<void> {
  const probe = `${keyPrefix}:{g}:access-probe`;
  try {
    await client.eval("redis.call('SET', KEYS[1], '1', 'PX', 10000) return redis.call('DEL', KEYS[1])", 1, probe);
    for (const n of await readyMasters(client)) await n.scan('0', 'MATCH', `${keyPrefix}:*`, 'COUNT', 10);
  } catch (err) {
    throw startupError(client, err, keyPrefix);
  }
}
