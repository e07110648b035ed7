/**
 * A generated ratings data set of the one-time-consumption kind (films, books), for checking the media preset
 * where no such data ships: users with two or three favourite genres rate items without ever repeating one,
 * mostly in their genres, in a few sittings where the order of the ratings says little (as when people rate
 * what they have already seen). Item popularity is Zipf-like within a genre. Deterministic (seeded).
 *
 *   npx tsx bench/synthetic-ratings.ts [--out /tmp/ratings.csv] [--users 3000] [--items 2000] [--seed 1]
 *   node bin/attune.js eval /tmp/ratings.csv --user-col userId --item-col movieId --time-col timestamp \
 *     --rating-col rating --rating-threshold 4 --protocol discovery --preset media
 */
import { writeFileSync } from 'node:fs';
import { optionOf } from './args.js';

const opt = (name: string, def: string): string => optionOf(process.argv, name, def);
const out = opt('--out', '/tmp/ratings.csv');
const USERS = Number(opt('--users', '3000'));
const ITEMS = Number(opt('--items', '2000'));
const GENRES = 20;
let s = Number(opt('--seed', '1')) >>> 0;
const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);

// items: genre and a Zipf weight by rank within the genre
const byGenre: number[][] = Array.from({ length: GENRES }, () => []);
for (let i = 0; i < ITEMS; i++) byGenre[Math.floor(rnd() * GENRES)].push(i);
const cum = byGenre.map((items) => {
  let t = 0;
  return items.map((_, r) => (t += 1 / (r + 1)));
});
function pick(g: number): number {
  const c = cum[g];
  const x = rnd() * c[c.length - 1];
  let lo = 0;
  let hi = c.length - 1;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (c[m] < x) lo = m + 1;
    else hi = m;
  }
  return byGenre[g][lo];
}

const rows: string[] = ['userId,movieId,rating,timestamp'];
const YEAR_S = 365 * 86_400;
const START = 1_000_000_000;
for (let u = 0; u < USERS; u++) {
  const favourites = Array.from({ length: 2 + Math.floor(rnd() * 2) }, () => Math.floor(rnd() * GENRES));
  const n = Math.max(5, Math.round(Math.exp(3 + rnd() * 1.6))); // 20 … 100 ratings, long-tailed
  const seen = new Set<number>();
  const sittings = 1 + Math.floor(rnd() * 3);
  const sittingStart = Array.from({ length: sittings }, () => START + Math.floor(rnd() * YEAR_S)).sort((a, b) => a - b);
  for (let k = 0, tries = 0; k < n && tries < n * 20; tries++) {
    const fav = rnd() < 0.8;
    const g = fav ? favourites[Math.floor(rnd() * favourites.length)] : Math.floor(rnd() * GENRES);
    const item = pick(g);
    if (seen.has(item)) continue;
    seen.add(item);
    const rating = fav ? (rnd() < 0.8 ? 4 + Math.floor(rnd() * 2) : 3) : 1 + Math.floor(rnd() * 4);
    const t = sittingStart[Math.floor(rnd() * sittings)] + Math.floor(rnd() * 3600);
    rows.push(`${u},${item},${rating},${t}`);
    k++;
  }
}
writeFileSync(out, `${rows.join('\n')}\n`);
process.stderr.write(`wrote ${rows.length - 1} ratings of ${USERS} users on ${ITEMS} items to ${out}\n`);
