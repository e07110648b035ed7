/** `attune show` reads the recommendations topic as compaction would leave it: a tombstone ends a user's list. */
import { describe, it, expect } from 'vitest';
import { currentLists } from '../../src/cli/commands/show.js';

const rec = (key: string | null, value: string | null) => ({ key, value: value === null ? null : Buffer.from(value) });
const decode = async (v: Buffer) => v.toString();

describe('attune show: current lists', () => {
  it('a tombstone removes the user\'s earlier list and is counted; a later list brings the user back', async () => {
    const { latest, updates, tombstoned } = await currentLists([
      rec('alice', 'a1'), rec('bob', 'b1'), rec('alice', null), rec('carol', 'c1'), rec('carol', null), rec('carol', 'c2'), rec(null, 'x'),
    ], decode);
    expect([...latest.entries()]).toEqual([['bob', 'b1'], ['carol', 'c2']]);
    expect([...tombstoned]).toEqual(['alice']);
    expect(updates.get('alice')).toBe(1);
  });
});
