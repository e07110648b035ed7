/** A throw-away redis-server on a spare port, for tests that break Redis (eviction policy, outages). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './env.js';

export interface TestRedis {
  port: number;
  url: string;
  pid: number;
  cli(...args: string[]): string;
  /** SIGSTOP: the process freezes, its sockets stay open (a hung or swapped Redis). */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  stop(): Promise<void>;
}

export async function startRedisServer(port: number, extra: string[] = []): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), `attune-redis-${port}-`));
  const pidfile = join(dir, 'redis.pid');
  const cli = (...args: string[]) => execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 5000 }).trim();
  // A leftover from a crashed earlier run would answer on the port: shut it down first.
  try { cli('shutdown', 'nosave'); } catch { /* nothing there */ }
  execFileSync('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes',
    '--pidfile', pidfile, '--dir', dir, '--logfile', join(dir, 'redis.log'), ...extra,
  ]);
  let pid = 0;
  for (let i = 0; i < 100 && !pid; i++) {
    try { if (cli('ping') === 'PONG') pid = Number(readFileSync(pidfile, 'utf8').trim()); } catch { /* starting */ }
    if (!pid) await sleep(50);
  }
  if (!pid) throw new Error(`redis-server on port ${port} did not start (see ${dir}/redis.log)`);
  return {
    port, url: `redis://127.0.0.1:${port}`, pid, cli,
    freeze: () => process.kill(pid, 'SIGSTOP'),
    thaw: () => process.kill(pid, 'SIGCONT'),
    stop: async () => {
      try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      for (let i = 0; i < 100; i++) {
        try { process.kill(pid, 0); } catch { break; }
        await sleep(50);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
