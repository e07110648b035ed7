import { describe, it, expect } from 'vitest';
import { Pseudonymizer, PSEUDONYM_MEMO_SIZE } from '../../src/stages/rights/pseudonym.js';

const SECRET = 'a test secret of at least thirty-two bytes';

describe('Pseudonymizer memo', () => {
  it('answers as a fresh computation, before and after its oldest entries are dropped, and stays bounded', () => {
    const p = new Pseudonymizer(SECRET);
    const ids = Array.from({ length: PSEUDONYM_MEMO_SIZE + 10 }, (_, i) => `user-${i}`);
    const first = ids.slice(0, 20).map((id) => [p.pseudonym(id), p.seal(id)]);
    for (const id of ids) p.pseudonym(id);
    const fresh = new Pseudonymizer(SECRET);
    expect(ids.slice(0, 20).map((id) => [p.pseudonym(id), p.seal(id)])).toEqual(first);
    expect(first).toEqual(ids.slice(0, 20).map((id) => [fresh.pseudonym(id), fresh.seal(id)]));
    expect(fresh.unseal(first[3]![1]!)).toBe('user-3');
    const sizes = p as unknown as { pseudonyms: Map<string, string>; sealed: Map<string, string> };
    expect(sizes.pseudonyms.size).toBeLessThanOrEqual(PSEUDONYM_MEMO_SIZE);
    expect(sizes.sealed.size).toBeLessThanOrEqual(PSEUDONYM_MEMO_SIZE);
    // another key, other answers: the memo is per pseudonymizer
    expect(new Pseudonymizer(`${SECRET}!`).pseudonym('user-0')).not.toBe(first[0]![0]);
  });
});
