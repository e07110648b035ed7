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
