#!/usr/bin/env node
/**
 * The `attune` command line. Each sub-command lives in src/cli/commands/<name>.ts and exports
 * `register(program)`, so adding a command never touches the others.
 */
import { Command } from 'commander';
import { register as registerWorker } from './commands/worker.js';
import { register as registerReplay } from './commands/replay.js';
import { register as registerEval } from './commands/eval.js';
import { register as registerTopics } from './commands/topics.js';
import { register as registerShow } from './commands/show.js';
import { register as registerLag } from './commands/lag.js';
import { register as registerReset } from './commands/reset.js';
import { register as registerSegments } from './commands/segments.js';
import { register as registerTopology } from './commands/topology.js';
import { register as registerApi } from './commands/api.js';
import { register as registerExperiments } from './commands/experiments.js';

const program = new Command();
program
  .name('attune')
  .description('Attune: real-time personalization worker (Kafka in, Redis state, recommendations out)')
  .showHelpAfterError();

registerWorker(program);
registerReplay(program);
registerEval(program);
registerTopics(program);
registerShow(program);
registerLag(program);
registerReset(program);
registerSegments(program);
registerTopology(program);
registerApi(program);
registerExperiments(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`attune: ${message}\n`);
  process.exit(1);
});
