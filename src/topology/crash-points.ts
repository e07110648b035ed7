/**
 * Injected crash points, for fault tests only: with ATTUNE_CRASH_AT=<point>:<n> the worker kills itself with
 * SIGKILL the n-th time it passes <point> — the places where a crash hurts most:
 *   after-dlq      dead letters produced, not yet recorded as produced
 *   after-apply    every state of a micro-batch applied in Redis, its outputs not yet produced
 *   after-produce  outputs produced, progress not yet written nor the offset committed
 * Unset (always, outside tests) it costs one comparison per micro-batch.
 */
export type CrashPoint = 'after-dlq' | 'after-apply' | 'after-produce';

const spec = parse(process.env.ATTUNE_CRASH_AT);
let passes = 0;

function parse(v: string | undefined): { point: CrashPoint; n: number } | null {
  if (!v) return null;
  const m = /^(after-dlq|after-apply|after-produce):(\d+)$/.exec(v);
  if (!m) throw new Error(`ATTUNE_CRASH_AT must be <after-dlq|after-apply|after-produce>:<n>, e.g. after-apply:3 (got ${v})`);
  return { point: m[1] as CrashPoint, n: Number(m[2]) };
}

export function crashPoint(point: CrashPoint): void {
  if (spec === null || spec.point !== point) return;
  if (++passes === spec.n) {
    process.stderr.write(`ATTUNE_CRASH_AT: crashing at ${point} (pass ${passes})\n`);
    process.kill(process.pid, 'SIGKILL');
  }
}
