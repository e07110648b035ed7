/** Maps negative script return codes to typed errors, from the one table of codes (return-codes.ts). */
import { ScriptRejectedError } from '../errors.js';
import { RETURN_CODES, type ReturnCode } from './return-codes.js';

const BY_VALUE = new Map<number, ReturnCode>(RETURN_CODES.map((c) => [c.value, c]));

/** Returns the result when it is not an error code; throws the mapped error otherwise. */
export function checkScriptResult(script: string, result: number): number {
  if (result >= 0) return result;
  const known = BY_VALUE.get(result);
  if (!known) throw new ScriptRejectedError('SCRIPT_UNKNOWN', `${script}: unknown return code ${result}`, false);
  const message = `${script}: ${known.meaning}`;
  const e = known.error;
  throw 'code' in e ? new e.class(e.code, message, e.retriable) : new e.class(message);
}
