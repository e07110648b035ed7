/**
 * Injected crash points, for fault tests only: with ATTUNE_CRASH_AT=<point>:<n> the worker kills itself with
 * SIGKILL the n-th time it passes <point> — the places where a crash hurts most:
 *   after-dlq      dead letters produced, not yet recorded as produced
 *   after-apply    every state of a micro-batch applied in Redis, its outputs not yet produced
 *   after-produce  outputs produced, progress not yet written nor the offset committed
 *   bisect-rows    while a failed micro-batch is being bisected (isolation.ts, any partition): a sub-batch's
 *                  co-occurrence rows written, its users' states not (the window the in-flight cut set guards)
 * Unset (always, outside tests) it costs one comparison per micro-batch.
 */
export type CrashPoint = 'after-dlq' | 'after-apply' | 'after-produce' | 'bisect-rows';
/** Where the code calls crashPoint(); `after-rows` only counts for bisect-rows. */
export type CrashSite = Exclude<CrashPoint, 'bisect-rows'> | 'after-rows';

const spec = parse(process.env.ATTUNE_CRASH_AT);
let passes = 0;
let bisecting = false;

/** Isolation says when a bisection starts and ends (the bisect-rows point counts only inside one). */
export function markBisection(on: boolean): void {
  bisecting = on;
}

function parse(v: string | undefined): { point: CrashPoint; n: number } | null {
  if (!v) return null;
  const m = /^(after-dlq|after-apply|after-produce|bisect-rows):(\d+)$/.exec(v);
  if (!m) throw new Error(`ATTUNE_CRASH_AT must be <after-dlq|after-apply|after-produce|bisect-rows>:<n>, e.g. after-apply:3 (got ${v})`);
  return { point: m[1] as CrashPoint, n: Number(m[2]) };
}

export function crashPoint(point: CrashSite): void {
  if (spec === null) return;
  const matches = spec.point === point || (spec.point === 'bisect-rows' && point === 'after-rows' && bisecting);
  if (!matches) return;
  if (++passes === spec.n) {
    process.stderr.write(`ATTUNE_CRASH_AT: crashing at ${spec.point} (pass ${passes})\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
