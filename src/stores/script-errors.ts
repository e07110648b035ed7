/** Maps negative script return codes to typed errors: the one place that knows what each code means. */
import { FencedError, ScriptRejectedError, StateLostError, StateRebuiltError } from '../errors.js';

const CODES: Record<number, { code: string; message: string; retriable: boolean }> = {
  [-1]: { code: 'SCRIPT_BAD_ARGS', message: 'the script could not parse its arguments (a bug in Attune)', retriable: false },
  [-20]: { code: 'SEGMENT_USER_CONFLICT', message: 'the user\'s feature state changed since it was read (another writer or a replay); the micro-batch is retried', retriable: true },
  [-30]: { code: 'REC_USER_CONFLICT', message: 'the user\'s recommender state changed since it was read (another writer or a replay); the micro-batch is retried', retriable: true },
  [-21]: { code: 'SEGMENT_PARTITION_CONFLICT', message: 'the partition\'s watermark changed since it was read (another writer or a replay); the micro-batch is retried', retriable: true },
};

/** Returns the result when it is not an error code; throws the mapped error otherwise. */
export function checkScriptResult(script: string, result: number): number {
  if (result >= 0) return result;
  if (result === -40) {
    throw new StateLostError(
      `${script}: state this worker relies on is gone (a slot's guard hash or a partition's progress it wrote is missing) — ` +
        'Redis restarted empty, was flushed or a node was replaced under the running worker. Never continuing on empty ' +
        'state: with ATTUNE_ON_STATE_LOSS=rebuild the worker rebuilds it from the retained input; with halt (the default) it stops (exit 3).',
    );
  }
  if (result === -41) throw new StateRebuiltError(`${script}: the state was rebuilt under a new epoch since this worker started; restarting on the new state`);
  if (result === -50) throw new FencedError(`${script}: a newer owner of the partition has written; this worker was revoked and drops its stale work`);
  const known = CODES[result];
  if (known) throw new ScriptRejectedError(known.code, `${script}: ${known.message}`, known.retriable);
  throw new ScriptRejectedError('SCRIPT_UNKNOWN', `${script}: unknown return code ${result}`, false);
}
