/** Recommendation ids: what a list's id names, and that only the id minted for a user reads back for that user. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_RECOMMENDATION_ID_LENGTH, RecommendationIds, type IdAssignment } from '../../src/experiments/recommendation-id.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef', 'utf8');
const ids = new RecommendationIds(KEY);
const USER = 'p-3f9a';

const ONE: IdAssignment[] = [{ experiment: 'home_ab', variant: 'control', segment: null }];
const SEVERAL: IdAssignment[] = [
  { experiment: 'home_ab', variant: 'collaborative', segment: null },
  { experiment: 'strategy_bandit', variant: 'trending', segment: 'frequent_buyer' },
  { experiment: 'e3', variant: 'v_2', segment: null },
];

/** Every printable ASCII character, plus a few beyond it. */
const ALPHABET = [...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)), 'é', '\u0000', '\n'];

/** The ids that differ from `id` by one character at position k, for every k in [from, to). */
function oneCharChanges(id: string, from = 0, to = id.length): string[] {
  const out: string[] = [];
  for (let k = from; k < to; k++) {
    for (const c of ALPHABET) if (c !== id[k]) out.push(id.slice(0, k) + c + id.slice(k + 1));
  }
  return out;
}

/** A minted id whose tag holds a base64url-only character ('-' or '_'), found by varying the source. */
function idWithUrlSafeTagChar(as: IdAssignment[]): string {
  for (let n = 0; n < 1000; n++) {
    const id = ids.mint(USER, as, `0.${n}`);
    if (/[-_]/.test(id.split('~')[2])) return id;
  }
  throw new Error('no such id in 1000 sources');
}

