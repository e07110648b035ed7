/**
 * A generated shop for the valid side of the fuzz run: a catalog, users with sessions that walk a funnel (view →
 * click → add to cart → purchase, now and then a rating or a removal), and the nasty-but-legal ids that must reach
 * only their own state. Deterministic for a seed.
 *
 * Event times follow the wall clock: each valid event is stamped when it is produced (a second behind the clock,
 * strictly increasing), as live traffic is. So the partition watermark sits at the wall clock, and the events a few
 * misconfigured clients send 23 h ahead (VALID: inside ATTUNE_MAX_FUTURE_MS) are exactly what the watermark clamp must
 * absorb; the late events of the hostile side are hours behind that watermark. Each skewed client's events are all
 * ahead, so every user's own events stay in time order (the offline checks learn them in that order).
 */
import type { CatalogItem, UserEvent } from '../../src/domain/events.js';
// The seeded PRNG (mulberry32) shared with the chaos run.
import { rng } from '../../test/support/rng.js';
export { rng };


export type Rand = () => number;
export const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
export const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/**
 * Ids that are legal but dangerous where code uses ids as object keys, hash fields next to reserved fields, key
 * names with hash tags, or SCAN/KEYS patterns. `eventsTopic` makes the ids that imitate an applied-offset field of
 * this very run (`o:<topic>:<partition>`).
 */
export function nastyIds(eventsTopic: string): string[] {
  return [
    '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '_n', 's', 'seg', 'due',
    `o:${eventsTopic}:0`, `o:${eventsTopic}:1`, `o:${eventsTopic}:2`, `lc:${eventsTopic}:0`,
    '{u:c10001}', '}', '{', '{}', 'a}b{c', 'a:b:c', ':', '*', '?', '[', '[a-z]*', 'x*y?z[', '\\', '%s%d', '${x}',
    'null', 'undefined', 'NaN', '-1', 'a b', 'ünïcødé-ß', '用户-商品', '👩‍💻🛒', 'עברית', 'e\u0301',
  ];
}

/** Category names that are Object.prototype members (affinity maps keyed by plain objects break on them). */
const NASTY_CATEGORIES = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
const CATEGORIES = ['home', 'kitchen', 'garden', 'toys', 'party', 'gifts', 'lighting', 'bags', 'stationery', 'christmas'];
const WORDS = ['WHITE', 'HANGING', 'HEART', 'T-LIGHT', 'HOLDER', 'RED', 'RETROSPOT', 'CAKE', 'CASES', 'LUNCH', 'BAG', 'VINTAGE', 'JUMBO', 'SET', 'OF', '3', 'PAPER', 'CHAIN', 'KIT'];
export const COUNTRIES = ['GB', 'FR', 'DE', 'NL', 'IE', 'ES', 'US', 'AU', 'JP', 'BR'];
const DEVICES = ['mobile', 'desktop', 'tablet'];
const REFERRERS = ['https://www.google.com/', 'https://newsletter.example/', null, 'https://instagram.com/'];
const AGENTS = ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/130.0'];

interface UserState {
  id: string;
  session: number;
  /** Step of the funnel of the current session: the item looked at, how far it got. */
  item: string | null;
  step: number;
  cart: string[];
  /** Ahead of the wall clock by this many ms (a misconfigured client); 0 for most. */
  skewMs: number;
  events: number;
}

export interface ShopOptions {
  seed: number;
  eventsTopic: string;
  users?: number;
  items?: number;
  /** How far ahead the skewed clients' clocks are (ms). */
  skewMs: number;
}

export class Shop {
  readonly catalog: CatalogItem[];
  readonly users: UserState[];
  readonly nasty: string[];
  private readonly r: Rand;
  private lastTime = 0;
  private lastSkewTime = 0;
  private seq = 0;
  /** Users with at least one valid event produced (hostile records reuse their ids and partitions). */
  readonly active: string[] = [];
  private readonly activeSet = new Set<string>();

  constructor(readonly opt: ShopOptions) {
    this.r = rng(opt.seed);
    this.nasty = nastyIds(opt.eventsTopic);
    const nItems = opt.items ?? 300;
    const itemIds = [...Array.from({ length: nItems }, (_, i) => `${84000 + i * 7}${i % 5 === 0 ? 'B' : ''}`), ...this.nasty];
    this.catalog = itemIds.map((itemId, i) => this.item(itemId, i));
    const nUsers = opt.users ?? 400;
    const userIds = [...Array.from({ length: nUsers }, (_, i) => `c${10000 + i}`), ...this.nasty];
    this.users = userIds.map((id, i) => ({ id, session: 0, item: null, step: 0, cart: [], skewMs: i % 50 === 7 ? opt.skewMs : 0, events: 0 }));
  }

