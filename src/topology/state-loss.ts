/**
 * The state-loss policy (ATTUNE_ON_STATE_LOSS): a lost state (-40: a slot's guard is gone) halts the worker with
 * exit 3, or is rebuilt; a state rebuilt by another worker (-41) restarts this one in-process on the new state.
 * Nothing more is applied or committed once either is seen.
 */
import type { Metrics } from '../metrics/metrics.js';
import { errorMessage, StateLostError, StateRebuiltError } from '../errors.js';
import { log } from '../log.js';

export interface StateLossDeps {
  policy: 'halt' | 'rebuild';
  metrics: Metrics;
  /** Wipes what is left and bootstraps a new epoch (bootstrap.ts). */
  rebuild(): Promise<void>;
  /** Stops the worker with RESTART (start again in-process). */
  restart(): Promise<void>;
  exit(code: number): void;
  isStopping(): boolean;
}

export function isStateError(err: unknown): err is StateLostError | StateRebuiltError {
  return err instanceof StateLostError || err instanceof StateRebuiltError;
}

export class StateLoss {
  private recovering = false;
  constructor(private readonly d: StateLossDeps) {}

  handle(err: StateLostError | StateRebuiltError, where: string): void {
    const { d } = this;
    if (this.recovering || d.isStopping()) return;
    this.recovering = true;
    if (err instanceof StateLostError && d.policy === 'halt') {
      // Never continue on state that is gone: stop, so that nothing more is applied or committed.
      log.fatal({ where, err: errorMessage(err) }, 'state lost; exiting with code 3 (ATTUNE_ON_STATE_LOSS=halt)');
      d.exit(3);
      return;
    }
    const reason = err instanceof StateLostError ? 'lost' : 'rebuilt';
    d.metrics.stateResets.inc({ reason });
    log.error({ where, err: errorMessage(err) }, reason === 'lost' ? 'state lost; rebuilding it and restarting' : 'state rebuilt by another worker; restarting');
    void (async () => {
      try {
        if (reason === 'lost') await d.rebuild();
      } catch (e) {
        log.fatal({ err: errorMessage(e) }, 'state rebuild failed; exiting with code 3');
        d.exit(3);
        return;
      }
      await d.restart();
    })();
  }

  /** A failed side job of a partition (rules re-evaluation, punctuation): logged, unless the state is gone. */
  sideJobFailed(err: unknown, where: string, what: string): void {
    if (isStateError(err)) this.handle(err, where);
    else log.warn({ where, err: errorMessage(err) }, what);
  }
}
