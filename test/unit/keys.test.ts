import { describe, it, expect } from 'vitest';
import { Keys } from '../../src/stores/keys.js';
import { USER_OWNED } from '../../src/stores/user-owned.js';

/** The hash tag Redis Cluster hashes: the text between the first { and the next }. */
function hashTag(key: string): string {
  const s = key.indexOf('{');
  const e = key.indexOf('}', s + 1);
  return s >= 0 && e > s + 1 ? key.slice(s + 1, e) : key;
}

describe('Keys', () => {
  const k = new Keys('attune');
  it('puts all of a user\'s keys in one slot', () => {
    const keys = [k.userCounts('42'), k.userRecent('42'), k.userPurchased('42'), k.userApplied('42'), k.userRecommendations('42')];
    expect(new Set(keys.map(hashTag))).toEqual(new Set(['u:42']));
    expect(new Set(keys).size).toBe(keys.length);
  });
  it('puts every key the user-owned registry declares as the user\'s in that slot', () => {
    const keys = USER_OWNED.filter((e) => e.kind === 'user-key').map((e) => (k[e.builder] as (id: string) => string).call(k, '42'));
    expect(keys.length).toBeGreaterThanOrEqual(8);
    expect(new Set(keys.map(hashTag))).toEqual(new Set(['u:42']));
    expect(new Set(keys).size).toBe(keys.length);
  });
  it('keeps different users apart and global keys together', () => {
    expect(hashTag(k.userCounts('1'))).not.toBe(hashTag(k.userCounts('2')));
    expect(hashTag(k.popularity())).toBe(hashTag(k.globalApplied()));
  });
  it('prefixes every key', () => {
    expect(k.item('X').startsWith('attune:')).toBe(true);
    expect(k.partitionProgress('attune.events', 3)).toBe('attune:{p:attune.events:3}:progress');
    expect(Keys.partitionField('t', 2)).toBe('o:t:2');
  });
});
