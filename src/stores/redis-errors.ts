/**
 * Which Redis failures are transient. The runner retries a micro-batch only on a retriable AttuneError, so every
 * error that can pass on its own (connection refused or reset, a command timed out because Redis is paused or
 * frozen, the server loading its data set, OOM under `noeviction`, a Cluster failing over or resharding) is
 * mapped here to StateStoreUnavailableError. Everything else (a script bug, a wrong type) stays what it is.
 *
 * The mapping happens at the Redis boundary: `withStoreErrors` wraps the client createRedis returns (and the
 * Cluster nodes redis-client.ts hands out), so every command rejects with the mapped error itself and an error
 * that did not come from Redis (a Kafka produce failure in the same job) is never mistaken for one.
 */
import { AttuneError, StateStoreUnavailableError, errorMessage } from '../errors.js';

/** Reply prefixes of Redis errors that pass without a change to Attune (see the Redis and Cluster specs). */
const TRANSIENT_REPLIES = ['LOADING', 'BUSY', 'OOM', 'CLUSTERDOWN', 'TRYAGAIN', 'MASTERDOWN', 'READONLY', 'NOREPLICAS', 'MOVED', 'ASK'];
/** Messages and names of ioredis's own client-side failures. */
const TRANSIENT_MESSAGES = [
  'Command timed out',
  'Connection is closed',
  "Stream isn't writeable",
  'Reached the max retries per request limit',
  'Failed to refresh slots cache',
  'None of startup nodes is available',
  'Cluster isn\'t ready',
  // Cluster auto-pipelining: commands are grouped per node by the slots map when queued and checked against it again
  // when the pipeline runs; a slots-map refresh in between (a reconnect, a worker's start) rejects the whole group
  // with this, although every command is single-slot (a truly cross-slot command gets "...a pipeline command should
  // belong to the same slot", which stays non-retriable). Seen in chaos runs, where it used to quarantine records.
  // The same message also came, every time, from two `-n` scripts in one tick (grouped by their key count):
  // those are sent outside auto-pipelining now (scripts.ts variableKeyCommands; test/cluster/cluster-client.test.ts).
  'All keys in the pipeline should belong to the same slots allocation group',
];
const TRANSIENT_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);
const TRANSIENT_SYSCALL_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

export function isTransientRedisError(err: unknown): boolean {
  // Already mapped at the boundary: still a transient Redis failure.
  if (err instanceof StateStoreUnavailableError) return true;
  if (!(err instanceof Error) || err instanceof AttuneError) return false;
  if (TRANSIENT_NAMES.has(err.name)) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_SYSCALL_CODES.has(code)) return true;
  const msg = err.message;
  if (TRANSIENT_MESSAGES.some((m) => msg.includes(m))) return true;
  // ReplyError: the first word of the message is the error code Redis sent.
  if (err.name === 'ReplyError') {
    const first = msg.split(/\s/, 1)[0];
    return TRANSIENT_REPLIES.includes(first);
  }
  return false;
}

/**
 * Maps a transient Redis failure to the retriable StateStoreUnavailableError; returns anything else unchanged,
 * an AttuneError (already mapped, or Attune's own) included, so mapping twice is mapping once.
 */
export function toStoreError(err: unknown): unknown {
  if (err instanceof AttuneError) return err;
  return isTransientRedisError(err) ? new StateStoreUnavailableError(`Redis unavailable: ${errorMessage(err)}`, err) : err;
}

/** What Redis said, without the "Redis unavailable" of the mapping (for a line that already says so). */
export function redisReason(err: unknown): string {
  return errorMessage(err instanceof StateStoreUnavailableError && err.cause !== undefined ? err.cause : err);
}

type Method = (...args: unknown[]) => unknown;

/**
 * `client` (an ioredis Redis, Cluster or Pipeline) whose methods reject with `toStoreError` of what they reject
 * with: every command, the script commands defineCommand/defineScripts added, and `exec` of pipeline()/multi()
 * (whose per-command errors are mapped too). A method that returns the client itself (`on`, a pipeline's
 * chained commands) returns the wrapped one; anything else (`nodes()`, `status`) is returned as it is. Methods
 * run with the unwrapped client as `this`, so ioredis's internals see no proxy and nothing is mapped twice.
 * Errors given to a callback argument are not mapped (Attune uses the promises).
 */
export function withStoreErrors<T extends object>(client: T): T {
  // One wrapper per method, made on first use: commands are looked up on every call of a hot path.
  const wrapped = new Map<PropertyKey, { fn: Method; wrapper: Method }>();
  const proxy: T = new Proxy(client, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || prop === 'constructor') return value;
      const known = wrapped.get(prop);
      if (known?.fn === value) return known.wrapper;
      const method = value as Method;
      const wrapper: Method = (...args) => {
        let out: unknown;
        try {
          out = method.apply(target, args);
        } catch (err) {
          throw toStoreError(err);
        }
        if (out === target) return proxy;
        if (out instanceof Promise) return out.then(prop === 'exec' ? mapExecReplies : undefined, rethrowMapped);
        if (prop === 'pipeline' || prop === 'multi') return withStoreErrors(out as object);
        return out;
      };
      wrapped.set(prop, { fn: method, wrapper });
      return wrapper;
    },
  });
  return proxy;
}

function rethrowMapped(err: unknown): never {
  throw toStoreError(err);
}

/** exec() of a pipeline resolves with one [error, reply] per command: map each command's error. */
function mapExecReplies(replies: unknown): unknown {
  if (!Array.isArray(replies)) return replies;
  return replies.map((r) => (Array.isArray(r) && r[0] ? [toStoreError(r[0]), r[1]] : r));
}
