/**
 * The CI version of `npm run fuzz`: 20,000 hostile records of every kind (bench/fuzz/kinds.ts) interleaved with 4,000
 * valid events of a generated shop, on both input topics, into one `attune worker` child process. Passes only when
 * the worker stayed alive and kept progressing, every hostile record is in the DLQ once with its code, and the state
 * equals a clean reference run key by key and the input log by pure code (bench/fuzz/harness.ts). The seed is fixed
 * so that a failure replays (FUZZ_SEED overrides it; `npm run fuzz -- --seed N` runs the same input at full size).
 */
import { describe, expect, it } from 'vitest';
import { runFuzz } from '../../bench/fuzz/harness.js';
import { report } from '../../bench/fuzz/report.js';
import { log } from '../../src/log.js';

describe('fuzz: hostile input', () => {
  it('20,000 hostile records: worker alive, each in the DLQ once with its code, valid events applied exactly', async () => {
    log.level = 'fatal';
    const lines: string[] = [];
    const r = await runFuzz({
      records: 20_000, valid: 4_000, seed: Number(process.env.FUZZ_SEED) || 20261201,
      stallMs: 45_000, catchUpTimeoutMs: 150_000, log: (s) => lines.push(s),
    });
    console.log(`${lines.join('\n')}\n${report(r)}`);
    expect(r.kinds.filter((k) => k.count > 0).length).toBeGreaterThanOrEqual(20);
    // The violations, first the liveness one (it explains the rest): each names its kind or its check.
    expect(r.violations, `${r.violations.length} violations:\n${r.violations.slice(0, 12).join('\n')}`).toEqual([]);
  }, 360_000);
});