describe('recommendation ids', () => {
  it('round-trips a list in no experiment, in one, and in several (with and without a segment)', () => {
    for (const as of [[], ONE, SEVERAL]) {
      const id = ids.mint(USER, as, '3.1042');
      expect(ids.read(USER, id)).toEqual(as);
    }
    // the empty list reads as "in no experiment", which is not the same as refused
    expect(ids.read(USER, ids.mint(USER, [], '0.0'))).toEqual([]);
  });

  it('has the documented shape: assignments ~ source ~ a 12-byte base64url tag', () => {
    const id = ids.mint(USER, SEVERAL, '7.99');
    const [body, source, tag] = id.split('~');
    expect(body).toBe('home_ab:collaborative,strategy_bandit:trending:frequent_buyer,e3:v_2');
    expect(source).toBe('7.99');
    expect(Buffer.from(tag, 'base64url')).toHaveLength(12);
    expect(tag).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(ids.mint(USER, [], '7.99').startsWith('~7.99~')).toBe(true);
  });

  it('is deterministic: the same user, assignments and source give the same id (a re-emitted list keeps its id)', () => {
    const a = ids.mint(USER, SEVERAL, '2.500');
    expect(new RecommendationIds(Buffer.from(KEY)).mint(USER, SEVERAL.map((x) => ({ ...x })), '2.500')).toBe(a);
    // another source (the next event's offset, a catalog correction) is another list, another id
    expect(ids.mint(USER, SEVERAL, '2.501')).not.toBe(a);
    expect(ids.mint(USER, SEVERAL, 'catalog:1.7')).not.toBe(a);
    // and the tag depends on the user even where body and source agree
    expect(ids.mint('p-other', SEVERAL, '2.500').split('~')[2]).not.toBe(a.split('~')[2]);
  });

  it('an id made for another user reads as null', () => {
    for (const as of [[], ONE, SEVERAL]) {
      const id = ids.mint(USER, as, '1.1');
      expect(ids.read('p-other', id)).toBeNull();
      expect(ids.read(`${USER} `, id)).toBeNull();
      expect(ids.read('', id)).toBeNull();
    }
  });

  it('an id signed with another key reads as null', () => {
    const other = new RecommendationIds(Buffer.from('0123456789abcdef0123456789abcdeF', 'utf8'));
    expect(other.read(USER, ids.mint(USER, SEVERAL, '1.1'))).toBeNull();
    expect(ids.read(USER, other.mint(USER, SEVERAL, '1.1'))).toBeNull();
    expect(other.read(USER, other.mint(USER, SEVERAL, '1.1'))).toEqual(SEVERAL);
  });

  it('any single-character change in the assignments or the source reads as null', () => {
    for (const as of [[], ONE, SEVERAL]) {
      const id = ids.mint(USER, as, '12.34567');
      const tagAt = id.lastIndexOf('~');
      const changed = oneCharChanges(id, 0, tagAt).filter((x) => x.split('~').length === 3);
      expect(changed.length).toBeGreaterThan(50);
      const accepted = changed.filter((x) => ids.read(USER, x) !== null);
      expect(accepted).toEqual([]);
    }
  });

  it('any single-character change in the tag reads as null (also to a character base64url does not use)', () => {
    // a tag holding '-' or '_': base64 (not base64url) spells those bytes '+' and '/'
    const id = idWithUrlSafeTagChar(SEVERAL);
    const tagAt = id.lastIndexOf('~') + 1;
    const changed = oneCharChanges(id, tagAt).filter((x) => x.split('~').length === 3);
    const accepted = changed.filter((x) => ids.read(USER, x) !== null);
    expect(accepted).toEqual([]);
  });

  it('only the tag as minted verifies: padding, whitespace or stray characters around it make the id refused', () => {
    const id = ids.mint(USER, ONE, '5.5');
    const [body, source, tag] = id.split('~');
    const variants = [`${tag}=`, `${tag}==`, ` ${tag}`, `${tag} `, `${tag.slice(0, 8)}\n${tag.slice(8)}`, `${tag}!`, `!${tag}`, `${tag}.`];
    expect(variants.filter((t) => ids.read(USER, `${body}~${source}~${t}`) !== null)).toEqual([]);
    expect(ids.read(USER, id)).toEqual(ONE);
  });

  it('a wrong number of ~ parts reads as null', () => {
    const id = ids.mint(USER, ONE, '5.5');
    const [body, source, tag] = id.split('~');
    for (const bad of [`${body}~${tag}`, `${body}${source}${tag}`, `${id}~`, `~${id}`, `${body}~${source}~~${tag}`, '', '~~', '~~~']) {
      expect(ids.read(USER, bad), bad).toBeNull();
    }
    // a source holding "~" gives an id of four parts, refused although signed as minted
    expect(ids.read(USER, ids.mint(USER, ONE, '5~5'))).toBeNull();
  });

  it('refuses names outside lower_snake_case and assignments of other shapes, even when correctly signed', () => {
    const signed = (as: IdAssignment[]) => ids.read(USER, ids.mint(USER, as, '1.2'));
    const bad: IdAssignment[][] = [
      [{ experiment: 'Home_ab', variant: 'control', segment: null }],
      [{ experiment: 'home_ab', variant: 'Control', segment: null }],
      [{ experiment: 'home_ab', variant: 'control', segment: 'VIP' }],
      [{ experiment: '1st', variant: 'control', segment: null }],
      [{ experiment: 'home-ab', variant: 'control', segment: null }],
      [{ experiment: '', variant: 'control', segment: null }],
      [{ experiment: 'home_ab', variant: '', segment: null }],
      [{ experiment: 'home_ab', variant: 'control', segment: '' }],
      [{ experiment: 'x'.repeat(65), variant: 'control', segment: null }],
      // extra ":" parts
      [{ experiment: 'home_ab', variant: 'control', segment: 'vip:extra' }],
      [{ experiment: 'home_ab', variant: 'a:b:c', segment: null }],
      // the bad one among good ones
      [...SEVERAL, { experiment: 'ok', variant: 'Bad', segment: null }],
    ];
    for (const as of bad) expect(signed(as), JSON.stringify(as)).toBeNull();
    // an experiment without a variant
    expect(ids.read(USER, `home_ab~1.2~${tagFor(USER, 'home_ab', '1.2')}`)).toBeNull();
    // an empty assignment between commas
    expect(ids.read(USER, `a:b,,c:d~1.2~${tagFor(USER, 'a:b,,c:d', '1.2')}`)).toBeNull();
    // the longest names allowed are fine
    const long: IdAssignment[] = [{ experiment: `a${'b'.repeat(63)}`, variant: `v${'0'.repeat(63)}`, segment: `s${'_'.repeat(63)}` }];
    expect(signed(long)).toEqual(long);
  });

  it(`refuses ids longer than MAX_RECOMMENDATION_ID_LENGTH (${MAX_RECOMMENDATION_ID_LENGTH}), and reads one of exactly that length`, () => {
    const base = ids.mint(USER, SEVERAL, '');
    const fill = MAX_RECOMMENDATION_ID_LENGTH - base.length;
    const atMax = ids.mint(USER, SEVERAL, 's'.repeat(fill));
    expect(atMax).toHaveLength(MAX_RECOMMENDATION_ID_LENGTH);
    expect(ids.read(USER, atMax)).toEqual(SEVERAL);
    const over = ids.mint(USER, SEVERAL, 's'.repeat(fill + 1));
    expect(over).toHaveLength(MAX_RECOMMENDATION_ID_LENGTH + 1);
    expect(ids.read(USER, over)).toBeNull();
  });

  it('does not throw on arbitrary input', () => {
    for (const s of ['x', '~', 'a~b~c', 'a:b~1~', 'a:b~1~AAAAAAAAAAAAAAAA', '\u0000~\u0000~\u0000', 'é~é~é', '~'.repeat(2000)]) {
      expect(() => ids.read(USER, s)).not.toThrow();
      expect(ids.read(USER, s)).toBeNull();
    }
  });
});

/** The tag the ids module would put on (user, body, source): an independent HMAC, so bodies mint() cannot build can be signed. */
function tagFor(user: string, body: string, source: string): string {
  return createHmac('sha256', KEY).update(`${user}\u0000${body}\u0000${source}`).digest().subarray(0, 12).toString('base64url');
}
