/** autocannon ships no type declarations: the part of its programmatic API bench/api.ts uses. */
declare module 'autocannon' {
  interface Request { method?: string; path: string; headers?: Record<string, string> }
  interface Options { url: string; connections?: number; duration?: number; pipelining?: number; requests?: Request[]; headers?: Record<string, string> }
  interface Histogram { average: number; mean: number; p50: number; p90: number; p99: number; max: number }
  export interface Result {
    requests: Histogram & { total: number; sent: number };
    latency: Histogram;
    throughput: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
    duration: number;
    statusCodeStats: Record<string, { count: number }>;
    '2xx': number;
  }
  function autocannon(opts: Options): Promise<Result>;
  export default autocannon;
}
