/**
 * `bin/attune.js` runs the CLI in its own process (tsx registered in-process): SIGKILLing it leaves nothing
 * behind, and signals and exit codes are what they were when it relayed them to a child.
 * The long-running command is a worker waiting at start-up for a Redis that is not there (no service needed).
 */
import { describe, it, expect, afterEach } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const ROOT = join(import.meta.dirname, '../..');

/** Pids of live processes whose environment holds `marker` (any descendant inherits it). */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/environ`, 'latin1').includes(marker)) out.push(Number(d));
    } catch { /* gone meanwhile, or not ours */ }
  }
  return out;
}

/** Pids whose parent is `pid` (field 4 of /proc/<pid>/stat, after the parenthesised command name). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

function startWaitingWorker(marker: string) {
  let out = '';
  const child = spawn(process.execPath, [join(ROOT, 'bin/attune.js'), 'worker'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ATTUNE_TEST_MARKER: marker,
      ATTUNE_REDIS_URL: 'redis://127.0.0.1:9',
      ATTUNE_REDIS_CLUSTER_NODES: '',
      ATTUNE_REDIS_STARTUP_WAIT_MS: '120000',
      ATTUNE_HTTP_PORT: '0',
      ATTUNE_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child.pid!);
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, exited, output: () => out };
}

async function until(check: () => boolean, what: string, ms = 30_000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// A failed assertion must not leave a waiting worker behind: end what this file started, by pid.
const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    for (const p of [pid, ...childrenOf(pid)]) {
      try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
});

describe('bin/attune.js runs in-process', () => {
  it('has no child process, and SIGKILL leaves no orphan', async () => {
    const marker = `attune-bin-${randomBytes(6).toString('hex')}`;
    const w = startWaitingWorker(marker);
    await until(() => /Redis not reachable at start-up; waiting/.test(w.output()), 'the worker to wait for Redis');
    expect(processesWith(marker)).toEqual([w.child.pid]);
    expect(childrenOf(w.child.pid!)).toEqual([]);
    w.child.kill('SIGKILL');
    expect(await w.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await new Promise((r) => setTimeout(r, 300));
    expect(processesWith(marker)).toEqual([]);
  });

  it('SIGTERM before the worker started exits 1, as the relaying wrapper did', async () => {
    const w = startWaitingWorker(`attune-bin-${randomBytes(6).toString('hex')}`);
    await until(() => /Redis not reachable at start-up; waiting/.test(w.output()), 'the worker to wait for Redis');
    w.child.kill('SIGTERM');
    expect(await w.exited).toEqual({ code: 1, signal: null });
  });

  it('keeps the CLI exit codes: 0 for a command that succeeds, 1 for a bad setting', () => {
    expect(execFileSync(process.execPath, [join(ROOT, 'bin/attune.js'), 'topology'], { cwd: ROOT, encoding: 'utf8' })).toMatch(/^flowchart LR/);
    let status: number | null = null;
    try {
      execFileSync(process.execPath, [join(ROOT, 'bin/attune.js'), 'topics'], { cwd: ROOT, env: { ...process.env, ATTUNE_PARTITIONS: 'many' }, stdio: 'pipe' });
    } catch (e) {
      status = (e as { status: number }).status;
      expect(String((e as { stderr: Buffer }).stderr)).toMatch(/ATTUNE_PARTITIONS="many" is invalid/);
    }
    expect(status).toBe(1);
  });
});
