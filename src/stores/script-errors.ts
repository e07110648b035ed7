/** Maps negative script return codes to typed errors: the one place that knows what each code means. */
import { ScriptRejectedError, StateLostError } from '../errors.js';

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
    throw new StateLostError(`${script}: a partition's progress this worker wrote is gone — Redis restarted empty or was reset under the running worker. Stopping instead of continuing on empty state; to rebuild, run \`attune reset --yes --keep-topics\` and start the workers with a new ATTUNE_GROUP_ID`);
  }
  const known = CODES[result];
  if (known) throw new ScriptRejectedError(known.code, `${script}: ${known.message}`, known.retriable);
  throw new ScriptRejectedError('SCRIPT_UNKNOWN', `${script}: unknown return code ${result}`, false);
}
