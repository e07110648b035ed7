import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { UserEvent } from '../../src/domain/events.js';
import { ConfigError } from '../../src/errors.js';
import { loadConfig } from '../../src/config/config.js';
import { parseRecommenderConfig } from '../../src/stages/recommend/model/config.js';
import { loadRecommenderConfig } from '../../src/stages/recommend/model/load-config.js';
import { PRESET_NAMES, presetConfig } from '../../src/stages/recommend/model/presets.js';
import { Recommender } from '../../src/stages/recommend/model/recommender.js';

const DAY = 86_400_000;

function ev(userId: string, itemId: string, t: number, type: UserEvent['type'] = 'view'): UserEvent {
  return { eventId: `${userId}${itemId}${t}`, userId, type, eventTime: t, itemId, quantity: null, price: null, rating: null, sessionId: null, context: null, properties: {} };
}

/** Many users view a, b, c together; then u views a (and long ago b), and purchases c a year before. */
function world(): UserEvent[] {
  const out: UserEvent[] = [];
  let t = 0;
  for (let k = 0; k < 30; k++) for (const i of ['a', 'b', 'c', 'd']) out.push(ev(`w${k}`, i, (t += 1000)));
  out.push(ev('u', 'c', (t += 1000), 'purchase'));
  out.push(ev('u', 'b', (t += 1000)));
  out.push(ev('u', 'a', (t += 400 * DAY)));
  return out;
}

describe('recommender presets', () => {
  it('media excludes everything the user interacted with, whatever its type and age; retail does not', () => {
    const events = world();
    const now = events.at(-1)!.eventTime;
    const lists = Object.fromEntries(PRESET_NAMES.map((p) => {
      const rec = new Recommender(presetConfig(p));
      for (const e of events) rec.learn(e);
      return [p, rec.recommend('u', { n: 10, now }).map((r) => r.itemId)];
    }));
    // retail: the view of b a year ago and the purchase of c (past the 1-day window, buy-again due) may come back
    expect(lists.retail).toEqual(expect.arrayContaining(['b', 'c', 'd']));
    expect(lists.media).not.toContain('a');
    expect(lists.media).not.toContain('b');
    expect(lists.media).not.toContain('c');
    expect(lists.media).toContain('d');
  });

  it('retail is the defaults; media turns buy-again off and excludes consumed items', () => {
    expect(parseRecommenderConfig(presetConfig('retail'))).toEqual(parseRecommenderConfig({}));
    const media = parseRecommenderConfig(presetConfig('media'));
    expect(media.filters.excludeConsumed).toBe(true);
    expect(media.buyAgain.enabled).toBe(false);
    expect(() => presetConfig('films')).toThrow(/unknown recommender preset 'films': use retail or media/);
  });

  it('ATTUNE_RECOMMENDER_PRESET selects the preset and ATTUNE_RECOMMENDER_CONFIG is merged on top', () => {
    const dir = mkdtempSync(join(tmpdir(), 'attune-preset-'));
    const file = join(dir, 'rec.json');
    writeFileSync(file, JSON.stringify({ blend: { seedItems: 9 } }));
    const cfg = loadConfig({ ATTUNE_RECOMMENDER_PRESET: 'media', ATTUNE_RECOMMENDER_CONFIG: file });
    const rec = loadRecommenderConfig(cfg);
    expect(rec.filters.excludeConsumed).toBe(true);
    expect(rec.blend.seedItems).toBe(9);
    expect(loadRecommenderConfig({}).filters.excludeConsumed).toBe(false);
    expect(() => loadConfig({ ATTUNE_RECOMMENDER_PRESET: 'films' })).toThrow(ConfigError);
    writeFileSync(file, '[1, 2]');
    expect(() => loadRecommenderConfig({ recommenderConfig: file })).toThrow(/must hold one JSON object/);
  });

  it('the profile weight reaches neighbours of items older than the seeds; without it they are not candidates', () => {
    // x and y always go together; u saw x long ago, then 6 unrelated items (the seeds are the newest 5)
    const events: UserEvent[] = [];
    let t = 0;
    for (let k = 0; k < 20; k++) for (const i of ['x', 'y']) events.push(ev(`w${k}`, i, (t += 1000)));
    for (let k = 0; k < 20; k++) for (const i of ['p', 'q']) events.push(ev(`v${k}`, `${i}${k % 6}`, (t += 1000)));
    events.push(ev('u', 'x', (t += 1000)));
    for (let k = 0; k < 6; k++) events.push(ev('u', `p${k}`, (t += 1000)));
    const listOf = (profileWeight: number) => {
      const rec = new Recommender({ blend: { profileWeight, trending: 0 }, filters: { excludeConsumed: true }, buyAgain: { enabled: false } });
      for (const e of events) rec.learn(e);
      return rec.recommend('u', { n: 10, now: t }).map((r) => r.itemId);
    };
    expect(listOf(0)).not.toContain('y');
    expect(listOf(1)).toContain('y');
    expect(parseRecommenderConfig(presetConfig('media')).blend.profileWeight).toBeGreaterThan(0);
  });
});
