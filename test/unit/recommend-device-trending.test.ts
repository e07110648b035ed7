import { describe, expect, it } from 'vitest';
import type { UserEvent } from '../../src/domain/events.js';
import { Recommender } from '../../src/stages/recommend/model/recommender.js';

function ev(userId: string, itemId: string, t: number, device: string | null, country: string | null = 'UK'): UserEvent {
  return {
    eventId: `${userId}${itemId}${t}`, userId, type: 'view', eventTime: t, itemId, quantity: null, price: null, rating: null, sessionId: null,
    context: { device, country, referrer: null, userAgent: null }, properties: {},
  };
}

/** Phones view the clips, TVs the films, both in the UK; the films are viewed most overall. */
function trained(limits = {}): Recommender {
  const rec = new Recommender({ limits });
  let t = 0;
  for (let k = 0; k < 40; k++) {
    rec.learn(ev(`tv${k}`, `film${k % 3}`, (t += 1000), 'tv'));
    rec.learn(ev(`tv${k}b`, `film${k % 3}`, (t += 1000), 'tv'));
    rec.learn(ev(`m${k}`, `clip${k % 3}`, (t += 1000), 'mobile'));
  }
  return rec;
}

describe('trending per device (the cold-start cascade)', () => {
  it('a new user on a phone gets what trends on phones first, with the reason; on a TV the films', () => {
    const rec = trained();
    const phone = rec.recommend('new', { n: 6, device: 'mobile', country: null });
    expect(phone.slice(0, 3).map((r) => r.itemId).sort()).toEqual(['clip0', 'clip1', 'clip2']);
    expect(phone[0].reasons[0].text).toBe('trending on mobile');
    const tv = rec.recommend('new', { n: 3, device: 'tv', country: null });
    expect(tv.map((r) => r.itemId).sort()).toEqual(['film0', 'film1', 'film2']);
    // no device: global trending, where the films lead
    expect(rec.recommend('new', { n: 3, country: null }).map((r) => r.itemId).sort()).toEqual(['film0', 'film1', 'film2']);
  });

  it('the country still ranks first; a device nobody learned falls through to the rest', () => {
    const rec = trained();
    for (let k = 0; k < 5; k++) rec.learn(ev(`fr${k}`, 'croissant', 10_000_000 + k, 'mobile', 'France'));
    const list = rec.recommend('new', { n: 4, device: 'mobile', country: 'France' });
    expect(list[0].itemId).toBe('croissant');
    expect(list[0].reasons[0].text).toBe('trending in France');
    expect(rec.recommend('new', { n: 3, device: 'fridge', country: null }).map((r) => r.itemId).sort()).toEqual(['film0', 'film1', 'film2']);
  });

  it('device scopes are bounded: past limits.maxDeviceScopes a new device gets none of its own', () => {
    const rec = trained({ maxDeviceScopes: 2 });
    for (let k = 0; k < 5; k++) rec.learn(ev(`w${k}`, 'watchface', 20_000_000 + k, 'watch'));
    expect(rec.trending.find('device:watch')).toBeUndefined();
    expect(rec.trending.find('device:tv')).toBeDefined();
  });
});

describe('trending per segment (the cold-start cascade)', () => {
  it('learns what the members of each segment interact with, and offers it to a member with little history', () => {
    const rec = new Recommender();
    let t = 0;
    // a batch where the big spenders buy the hampers and everyone else the mugs (the mugs win overall)
    const events: UserEvent[] = [];
    const segmentsOf = new Map<string, string[]>();
    for (let k = 0; k < 30; k++) {
      events.push(ev(`vip${k}`, `hamper${k % 2}`, (t += 1000), null, null));
      segmentsOf.set(`vip${k}`, ['big_spenders']);
      for (const m of ['mug0', 'mug1']) events.push(ev(`n${k}`, m, (t += 1000), null, null));
    }
    rec.learnBatch(events, segmentsOf);
    const member = rec.recommend('newcomer', { n: 2, segments: ['big_spenders'], country: null });
    expect(member.map((r) => r.itemId).sort()).toEqual(['hamper0', 'hamper1']);
    expect(member[0].reasons[0].text).toBe('trending in segment big_spenders');
    // not a member: global trending, the mugs
    expect(rec.recommend('other', { n: 2, country: null }).map((r) => r.itemId).sort()).toEqual(['mug0', 'mug1']);
    // a segment nobody's events were learned in: nothing of its own, global again
    expect(rec.recommend('x', { n: 2, segments: ['lapsed'], country: null }).map((r) => r.itemId).sort()).toEqual(['mug0', 'mug1']);
  });

  it('names the segment each candidate came from, and bounds the scopes', () => {
    const rec = new Recommender({ limits: { maxSegmentScopes: 2 } });
    let t = 0;
    const segmentsOf = new Map([['a', ['s1']], ['b', ['s2']], ['c', ['s3']]]);
    rec.learnBatch([ev('a', 'x1', ++t, null, null), ev('b', 'x2', ++t, null, null), ev('b', 'x2', ++t, null, null), ev('c', 'x3', ++t, null, null)], segmentsOf);
    const list = rec.recommend('new', { n: 2, segments: ['s1', 's2'], country: null });
    const reasonOf = Object.fromEntries(list.map((r) => [r.itemId, r.reasons[0].text]));
    expect(reasonOf).toEqual({ x1: 'trending in segment s1', x2: 'trending in segment s2' });
    expect(rec.trending.find('segment:s3')).toBeUndefined();
  });
});
