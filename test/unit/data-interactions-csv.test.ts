import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadInteractionsCsv, parseTimeCell } from '../../src/data/interactions-csv.js';

const dir = mkdtempSync(join(tmpdir(), 'attune-csv-'));

describe('interaction CSV loader', () => {
  it('parses epoch seconds, milliseconds and ISO times', () => {
    expect(parseTimeCell('1700000000')).toBe(1_700_000_000_000);
    expect(parseTimeCell('1700000000123')).toBe(1_700_000_000_123);
    expect(parseTimeCell('2020-01-02 03:04:05')).toBe(Date.UTC(2020, 0, 2, 3, 4, 5));
    expect(parseTimeCell('2020-01-02T03:04:05+01:00')).toBe(Date.UTC(2020, 0, 2, 2, 4, 5));
  });

  it('keeps positive ratings and sorts by time, stable', async () => {
    const f = join(dir, 'ratings.csv');
    writeFileSync(f, 'user,item,rating,ts\nu1,a,5,300\nu1,b,2,100\nu2,c,4,100\nu2,d,4.5,200\n');
    const ev = await loadInteractionsCsv(f, { userColumn: 'user', itemColumn: 'item', timeColumn: 'ts', ratingColumn: 'rating', ratingThreshold: 4 });
    expect(ev.map((e) => e.itemId)).toEqual(['c', 'd', 'a']);
    expect(ev[0]).toMatchObject({ userId: 'u2', type: 'purchase', eventTime: 100_000, rating: 4 });
  });

  it('maps an event-type column and skips unknown types', async () => {
    const f = join(dir, 'events.csv');
    writeFileSync(f, 'visitor,item,event,t\n1,x,view,2020-01-01\n1,x,transaction,2020-01-02\n2,y,weird,2020-01-01\n2,y,addtocart,2020-01-01\n');
    const ev = await loadInteractionsCsv(f, {
      userColumn: 'visitor',
      itemColumn: 'item',
      timeColumn: 't',
      typeColumn: 'event',
      typeMap: { transaction: 'purchase', addtocart: 'add_to_cart' },
    });
    expect(ev.map((e) => [e.userId, e.type])).toEqual([
      ['1', 'view'],
      ['2', 'add_to_cart'],
      ['1', 'purchase'],
    ]);
  });
});
