/**
 * Our Prometheus for a test: `bash scripts/services.sh up prometheus` (the repo's config and alert rules, Debian's
 * binary) with a state dir and port of the test's own, scraping the given worker addresses; queried through its
 * HTTP API. Scrape and rule evaluation every 5 s (ops/prometheus/prometheus.yml).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '../..');

export interface Sample { metric: Record<string, string>; value: [number, string] }
export interface ActiveAlert { labels: Record<string, string>; state: 'pending' | 'firing'; value: string }

export interface TestPrometheus {
  url: string;
  /** An instant query; throws with Prometheus' error when it refuses the expression. */
  query(expr: string): Promise<Sample[]>;
  /** The alerts pending or firing now (GET /api/v1/alerts). */
  alerts(): Promise<ActiveAlert[]>;
  /**
   * Waits until every target has been scraped successfully `n` times (a rate needs two samples on each side of a
   * change: a test that produces before the first scrape may have its whole burst land between two samples, or
   * before the first). On timeout the error names each target's health and last scrape error.
   */
  scraped(n?: number, timeoutMs?: number): Promise<void>;
  stop(): void;
}

/** A free TCP port on loopback (for a worker's /metrics or the Prometheus). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startPrometheus(targets: string[]): Promise<TestPrometheus> {
  const port = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), 'attune-prom-'));
  const env = { ...process.env, ATTUNE_STATE_DIR: stateDir, ATTUNE_PROMETHEUS_PORT: String(port), ATTUNE_PROMETHEUS_TARGETS: targets.join(',') };
  const services = (cmd: 'up' | 'down') =>
    execFileSync('bash', [join(ROOT, 'scripts/services.sh'), cmd, 'prometheus'], { env, encoding: 'utf8', timeout: 120_000 });
  const url = `http://127.0.0.1:${port}`;
  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; error?: string; data?: T };
    if (body.status !== 'success') throw new Error(`Prometheus refused ${decodeURIComponent(path)}: ${body.error}`);
    return body.data!;
  }
  try {
    services('up');
  } catch (err) {
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    query: async (expr) => (await api<{ result: Sample[] }>(`/api/v1/query?${new URLSearchParams({ query: expr })}`)).result,
    alerts: async () => (await api<{ alerts: ActiveAlert[] }>('/api/v1/alerts')).alerts,
    async scraped(n = 2, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const ok = (await api<{ result: Sample[] }>(`/api/v1/query?${new URLSearchParams({ query: 'sum_over_time(up[10m])' })}`)).result;
        if (ok.length === targets.length && ok.every((s) => Number(s.value[1]) >= n)) return;
        if (Date.now() > deadline) {
          const t = await api<{ activeTargets: Array<{ scrapeUrl: string; health: string; lastError: string }> }>('/api/v1/targets');
          throw new Error(`Prometheus ${url} did not scrape its targets ${n} times within ${timeoutMs} ms: ${JSON.stringify(t.activeTargets.map((a) => ({ url: a.scrapeUrl, health: a.health, lastError: a.lastError })))}`);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    },
    stop() {
      try {
        services('down');
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    },
  };
}