  private item(itemId: string, i: number): CatalogItem {
    const r = this.r;
    const cats = [pick(r, CATEGORIES)];
    if (i % 9 === 0) cats.push(pick(r, NASTY_CATEGORIES));
    if (r() < 0.3) cats.push(pick(r, CATEGORIES));
    return {
      itemId,
      title: Array.from({ length: int(r, 2, 6) }, () => pick(r, WORDS)).join(' '),
      categories: [...new Set(cats)],
      tags: r() < 0.5 ? [pick(r, ['new', 'sale', 'bestseller', 'eco'])] : [],
      price: Math.round(r() * 5000) / 100,
      available: r() > 0.05,
      deleted: false,
      updatedAt: Date.now() - int(r, 0, 86_400_000),
    };
  }

  /** A later version of a catalog item (price or title change), as a valid catalog update. */
  update(): CatalogItem {
    const base = pick(this.r, this.catalog);
    const next = { ...base, price: Math.round(this.r() * 5000) / 100, updatedAt: Date.now() };
    if (this.r() < 0.3) next.title = `${base.title} (new)`;
    return next;
  }

  /** The next valid event, stamped against the wall clock now. */
  next(): UserEvent {
    const r = this.r;
    // Nasty users and skewed users take part like everyone else (a tenth of the events), the rest are regulars.
    const u = r() < 0.1 ? this.users[this.users.length - 1 - Math.floor(r() * this.nasty.length)]! : pick(r, this.users);
    if (u.item === null || r() < 0.15) {
      u.session++;
      u.item = pick(r, this.catalog).itemId;
      u.step = 0;
    }
    let type: UserEvent['type'];
    let itemId = u.item;
    const roll = r();
    if (u.step === 0 || roll < 0.35) type = 'view';
    else if (roll < 0.55) type = 'click';
    else if (roll < 0.7) { type = 'add_to_cart'; u.cart.push(itemId); }
    else if (roll < 0.75 && u.cart.length) { type = 'remove_from_cart'; itemId = u.cart.pop()!; }
    else if (roll < 0.9) { type = 'purchase'; if (u.cart.length) itemId = u.cart.shift()!; }
    else type = 'rating';
    u.step++;
    if (r() < 0.2) u.item = pick(r, this.catalog).itemId;
    const item = this.catalog.find((c) => c.itemId === itemId);
    const now = Date.now();
    let eventTime: number;
    if (u.skewMs) eventTime = this.lastSkewTime = Math.max(this.lastSkewTime + 1, now + u.skewMs);
    else eventTime = this.lastTime = Math.max(this.lastTime + 1, now - 1000);
    u.events++;
    if (!this.activeSet.has(u.id)) { this.activeSet.add(u.id); this.active.push(u.id); }
    return {
      eventId: `ev-${this.opt.seed}-${++this.seq}`,
      userId: u.id,
      type,
      eventTime,
      itemId,
      quantity: type === 'purchase' || type === 'add_to_cart' ? int(r, 1, 4) : null,
      price: type === 'purchase' ? (item?.price ?? 1) : null,
      rating: type === 'rating' ? int(r, 1, 5) : null,
      sessionId: `s-${u.id}-${u.session}`,
      context: r() < 0.8 ? { device: pick(r, DEVICES), country: pick(r, COUNTRIES), referrer: pick(r, REFERRERS), userAgent: pick(r, AGENTS) } : null,
      properties: r() < 0.5 ? { page: `/p/${itemId}`, utm_source: pick(r, ['newsletter', 'search', 'social']) } : {},
    };
  }

  /** A user who already sent a valid event (so a record keyed by them lands behind their events). */
  activeUser(): string {
    return this.active.length ? pick(this.r, this.active) : this.users[0]!.id;
  }

  /** An active user whose clock is right, or null before there is one. */
  activeRegularUser(): string | null {
    for (let i = 0; i < 20 && this.active.length; i++) {
      const u = pick(this.r, this.active);
      if (!this.isSkewed(u)) return u;
    }
    return this.active.find((u) => !this.isSkewed(u)) ?? null;
  }

  /** True for users whose clock is ahead. */
  isSkewed(userId: string): boolean {
    return this.users.find((u) => u.id === userId)?.skewMs !== 0;
  }
}
