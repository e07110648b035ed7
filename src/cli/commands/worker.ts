import type { Command } from 'commander';
import { configFrom, kafkaFor, serviceOptions } from '../shared.js';
import { startWorker, RESTART } from '../../topology/worker.js';
import { createMetrics } from '../../metrics/metrics.js';
import { log } from '../../log.js';

export function register(program: Command) {
  serviceOptions(program.command('worker'))
    .description('consume user events and the item catalog, keep state in Redis, emit recommendations')
    .option('--group <id>', 'consumer group id (ATTUNE_GROUP_ID)')
    .option('--http-port <port>', 'port of /metrics, /healthz, /readyz (ATTUNE_HTTP_PORT)')
    .action(async (opts) => {
      const cfg = configFrom(opts);
      // One registry for the process: an in-process restart keeps counting into it (see startWorker).
      const metrics = createMetrics();
      let worker = await startWorker(cfg, kafkaFor(cfg), metrics);
      let signals = 0;
      const onSignal = (sig: string) => {
        signals++;
        if (signals > 1) {
          log.warn({ sig }, 'second signal: exiting now');
          process.exit(130);
        }
        log.info({ sig }, 'stopping: finishing the in-flight micro-batch, committing, disconnecting');
        void worker.stop();
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      let code = await worker.done;
      // A lost or rebuilt state: the worker stopped itself to start again on the new state, from scratch.
      while (code === RESTART && signals === 0) {
        log.warn('restarting the worker on the new state');
        worker = await startWorker(cfg, kafkaFor(cfg), metrics);
        code = await worker.done;
      }
      if (code === RESTART) code = 0;
      log.info({ code }, 'worker stopped');
      process.exit(code);
    });
}
