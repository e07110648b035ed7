/**
 * The placeholder recommendation strategy (pure): the most popular items the user has not purchased,
 * each with the reason why. The recommender core replaces it.
 */
import type { RecommendedItem } from '../domain/events.js';

export interface PopularItem {
  itemId: string;
  count: number;
}

export function recommendPopular(
  popular: PopularItem[],
  purchased: ReadonlySet<string>,
  n: number,
  titles: ReadonlyMap<string, string> = new Map(),
): RecommendedItem[] {
  const out: RecommendedItem[] = [];
  // Ties broken by item id so the list does not depend on how the store orders equal scores.
  const ranked = [...popular].sort((a, b) => b.count - a.count || (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
  const top = ranked[0]?.count || 1;
  for (const p of ranked) {
    if (out.length >= n) break;
    if (purchased.has(p.itemId)) continue;
    const name = titles.get(p.itemId);
    out.push({
      itemId: p.itemId,
      score: Math.round((p.count / top) * 1e6) / 1e6,
      reasons: [{ kind: 'popular', text: `popular: bought ${p.count} times${name ? ` (${name})` : ''}`, relatedItemId: null }],
    });
  }
  return out;
}
