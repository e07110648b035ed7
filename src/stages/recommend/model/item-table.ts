/**
 * What the recommender knows of each interned item besides its counts: whether it may be recommended (the
 * catalog's availability and the category filters), its first category (trending scope, diversity), its catalog
 * categories and its title (reasons). `intern` is the one way an item id from input enters the model: it interns
 * within limits.maxItems and grows these tables with it, so no caller can intern an id and forget its table slots.
 */
import type { CatalogItem } from '../../../domain/events.js';
import type { RecommenderConfig } from './config.js';
import type { IdInterner } from './interner.js';
import { doubledPast, grownTo } from './grow.js';

export class ItemTable {
  private blocked = new Uint8Array(1024);
  private category = new Int32Array(1024).fill(-1);
  private readonly catalogCategories: string[][] = [];
  private readonly titles: (string | null)[] = [];

  constructor(
    private readonly ids: IdInterner,
    private readonly categories: IdInterner,
    private readonly filters: RecommenderConfig['filters'],
  ) {}

  /** The item's interned id, allocated on first sight; -1 past limits.maxItems (counted by `ids.refused`). */
  intern(itemId: string): number {
    const id = this.ids.tryIntern(itemId);
    if (id >= 0) this.ensure(id);
    return id;
  }

  /** Records a catalog item; returns its id (-1 past the cap) and whether it is gone (unavailable or deleted). */
  describe(item: CatalogItem): { id: number; gone: boolean } {
    const id = this.intern(item.itemId);
    if (id < 0) return { id, gone: false };
    const f = this.filters;
    const cats = item.categories;
    const excluded =
      cats.some((c) => f.excludeCategories.includes(c)) ||
      (f.includeCategories.length > 0 && !cats.some((c) => f.includeCategories.includes(c)));
    const gone = !item.available || item.deleted;
    this.blocked[id] = gone || excluded ? 1 : 0;
    this.category[id] = cats.length > 0 ? this.categories.tryIntern(cats[0]) : -1;
    this.catalogCategories[id] = cats;
    this.titles[id] = item.title;
    return { id, gone };
  }

  isBlocked(id: number): boolean {
    return id < this.blocked.length && this.blocked[id] === 1;
  }

  /** The item's first catalog category (interned), -1 when it has none or is not described. */
  categoryOf(id: number): number {
    return id < this.category.length ? this.category[id] : -1;
  }

  /** The item's catalog categories (undefined for an item the catalog has not described). */
  catalogCategoriesOf(id: number): string[] | undefined {
    return this.catalogCategories[id];
  }

  /** The item's title, or its id when the catalog gave none. */
  labelOf(id: number): string {
    return this.titles[id] ?? this.ids.name(id);
  }

  private ensure(i: number): void {
    if (i < this.blocked.length) return;
    const n = doubledPast(this.blocked.length, i);
    this.blocked = grownTo(this.blocked, n);
    this.category = grownTo(this.category, n, -1);
  }
}
