/** The shared model's changelog records and gates (stages/recommend/changelog.ts), pure. */
import { describe, it, expect } from 'vitest';
import { ChangelogGates, changelogRecords, gateHeader, parseChangelogRecord, parseGateHeader, rowDeltasOf, type ChangelogRecord } from '../../src/stages/recommend/changelog.js';

const rec = (src: string, last: number, part = 0, parts = 1, fence = 1, rows: ChangelogRecord['rows'] = [['a', 1, [['b', 2]]]]): ChangelogRecord =>
  ({ v: 1, epoch: 'e', src, last, part, parts, fence, rows });

describe('changelog records', () => {
  it('carry the row scripts\' deltas as rows (norm and pairs), cut by size without splitting a row, and parse back', () => {
    const rows = rowDeltasOf(new Map([['a', [['i:b', 2], ['_n', 1], ['i:c', 0.5]]], ['b', [['i:c', 1]]]] as Array<[string, Array<[string, number]>]>));
    expect(rows).toEqual([['a', 1, [['b', 2], ['c', 0.5]]], ['b', 0, [['c', 1]]]]);
    const one = changelogRecords('e', 'o:t:0', 9, 3, rows);
    expect(one.map((r) => [r.part, r.parts, r.fence, r.rows.length])).toEqual([[0, 1, 3, 2]]);
    const cut = changelogRecords('e', 'o:t:0', 9, 3, rows, 60);
    expect(cut.map((r) => [r.part, r.parts, r.rows.map((x) => x[0])])).toEqual([[0, 2, ['a']], [1, 2, ['b']]]);
    expect(parseChangelogRecord(Buffer.from(JSON.stringify(one[0])))).toEqual(one[0]);
    for (const bad of ['nope', '{"v":2}', JSON.stringify({ ...one[0], rows: [['a', 1, [['b', 'x']]]] }), JSON.stringify({ ...one[0], last: 1.5 }), JSON.stringify({ ...one[0], fence: null })]) {
      expect(parseChangelogRecord(Buffer.from(bad))).toBeNull();
    }
    expect(changelogRecords('e', 'o:t:0', 9, 3, [])).toEqual([]);
  });
});

describe('changelog gates', () => {
  it('admit each (source, last, part) once, in order; a replay\'s copy is held', () => {
    const g = new ChangelogGates();
    expect(g.admit(rec('s0', 10), 0)).not.toBeNull();
    expect(g.admit(rec('s0', 10), 1)).toBeNull(); // a replay published the same batch again
    expect(g.admit(rec('s1', 5), 2)).not.toBeNull(); // sources are apart
    expect(g.admit(rec('s0', 20, 0, 2), 3)).not.toBeNull();
    expect(g.admit(rec('s0', 20, 1, 2), 4)).not.toBeNull();
    expect(g.admit(rec('s0', 20, 1, 2), 5)).toBeNull();
    expect(g.admit(rec('s0', 15), 6)).toBeNull(); // older than what the model holds
    expect(g.published('s0', 20)).toBe(true);
    expect(g.published('s0', 21)).toBe(false);
  });

  it('what the worker learns itself: held when it comes back, never counted as published by someone else', () => {
    const g = new ChangelogGates();
    g.learned('s0', 30, 2);
    expect(g.holds('s0', 30)).toBe(true);
    expect(g.holds('s0', 31)).toBe(false);
    expect(g.published('s0', 30)).toBe(false); // a retry of the worker's own attempt still publishes
    expect(g.admit(rec('s0', 30, 0, 2, 2), 0)).toBeNull();
    expect(g.admit(rec('s0', 30, 1, 2, 2), 1)).toBeNull();
    g.learned('s0', 25, 2); // gates only rise
    expect(g.holds('s0', 30)).toBe(true);
  });

  it('skip a revoked owner\'s late record: a lower fence token than the deltas the model holds', () => {
    // The new owner (token 6) learned the replayed 201..250 itself; the old owner's 201..300 (token 5) lands late.
    const w = new ChangelogGates();
    w.learned('s0', 250, 6);
    expect(w.admit(rec('s0', 300, 0, 1, 5), 0)).toBeNull();
    w.learned('s0', 300, 6); // then 251..300, published
    expect(w.admit(rec('s0', 300, 0, 1, 6), 1)).toBeNull(); // its own record coming back
    // Another worker sees the new owner's record first, then the late one: the same decisions.
    const x = new ChangelogGates();
    expect(x.admit(rec('s0', 250, 0, 1, 6), 0)).not.toBeNull();
    expect(x.admit(rec('s0', 300, 0, 1, 5), 1)).toBeNull();
    expect(x.admit(rec('s0', 300, 0, 1, 6), 2)).not.toBeNull();
  });

  it('before the end read after the warm-up, apply only the rows the warm-up did not hold; after it, everything', () => {
    const g = new ChangelogGates();
    // Row a held s0's batch 10 when loaded, row b only batch 5.
    g.setWarm(new Map([['s0', new Map([['a', 10], ['b', 5]])]]), 3);
    const rows: ChangelogRecord['rows'] = [['a', 1, [['x', 1]]], ['b', 1, [['x', 1]]], ['c', 1, []]];
    expect(g.admit(rec('s0', 10, 0, 1, 1, rows), 1)?.map((r) => r[0])).toEqual(['b', 'c']);
    expect(g.admit(rec('s0', 11, 0, 1, 1, rows), 3)?.map((r) => r[0])).toEqual(['a', 'b', 'c']);
    // A record the warm-up held entirely moves the gate on but applies nothing.
    const h = new ChangelogGates();
    h.setWarm(new Map([['s0', new Map([['a', 10]])]]), 9);
    expect(h.admit(rec('s0', 10, 0, 1, 1, [['a', 1, []]]), 0)).toBeNull();
    expect(h.holds('s0', 10)).toBe(true);
  });
});

describe('the gate header (a record skipped unparsed)', () => {
  it('carries the record\'s gate fields, and a header that does not read says nothing', () => {
    const r = rec('o:t:3', 42, 1, 2, 7);
    expect(parseGateHeader(gateHeader(r))).toEqual({ epoch: 'e', src: 'o:t:3', last: 42, part: 1, fence: 7 });
    expect(parseGateHeader(Buffer.from(gateHeader(r)))).toEqual({ epoch: 'e', src: 'o:t:3', last: 42, part: 1, fence: 7 });
    for (const bad of [undefined, 'nope', '[]', '["e","s",1.5,0,1]', '["e","s",1,0]', '{"src":"s"}']) expect(parseGateHeader(bad)).toBeNull();
  });

  it('held() on the header decides as admit() on the value: every record of a sequence, in both orders of the gates', () => {
    const seq = [rec('s0', 10), rec('s0', 10), rec('s1', 5), rec('s0', 20, 0, 2), rec('s0', 20, 1, 2), rec('s0', 20, 1, 2), rec('s0', 15), rec('s0', 30, 0, 1, 0), rec('s0', 40, 0, 1, 3), rec('s0', 50, 0, 1, 2)];
    const byValue = new ChangelogGates();
    const byHeader = new ChangelogGates();
    byValue.learned('s1', 7, 1);
    byHeader.learned('s1', 7, 1);
    seq.forEach((r, i) => {
      const admitted = byValue.admit(r, i) !== null;
      const h = parseGateHeader(gateHeader(r))!;
      const held = byHeader.held(h);
      expect(held, `record ${i}`).toBe(!admitted);
      if (!held) byHeader.admit(r, i);
    });
  });
});
