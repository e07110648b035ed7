import { describe, it, expect } from 'vitest';
import { Keys } from '../../src/stores/keys.js';
import {
  USER_OWNED, ownedBy, ownedEntry, userOfKey, partitionsOfFields, heldItemsOfState, keyPatternOf, readOwnerContext, type OwnedEntry,
} from '../../src/stores/user-owned.js';
import type { RedisClient } from '../../src/stores/redis-client.js';

const SENTINEL = 'S3ntinel';
const k = new Keys('attune');

/** The private helper every user key is built with: it takes the key's suffix, so it is not a key of its own. */
const HELPERS = new Set(['constructor', 'user']);

/** Every key-building method of Keys, found on the prototype so a method added tomorrow is checked too. */
function builders(): string[] {
  return Object.getOwnPropertyNames(Keys.prototype).filter((m) => !HELPERS.has(m) && typeof (Keys.prototype as unknown as Record<string, unknown>)[m] === 'function');
}

/** The key a builder makes with the sentinel for every argument. */
function sentinelKey(method: string): string {
  return ((k as unknown as Record<string, (...a: string[]) => string>)[method]).call(k, SENTINEL, SENTINEL, SENTINEL);
}

describe('the user-owned registry', () => {
  it('declares every Keys method that builds a key of one user', () => {
    const all = builders();
    expect(all.length).toBeGreaterThan(20); // the enumeration works: it sees the class's methods
    const userKeys = all.filter((m) => sentinelKey(m).startsWith(`attune:{u:${SENTINEL}}:`));
    const declared = USER_OWNED.filter((e) => e.kind === 'user-key').map((e) => e.builder as string);
    expect(userKeys.sort()).toEqual([...declared].sort());
    // The known ones, so the enumeration itself cannot silently find nothing.
    expect(userKeys).toEqual(expect.arrayContaining(['userCounts', 'userRecent', 'userPurchased', 'userApplied', 'userFeatures', 'userSegments', 'userRecommender', 'userRecommendations']));
  });

  it('names an existing builder in every entry, with a key of the hash tag its kind implies', () => {
    const tagOf: Record<OwnedEntry['kind'], RegExp> = {
      'user-key': new RegExp(`^attune:\\{u:${SENTINEL}\\}:`),
      'partition-member': /^attune:\{p:[^}]+\}:/,
      'partition-mention': /^attune:\{p:[^}]+\}:/,
      'item-member': new RegExp(`^attune:\\{i:${SENTINEL}\\}:`),
      aggregate: /^attune:\{(g|i:[^}]+)\}:/,
    };
    const all = new Set(builders());
    for (const e of USER_OWNED) {
      expect(all.has(e.builder), `${e.name}: Keys.${e.builder}`).toBe(true);
      expect(sentinelKey(e.builder), e.name).toMatch(tagOf[e.kind]);
      expect(e.erasure, e.name).toBe(e.kind === 'user-key' ? 'delete' : e.kind === 'aggregate' || e.kind === 'partition-mention' ? 'leave' : 'remove-member');
      expect(e.writtenBy.length && e.find.length && e.presence.length, e.name).toBeTruthy();
    }
    expect(new Set(USER_OWNED.map((e) => e.name)).size).toBe(USER_OWNED.length);
    expect(() => ownedEntry('no-such-entry')).toThrow(/no user-owned entry/);
  });

  it('lists the concrete keys, memberships and mentions of one user', () => {
    const got = ownedBy(k, 'u1', {
      partitions: [{ topic: 'ev', partition: 2 }], memberSegments: ['vip', 'busy'], heldItems: ['a', 'b'],
    }).map((x) => [x.entry.name, x.key, x.member ?? x.field ?? null]);
    expect(got).toEqual([
      ['counts', 'attune:{u:u1}:counts', null],
      ['recent', 'attune:{u:u1}:recent', null],
      ['purchased', 'attune:{u:u1}:purchased', null],
      ['applied', 'attune:{u:u1}:applied', null],
      ['features', 'attune:{u:u1}:features', null],
      ['segments', 'attune:{u:u1}:segments', null],
      ['rec', 'attune:{u:u1}:rec', null],
      ['recs', 'attune:{u:u1}:recs', null],
      ['subject', 'attune:{u:u1}:subject', null],
      ['known-users', 'attune:{p:ev:2}:users', 'u1'],
      ['timers', 'attune:{p:ev:2}:timers', 'u1'],
      ['members', 'attune:{p:ev:2}:members:vip', 'u1'],
      ['members', 'attune:{p:ev:2}:members:busy', 'u1'],
      ['holders', 'attune:{i:a}:holders', 'u1'],
      ['holders', 'attune:{i:b}:holders', 'u1'],
      ['pending-changes', 'attune:{p:ev:2}:segstate', 'pending'],
    ]);
    // Without partitions or a list, only the user's own keys.
    expect(ownedBy(k, 'u1', { partitions: [], memberSegments: ['vip'], heldItems: [] }).every((x) => x.entry.kind === 'user-key')).toBe(true);
  });

  it('reads the context out of stored values', () => {
    expect(partitionsOfFields(['s', 'o:t1.events:0', 'lc:t1.events:0', 'o:t1.events:12', 'due', 'lh'])).toEqual([
      { topic: 't1.events', partition: 0 }, { topic: 't1.events', partition: 12 },
    ]);
    expect(heldItemsOfState(JSON.stringify({ h: {}, li: ['x', 'y'], lh: 'abc' }))).toEqual(['x', 'y']);
    expect(heldItemsOfState(JSON.stringify({ h: {} }))).toEqual([]);
    expect(heldItemsOfState(null)).toEqual([]);
    expect(userOfKey('attune:{u:42}:rec')).toBe('42');
    expect(userOfKey('{u:a}b}:counts')).toBe('a}b');
    expect(userOfKey('attune:{i:42}:holders')).toBeNull();
  });

  it('reads a damaged value as naming nothing, never throwing: the sweep must still delete the keys', async () => {
    expect(heldItemsOfState('{"li": [')).toEqual([]);
    expect(heldItemsOfState('"li"')).toEqual([]);
    expect(heldItemsOfState('null')).toEqual([]);
    expect(heldItemsOfState(JSON.stringify({ li: 'ab' }))).toEqual([]);
    const values: Record<string, string> = {
      [k.userRecommender('u1')]: '{broken',
      [k.partitionSegmentState('t1.events', 0)]: 'not json',
      [k.partitionSegmentState('t1.events', 1)]: JSON.stringify({ not: 'a list' }),
      [k.partitionSegmentState('t1.events', 2)]: JSON.stringify(['vip', 7]),
    };
    const redis = {
      hkeys: async (key: string) => (key === k.userFeatures('u1') ? ['s', 'o:t1.events:0', 'o:t1.events:1', 'o:t1.events:2'] : []),
      hget: async (key: string) => values[key] ?? null,
    } as unknown as RedisClient;
    const ctx = await readOwnerContext(redis, k, 'u1', ['gold']);
    expect(ctx).toEqual({
      partitions: [0, 1, 2].map((partition) => ({ topic: 't1.events', partition })), memberSegments: ['gold', 'vip'], heldItems: [],
    });
  });

  it('the holders entry says why removing the holders of li is complete', () => {
    expect(ownedEntry('holders').why).toMatch(/holders ⊆ `li`/);
    expect(ownedEntry('holders').why).not.toMatch(/SSCAN/);
  });

  it('gives each entry a key pattern without the prefix (the shapes the chaos verifier classifies keys by)', () => {
    expect(keyPatternOf(ownedEntry('rec')).source).toBe(/^\{u:.*\}:rec$/.source);
    expect(keyPatternOf(ownedEntry('recs')).source).toBe(/^\{u:.*\}:recs$/.source);
    expect(keyPatternOf(ownedEntry('features')).source).toBe(/^\{u:.*\}:features$/.source);
    expect(keyPatternOf(ownedEntry('holders')).source).toBe(/^\{i:.*\}:holders$/.source);
    expect(keyPatternOf(ownedEntry('co-occurrence')).source).toBe(/^\{i:.*\}:co$/.source);
    // Ids are input: braces, colons and glob characters in an id still match, and only the entry's own keys.
    for (const id of ['a}b', '{x}', 'a:b', '*', '?', '[', '__proto__', '}:recs', 'x}:rec}']) {
      expect(keyPatternOf(ownedEntry('rec')).test(`{u:${id}}:rec`), id).toBe(true);
      expect(keyPatternOf(ownedEntry('rec')).test(`{u:${id}}:recs`), id).toBe(false);
      expect(keyPatternOf(ownedEntry('rec')).test(`{u:${id}}:recent`), id).toBe(false);
      expect(keyPatternOf(ownedEntry('co-occurrence')).test(`{i:${id}}:holders`), id).toBe(false);
    }
    expect(keyPatternOf(ownedEntry('members')).test('{p:t.events:3}:members:vip')).toBe(true);
    expect(keyPatternOf(ownedEntry('counts')).test('{u:7}:counts')).toBe(true);
    expect(keyPatternOf(ownedEntry('counts')).test('{u:7}:countsx')).toBe(false);
    expect(keyPatternOf(ownedEntry('popularity')).source).toBe(/^\{g\}:popularity$/.source);
    // With a capturing id, the verifier's former literal patterns exactly.
    expect(keyPatternOf(ownedEntry('counts'), '(.*)').source).toBe(/^\{u:(.*)\}:counts$/.source);
    expect(keyPatternOf(ownedEntry('co-occurrence'), '(.*)').source).toBe(/^\{i:(.*)\}:co$/.source);
    expect(keyPatternOf(ownedEntry('counts'), '(.*)').exec('{u:a}b}:counts')?.[1]).toBe('a}b');
  });
});
