/**
 * Cuts items, in order, into consecutive chunks whose costs sum to at most `limit`; an item that costs more than
 * `limit` on its own is a chunk of its own (never split, never dropped). Produce requests cut by bytes
 * (kafka/chunk.ts) and Redis row calls cut by fields (stages/recommend/store.ts) are both this.
 */
export function chunkByCost<T>(items: readonly T[], cost: (item: T) => number, limit: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let total = 0;
  for (const item of items) {
    const c = cost(item);
    if (cur.length > 0 && total + c > limit) {
      out.push(cur);
      cur = [];
      total = 0;
    }
    cur.push(item);
    total += c;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
