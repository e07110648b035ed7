/**
 * The timer index of one partition in memory: a binary min-heap of [due time, user id] ordered by
 * (due, user id), so timers that fall due together fire in a deterministic order. Stale entries (a user
 * rescheduled since) are the caller's to skip.
 */
export class TimerHeap {
  private h: Array<[number, string]> = [];
  get size(): number { return this.h.length; }
  peek(): [number, string] | undefined { return this.h[0]; }

  private less(a: [number, string], b: [number, string]): boolean {
    return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  }

  push(due: number, id: string): void {
    const h = this.h;
    h.push([due, id]);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  pop(): [number, string] | undefined {
    const h = this.h;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
