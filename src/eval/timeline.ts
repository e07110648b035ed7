/**
 * The prequential metrics over the timeline: tested events binned by event time into windows of equal width
 * (a day by default). The series is bounded: when more than `maxWindows` windows hold events, the width doubles
 * and neighbouring windows merge (their counts and sums add), so a long or sparse timeline never grows the
 * series past the bound and every window keeps exact sums. Pure; the totals of runPrequential are computed
 * apart from it and do not depend on it.
 */

export interface TimelineWindow {
  /** Start of the window (ms since the epoch, UTC), inclusive. */
  start: number;
  /** End of the window, exclusive (start + width). */
  end: number;
  tested: number;
  hits10: number;
  /** Sum of the tested events' NDCG@10 in the window. */
  ndcgSum: number;
}

export interface TimelinePoint {
  start: number;
  end: number;
  tested: number;
  /** HR@10 and NDCG@10 of the window's own tested events (null: none tested). */
  hr10: number | null;
  ndcg10: number | null;
  /** HR@10 and NDCG@10 of every tested event up to the window's end (the last point equals the totals). */
  cumulativeHr10: number | null;
  cumulativeNdcg10: number | null;
}

export interface TimelineOptions {
  /** Width of a window at the start, ms (default one day). */
  windowMs?: number;
  /** The most windows kept (default 512, at least 2). */
  maxWindows?: number;
}

export const DAY_MS = 86_400_000;

export class TimelineBuckets {
  private width: number;
  private readonly max: number;
  /** window index (floor(time / width)) → window */
  private windows = new Map<number, TimelineWindow>();

  constructor(o: TimelineOptions = {}) {
    this.width = o.windowMs ?? DAY_MS;
    this.max = Math.max(2, o.maxWindows ?? 512);
    if (!(this.width > 0) || !Number.isFinite(this.width)) throw new RangeError(`timeline window must be a positive number of ms, got ${o.windowMs}`);
  }

  get windowMs(): number {
    return this.width;
  }

  /** Records one tested event at `time` (ms): a hit within the top 10 with its NDCG@10 (0 when no hit). */
  add(time: number, hit10: boolean, ndcg10: number): void {
    const key = Math.floor(time / this.width);
    let w = this.windows.get(key);
    if (!w) {
      w = { start: key * this.width, end: (key + 1) * this.width, tested: 0, hits10: 0, ndcgSum: 0 };
      this.windows.set(key, w);
      if (this.windows.size > this.max) {
        this.coarsen();
        // the window just made was merged into its wider one
        w = this.windows.get(Math.floor(time / this.width))!;
      }
    }
    w.tested++;
    if (hit10) w.hits10++;
    w.ndcgSum += ndcg10;
  }

  /** Doubles the width until the windows fit the bound, merging pairs of neighbours. */
  private coarsen(): void {
    while (this.windows.size > this.max) {
      this.width *= 2;
      const merged = new Map<number, TimelineWindow>();
      for (const w of this.windows.values()) {
        const key = Math.floor(w.start / this.width);
        const m = merged.get(key);
        if (m) {
          m.tested += w.tested;
          m.hits10 += w.hits10;
          m.ndcgSum += w.ndcgSum;
        } else merged.set(key, { start: key * this.width, end: (key + 1) * this.width, tested: w.tested, hits10: w.hits10, ndcgSum: w.ndcgSum });
      }
      this.windows = merged;
    }
  }

  /** The windows that hold tested events, in time order. */
  raw(): TimelineWindow[] {
    return [...this.windows.values()].sort((a, b) => a.start - b.start).map((w) => ({ ...w }));
  }

  /** The series with per-window and cumulative rates, in time order. */
  points(): TimelinePoint[] {
    let tested = 0;
    let hits = 0;
    let ndcg = 0;
    return this.raw().map((w) => {
      tested += w.tested;
      hits += w.hits10;
      ndcg += w.ndcgSum;
      return {
        start: w.start,
        end: w.end,
        tested: w.tested,
        hr10: w.tested ? w.hits10 / w.tested : null,
        ndcg10: w.tested ? w.ndcgSum / w.tested : null,
        cumulativeHr10: tested ? hits / tested : null,
        cumulativeNdcg10: tested ? ndcg / tested : null,
      };
    });
  }
}
