/** Maps negative script return codes to typed errors: the one place that knows what each code means. */
import { ScriptRejectedError } from '../errors.js';

const CODES: Record<number, { code: string; message: string; retriable: boolean }> = {
  [-1]: { code: 'SCRIPT_BAD_ARGS', message: 'the script could not parse its arguments (a bug in Attune)', retriable: false },
};

/** Returns the result when it is not an error code; throws the mapped error otherwise. */
export function checkScriptResult(script: string, result: number): number {
  if (result >= 0) return result;
  const known = CODES[result];
  if (known) throw new ScriptRejectedError(known.code, `${script}: ${known.message}`, known.retriable);
  throw new ScriptRejectedError('SCRIPT_UNKNOWN', `${script}: unknown return code ${result}`, false);
}
