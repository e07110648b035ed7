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

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
  } catch {
    return '';
  }
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
      // Transform every file afresh, so that tsx's esbuild service (a helper process) is surely running.
      TSX_DISABLE_CACHE: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  markers.push(marker);
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

// A failed assertion must not leave a waiting worker behind: end what this file started (found by its marker, which
// every descendant inherits, orphans included), by pid.
const markers: string[] = [];
afterEach(() => {
  for (const m of markers.splice(0)) {
    for (const p of processesWith(m)) {
      try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ }
    }
  }
});

describe('bin/attune.js runs in-process', () => {
  it('runs no second node process, and SIGKILL leaves nothing behind', async () => {
    const marker = `attune-bin-${randomBytes(6).toString('hex')}`;
    const w = startWaitingWorker(marker);
    await until(() => /Redis not reachable at start-up; waiting/.test(w.output()), 'the worker to wait for Redis');
    // The only helper is tsx's esbuild service, which exits when its parent's pipe closes; the CLI runs in this pid.
    const helpers = childrenOf(w.child.pid!).map(cmdline);
    for (const c of helpers) expect(c).toMatch(/esbuild.* --service/);
    expect(processesWith(marker).sort()).toEqual([w.child.pid!, ...childrenOf(w.child.pid!)].sort());
    w.child.kill('SIGKILL');
    expect(await w.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The relaying wrapper left its tsx child waiting for Redis for minutes; in-process, everything goes at once.
    await until(() => processesWith(marker).length === 0, 'every process of the killed CLI to be gone', 5_000);
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
