/**
 * Shutdown under one budget (ATTUNE_SHUTDOWN_TIMEOUT_MS): each step is awaited until it ends or the budget runs
 * out, whatever the step's outcome, and the time each took is logged.
 */
import { log } from '../log.js';

export interface Shutdown {
  /** Awaits `p` within the budget; records how long it took under `name`. */
  step(name: string, p: Promise<unknown>): Promise<void>;
  /** Logs the step times and clears the budget timer (stopped in time: no late warning). */
  finish(): void;
}

export function startShutdown(budgetMs: number): Shutdown {
  let budgetTimer: NodeJS.Timeout | undefined;
  const budget = new Promise<void>((r) => {
    budgetTimer = setTimeout(() => { log.warn('shutdown budget exceeded; disconnecting anyway'); r(); }, budgetMs).unref();
  });
  const took: Record<string, number> = {};
  return {
    async step(name, p) {
      const t0 = Date.now();
      await Promise.race([p, budget]).catch(() => {});
      took[name] = Date.now() - t0;
    },
    finish() {
      log.info({ ms: took }, 'stopped');
      clearTimeout(budgetTimer);
    },
  };
}
