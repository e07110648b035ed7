/**
 * `attune lag --wait` off a terminal: one plain line every 5 s, "lag N of M events, X events/s", and nothing
 * else however often it polls; on a terminal, a progress bar. Times are given, not waited for.
 */
import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { BarLagProgress, PlainLagProgress, formatLagLine, lagProgressFor, processedRate } from '../../src/cli/lag-progress.js';

describe('lag progress off a terminal', () => {
  it('prints one line per 5 s of samples, with the rate over that interval', () => {
    const lines: string[] = [];
    const p = new PlainLagProgress((l) => lines.push(l));
    // Polled every second for 12 s: 1,000 events end, 100 processed per second.
    for (let s = 0; s <= 12; s++) p.update({ lag: 1000 - 100 * s, end: 1000, at: 10_000 + s * 1000 });
    expect(lines).toEqual(['lag 500 of 1000 events, 100 events/s\n', 'lag 0 of 1000 events, 100 events/s\n']);
    p.stop();
    expect(lines).toHaveLength(2);
  });

  it('formats without carriage returns and counts events that arrived meanwhile', () => {
    expect(formatLagLine({ lag: 7, end: 20, at: 0 }, 12.6)).toBe('lag 7 of 20 events, 13 events/s');
    // 100 more events arrived and the lag went up by 40: 60 were processed in 2 s.
    expect(processedRate({ lag: 10, end: 100, at: 0 }, { lag: 50, end: 200, at: 2000 })).toBe(30);
    expect(processedRate({ lag: 10, end: 100, at: 5 }, { lag: 10, end: 100, at: 5 })).toBe(0);
  });

  it('chooses the plain lines for a stream that is not a terminal, the bar for one that is', () => {
    const pipe = new PassThrough() as unknown as NodeJS.WriteStream;
    expect(lagProgressFor(pipe)).toBeInstanceOf(PlainLagProgress);
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 100, cursorTo: () => true, clearLine: () => true, moveCursor: () => true }) as unknown as NodeJS.WriteStream;
    expect(lagProgressFor(tty)).toBeInstanceOf(BarLagProgress);
  });
});
