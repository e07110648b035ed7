#!/usr/bin/env node
// Runs the TypeScript sources through tsx so that `attune` works from a clone without a build step. In-process
// (tsx's loader registered here, then the CLI imported), not as a child process: a wrapper that spawns a child
// leaves the child running as an orphan when the wrapper is SIGKILLed, and signals and exit codes would have to be
// relayed. Here there is one process, whose signal handlers and exit codes are the CLI's own.
import { register } from 'tsx/esm/api';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
register();
// As when the wrapper relayed signals to a child: a SIGINT/SIGTERM that no command handles (e.g. the worker before
// it started, or `attune replay`) ends the process with exit code 1. A command that installs its own handler (the
// worker drains and commits first) decides alone: this one then stays out of the way.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (process.listenerCount(sig) === 1) process.exit(1);
  });
}
await import(pathToFileURL(join(root, 'src/cli/main.ts')).href);
