/** Runs `attune worker` as a real child process, for tests that kill it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Config } from '../../src/config/config.js';
import { SETTINGS } from '../../src/config/config.js';

const ROOT = join(import.meta.dirname, '../..');

export function configEnv(cfg: Config): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, s] of Object.entries(SETTINGS)) {
    const v = (cfg as Record<string, unknown>)[name];
    if (v === undefined) continue;
    env[s.env] = Array.isArray(v) ? v.join(',') : String(v);
  }
  return env;
}

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnWorker(cfg: Config, extraEnv: Record<string, string> = {}): WorkerProcess {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'worker'], {
    cwd: ROOT,
    env: { ...process.env, ...configEnv(cfg), ATTUNE_LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, output: () => out, exited };
}
