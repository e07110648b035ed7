/**
 * The negative return codes of the Lua commands: one table for both sides, so a code cannot mean one thing in
 * Lua and another in TypeScript. The loader (scripts.ts) defines each entry in every script as a local constant
 * (`local E_STATE_LOST = -40`); scripts return and their headers document codes by these names only, and
 * script-errors.ts maps a returned number back to the entry's error. test/unit/lua-return-codes.test.ts fails
 * on a numeric negative return in a script, or on a name a script or header uses that is not here.
 */
import { FencedError, ScriptRejectedError, StateLostError, StateRebuiltError } from '../errors.js';

/** The typed error a code becomes: one of the state errors, or a ScriptRejectedError with its own code. */
export type CodeError =
  | { readonly class: typeof StateLostError | typeof StateRebuiltError | typeof FencedError }
  | { readonly class: typeof ScriptRejectedError; readonly code: string; readonly retriable: boolean };

export interface ReturnCode {
  /** The Lua constant's name. */
  readonly name: string;
  readonly value: number;
  /** What it means: the error's message after "<script>: ". */
  readonly meaning: string;
  readonly error: CodeError;
}

const conflict = (code: string) => ({ class: ScriptRejectedError, code, retriable: true }) as const;

export const RETURN_CODES: readonly ReturnCode[] = [
  {
    name: 'E_BAD_ARGS',
    value: -1,
    meaning: 'the script could not parse its arguments (a bug in Attune)',
    error: { class: ScriptRejectedError, code: 'SCRIPT_BAD_ARGS', retriable: false },
  },
  {
    name: 'E_SEGMENT_USER_CONFLICT',
    value: -20,
    meaning: 'the user\'s feature state changed since it was read (another writer or a replay); the micro-batch is retried',
    error: conflict('SEGMENT_USER_CONFLICT'),
  },
  {
    name: 'E_SEGMENT_PARTITION_CONFLICT',
    value: -21,
    meaning: 'the partition\'s watermark changed since it was read (another writer or a replay); the micro-batch is retried',
    error: conflict('SEGMENT_PARTITION_CONFLICT'),
  },
  {
    name: 'E_REC_USER_CONFLICT',
    value: -30,
    meaning: 'the user\'s recommender state changed since it was read (another writer or a replay); the micro-batch is retried',
    error: conflict('REC_USER_CONFLICT'),
  },
  {
    name: 'E_STATE_LOST',
    value: -40,
    meaning:
      'state this worker relies on is gone (a slot\'s guard hash or a partition\'s progress it wrote is missing) — ' +
      'Redis restarted empty, was flushed or a node was replaced under the running worker. Never continuing on empty ' +
      'state: with ATTUNE_ON_STATE_LOSS=rebuild the worker rebuilds it from the retained input; with halt (the default) it stops (exit 3).',
    error: { class: StateLostError },
  },
  {
    name: 'E_STATE_REBUILT',
    value: -41,
    meaning: 'the state was rebuilt under a new epoch since this worker started; restarting on the new state',
    error: { class: StateRebuiltError },
  },
  {
    name: 'E_FENCED',
    value: -50,
    meaning: 'a newer owner of the partition has written; this worker was revoked and drops its stale work',
    error: { class: FencedError },
  },
];

/** The Lua lines that define every code as a local constant, in table order. */
export function luaReturnCodeConstants(): string {
  return RETURN_CODES.map((c) => `local ${c.name} = ${c.value}\n`).join('');
}
