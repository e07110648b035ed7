/**
 * A private Prometheus for one test: Debian's `prometheus` binary (installed by scripts/services.sh up prometheus,
 * or ATTUNE_PROMETHEUS_BIN), on a free loopback port, scraping the given /metrics targets every second, with its
 * data in a temporary folder that is removed on stop. Tests that need live figures use it instead of the shared
 * instance on 9090, whose targets are the demo's workers.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './env.js';

export const PROMETHEUS_BIN = process.env.ATTUNE_PROMETHEUS_BIN ?? 'prometheus';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface PrometheusProcess {
  url: string;
  stop(): Promise<void>;
}

export async function startPrometheus(targets: string[]): Promise<PrometheusProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'attune-prometheus-'));
  writeFileSync(join(dir, 'prometheus.yml'), [
    'global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: attune', '    scrape_timeout: 900ms',
    '    static_configs:', `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`, '',
  ].join('\n'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let out = '';
  const child = spawn(PROMETHEUS_BIN, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const spawnError = new Promise<never>((_, reject) => child.once('error', (err) => reject(new Error(
    `cannot start ${PROMETHEUS_BIN} (${err.message}): run bash scripts/services.sh up prometheus (it installs Debian's prometheus), or set ATTUNE_PROMETHEUS_BIN`))));
  const stop = async () => {
    // A binary that never started (ENOENT) may emit no 'exit': there is nothing to wait for.
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([spawnError, waitFor(async () => (await fetch(`${url}/-/ready`).catch(() => null))?.ok, `Prometheus ready on ${url}`, 30_000)]);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${out.slice(-2000)}`);
  }
  return { url, stop };
}
