/**
 * Which Redis failures are transient. The runner retries a micro-batch only on a retriable AttuneError, so every
 * error that can pass on its own (connection refused or reset, a command timed out because Redis is paused or
 * frozen, the server loading its data set, OOM under `noeviction`, a Cluster failing over or resharding) is
 * mapped here to StateStoreUnavailableError. Everything else (a script bug, a wrong type) stays what it is.
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
];
const TRANSIENT_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);
const TRANSIENT_SYSCALL_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

export function isTransientRedisError(err: unknown): boolean {
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

/** Maps a transient Redis failure to the retriable StateStoreUnavailableError; returns anything else unchanged. */
export function toStoreError(err: unknown): unknown {
  return isTransientRedisError(err) ? new StateStoreUnavailableError(`Redis unavailable: ${errorMessage(err)}`, err) : err;
}
