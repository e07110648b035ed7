/**
 * How `attune lag --wait` shows its progress: a progress bar of processed / end on a terminal, and, when the
 * output is a file or a pipe (CI logs, `| tee`), one plain line every few seconds — never carriage returns or
 * a line per poll, which a log shows as hundreds of fragments.
 */
import { SingleBar, Presets } from 'cli-progress';

export interface LagSample {
  /** Events the group has not processed yet. */
  lag: number;
  /** Events in the topic (sum of the partitions' end offsets). */
  end: number;
  /** When the sample was taken (ms). */
  at: number;
}

export interface LagProgress {
  update(s: LagSample): void;
  stop(): void;
}

export const PLAIN_EVERY_MS = 5_000;

/** `lag N of M events, X events/s` (X: processed per second over the interval). */
export function formatLagLine(s: LagSample, eventsPerSecond: number): string {
  return `lag ${s.lag} of ${s.end} events, ${Math.round(eventsPerSecond)} events/s`;
}

/** Processed events per second between two samples (0 when no time passed). */
export function processedRate(from: LagSample, to: LagSample): number {
  const seconds = (to.at - from.at) / 1000;
  if (seconds <= 0) return 0;
  return Math.max(0, ((to.end - to.lag) - (from.end - from.lag)) / seconds);
}

/** One line per `everyMs`: the first once `everyMs` passed since the first sample, with the rate over that interval. */
export class PlainLagProgress implements LagProgress {
  private last: LagSample | null = null;
  constructor(private readonly write: (line: string) => void, private readonly everyMs = PLAIN_EVERY_MS) {}
  update(s: LagSample): void {
    if (this.last === null) { this.last = s; return; }
    if (s.at - this.last.at < this.everyMs) return;
    this.write(`${formatLagLine(s, processedRate(this.last, s))}\n`);
    this.last = s;
  }
  stop(): void {}
}

/** A cli-progress bar of processed / end events, with the rate since the previous sample. */
export class BarLagProgress implements LagProgress {
  private readonly bar: SingleBar;
  private started = false;
  private prev: LagSample | null = null;
  constructor(stream: NodeJS.WriteStream) {
    this.bar = new SingleBar({ format: 'lag [{bar}] {percentage}% | {value}/{total} events processed | {rate} events/s | {lag} behind', stream, hideCursor: true }, Presets.shades_classic);
  }
  update(s: LagSample): void {
    const processed = s.end - s.lag;
    const payload = { lag: s.lag, rate: this.prev ? Math.round(processedRate(this.prev, s)) : 0 };
    if (!this.started) {
      this.bar.start(Math.max(1, s.end), processed, payload);
      this.started = true;
    } else {
      this.bar.setTotal(Math.max(1, s.end));
      this.bar.update(processed, payload);
    }
    this.prev = s;
  }
  stop(): void {
    if (this.started) this.bar.stop();
    this.started = false;
  }
}

/** The bar when `stream` is a terminal, plain lines on it otherwise. */
export function lagProgressFor(stream: NodeJS.WriteStream): LagProgress {
  return stream.isTTY ? new BarLagProgress(stream) : new PlainLagProgress((line) => stream.write(line));
}
