/**
 * Live figures from Prometheus' HTTP API (ATTUNE_PROMETHEUS_URL): PromQL over the workers' metrics (src/metrics/metrics.ts:
 * attune_events_total, attune_consumer_lag_records/_seconds, attune_freshness_seconds). The API asks
 * Prometheus rather than the workers so that every worker counts, and the figures are the ones alerts see.
 */
import { ServiceUnavailable, type LivePoint, type LiveView } from './readers.js';

/** The queries, by what they measure (kept together: the ops page and docs/api.md describe these). */
export const LIVE_QUERIES = {
  eventsPerSecond: 'sum(rate(attune_events_total[1m]))',
  lagRecords: 'sum(attune_consumer_lag_records)',
  lagSeconds: 'max(attune_consumer_lag_seconds)',
  freshness: (q: number, since: 'append_time' | 'event_time') =>
    `histogram_quantile(${q}, sum by (le) (rate(attune_freshness_seconds_bucket{since="${since}"}[5m])))`,
} as const;

const RANGE_SECONDS = 900;
const STEP_SECONDS = 15;

type Sample = [number, string];
interface PromAnswer {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: Array<{ value?: Sample; values?: Sample[] }> };
}

/** A sample's value; NaN and ±Inf (an empty histogram, a division by zero) read as null. */
function num(s: Sample | undefined): number | null {
  if (!s) return null;
  const v = Number(s[1]);
  return Number.isFinite(v) ? v : null;
}

export class PrometheusLive {
  constructor(private readonly baseUrl: string, private readonly timeoutMs = 2_000, private readonly fetchFn: typeof fetch = fetch) {}

  private async get(path: string, params: Record<string, string>): Promise<PromAnswer> {
    const url = `${this.baseUrl.replace(/\/+$/, '')}${path}?${new URLSearchParams(params)}`;
    let res: Response;
    try {
      res = await this.fetchFn(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new ServiceUnavailable(`Prometheus at ${this.baseUrl} does not answer (${(err as Error).message}): start it (scripts/services.sh up prometheus) or set ATTUNE_PROMETHEUS_URL`);
    }
    const body = (await res.json().catch(() => null)) as PromAnswer | null;
    if (!body || body.status !== 'success') {
      throw new ServiceUnavailable(`Prometheus at ${this.baseUrl} refused a query (HTTP ${res.status}: ${body?.error ?? 'no JSON answer'}): is ATTUNE_PROMETHEUS_URL a Prometheus?`);
    }
    return body;
  }

  private async instant(query: string): Promise<number | null> {
    return num((await this.get('/api/v1/query', { query })).data?.result[0]?.value);
  }

  private async range(query: string, end: number): Promise<LivePoint[]> {
    const a = await this.get('/api/v1/query_range', { query, start: String(end - RANGE_SECONDS), end: String(end), step: String(STEP_SECONDS) });
    return (a.data?.result[0]?.values ?? []).map((s) => ({ t: s[0] * 1000, v: num(s) }));
  }

  async live(): Promise<LiveView> {
    const now = Math.floor(Date.now() / 1000);
    const [eventsPerSecond, records, seconds, a50, a99, e50, e99, eps, lag, f99] = await Promise.all([
      this.instant(LIVE_QUERIES.eventsPerSecond),
      this.instant(LIVE_QUERIES.lagRecords),
      this.instant(LIVE_QUERIES.lagSeconds),
      this.instant(LIVE_QUERIES.freshness(0.5, 'append_time')),
      this.instant(LIVE_QUERIES.freshness(0.99, 'append_time')),
      this.instant(LIVE_QUERIES.freshness(0.5, 'event_time')),
      this.instant(LIVE_QUERIES.freshness(0.99, 'event_time')),
      this.range(LIVE_QUERIES.eventsPerSecond, now),
      this.range(LIVE_QUERIES.lagRecords, now),
      this.range(LIVE_QUERIES.freshness(0.99, 'append_time'), now),
    ]);
    return {
      eventsPerSecond,
      lag: { records, seconds },
      freshness: { appendTime: { p50: a50, p99: a99 }, eventTime: { p50: e50, p99: e99 } },
      series: { eventsPerSecond: eps, lagRecords: lag, freshnessP99: f99 },
      at: now * 1000,
    };
  }
}
