import { describe, expect, it } from 'vitest';
import {
  deriveCategoriesAndTags,
  loadRetailDataset,
  parseRetailDate,
} from '../../src/data/online-retail.js';

const FILE = 'data/online-retail.csv.gz';

describe('online retail loader', () => {
  it('parses invoice dates as UTC', () => {
    expect(parseRetailDate('2010-12-01 08:26:00')).toBe(Date.UTC(2010, 11, 1, 8, 26));
  });

  it('derives categories (head noun via keyword map) and tags', () => {
    const d = deriveCategoriesAndTags('WHITE HANGING HEART T-LIGHT HOLDER');
    expect(d.categories[0]).toBe('candles & lights');
    expect(d.tags).toEqual(['white', 'hanging', 'heart', 't-light', 'holder']);
    expect(deriveCategoriesAndTags('SET OF 3 ZINC GNOMES').categories).toEqual(['gnomes']);
  });

  it('applies the evaluation protocol: 386,354 events, 4,335 users, 3,659 items', async () => {
    const { events, catalog } = await loadRetailDataset(FILE);
    expect(events.length).toBe(386_354);
    expect(new Set(events.map((e) => e.userId)).size).toBe(4_335);
    expect(new Set(events.map((e) => e.itemId)).size).toBe(3_659);
    const seen = new Set<string>();
    let tested = 0;
    for (let i = 0; i < events.length; i++) {
      if (i > 0) expect(events[i].eventTime).toBeGreaterThanOrEqual(events[i - 1].eventTime);
      if (seen.has(events[i].userId)) tested++;
      else seen.add(events[i].userId);
    }
    expect(tested).toBe(382_019);
    const first = events[0];
    expect(first).toMatchObject({
      eventId: '536365:85123A',
      userId: '17850',
      type: 'purchase',
      itemId: '85123A',
      quantity: 6,
      price: 2.55,
      sessionId: '536365',
      context: { country: 'GB' }, // the data set's 'United Kingdom', as an ISO 3166-1 alpha-2 code
    });
    expect(events.every((e) => !e.sessionId!.startsWith('C') && (e.quantity ?? 0) > 0)).toBe(true);
    const byId = new Map(catalog.map((c) => [c.itemId, c]));
    expect(byId.get('85123A')?.title).toBe('WHITE HANGING HEART T-LIGHT HOLDER');
    expect(byId.has('POST')).toBe(false);
    for (const e of events) expect(byId.has(e.itemId!)).toBe(true);
  }, 120_000);
});
