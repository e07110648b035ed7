import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Pseudonymizer, pseudonymSecret, DEMO_PSEUDONYM_KEY } from '../../src/stages/rights/pseudonym.js';
import { ErasureLedger, erasedBefore, parseLedgerValue, ledgerValue, type LedgerEntry } from '../../src/stages/rights/ledger.js';
import { HISTORY_CAP, parseConsent, rewriteHistory, serializeConsent, statusAt, currentStatus, type HistoryEntry } from '../../src/stages/rights/consent.js';
import { withTombstones } from '../../src/stages/emit/stage.js';
import { SubjectIdentities } from '../../src/stages/rights/identities.js';
import type { SubjectStore } from '../../src/stores/subject-store.js';
import { ConfigError } from '../../src/errors.js';
import type { OutboundRecord } from '../../src/kafka/port.js';

const A = new Pseudonymizer('a'.repeat(32));
const B = new Pseudonymizer('b'.repeat(32));

describe('pseudonyms and sealed ids', () => {
  it('seal/unseal round trip, deterministic; another key cannot open it', () => {
    fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 128 }), (id) => {
      const s = A.seal(id);
      expect(A.unseal(s)).toBe(id);
      expect(A.seal(id)).toBe(s);
      expect(s).not.toContain(id.length > 3 ? id : '\u0000never');
      expect(() => B.unseal(s)).toThrow();
    }), { numRuns: 200 });
  });
  it('an altered sealed value does not open', () => {
    const s = Buffer.from(A.seal('alice'), 'base64url');
    s[s.length - 1] ^= 1;
    expect(() => A.unseal(s.toString('base64url'))).toThrow();
    expect(() => A.unseal('short')).toThrow();
  });
  it('pseudonyms are 22 characters, per key', () => {
    expect(A.pseudonym('alice')).toHaveLength(22);
    expect(A.pseudonym('alice')).not.toBe(B.pseudonym('alice'));
  });
  it('no key outside demo mode is a ConfigError naming the fix; demo mode falls back to the public key', () => {
    expect(() => pseudonymSecret({ demo: false })).toThrow(ConfigError);
    expect(() => pseudonymSecret({ demo: false })).toThrow(/ATTUNE_PSEUDONYM_KEY/);
    expect(pseudonymSecret({ demo: true }).toString()).toBe(DEMO_PSEUDONYM_KEY);
    expect(() => pseudonymSecret({ demo: false, pseudonymKey: 'short' })).toThrow(/at least 32/);
  });
});

describe('the erasure ledger', () => {
  const e: LedgerEntry = { v: 1, topic: 'ev', partition: 2, offset: 100, at: 5_000 };
  it('skips by offset on the erasure partition (the erase event itself passes), by time elsewhere', () => {
    expect(erasedBefore(e, 'ev', 2, 99, 9_999)).toBe(true);
    expect(erasedBefore(e, 'ev', 2, 100, 0)).toBe(false);
    expect(erasedBefore(e, 'ev', 2, 101, 0)).toBe(false);
    expect(erasedBefore(e, 'ev', 3, 1, 4_999)).toBe(true);
    expect(erasedBefore(e, 'ev', 3, 1, 5_000)).toBe(false);
    expect(erasedBefore(e, 'other', 2, 1, 4_999)).toBe(true);
  });
  it('values round-trip; foreign values are ignored', () => {
    expect(parseLedgerValue(Buffer.from(ledgerValue(e)))).toEqual(e);
    expect(parseLedgerValue(Buffer.from('{"v":2}'))).toBeNull();
    expect(parseLedgerValue(Buffer.from('not json'))).toBeNull();
    expect(parseLedgerValue(null)).toBeNull();
  });
  it('loads the topic, keeps the later entry of a user, and matches under the previous key during a rotation', async () => {
    const records = [
      { partition: 0, offset: '0', key: B.pseudonym('old-user'), value: Buffer.from(ledgerValue(e)), headers: {} },
      { partition: 0, offset: '1', key: A.pseudonym('u'), value: Buffer.from(ledgerValue({ ...e, offset: 5, at: 10 })), headers: {} },
      { partition: 0, offset: '2', key: A.pseudonym('u'), value: Buffer.from(ledgerValue({ ...e, offset: 50, at: 20 })), headers: {} },
      { partition: 0, offset: '3', key: null, value: Buffer.from(ledgerValue(e)), headers: {} },
    ];
    const rotated = new ErasureLedger({ current: A, previous: B, read: async () => records, producer: null as never, topic: 't' });
    expect(await rotated.load()).toBe(3);
    expect(rotated.lookup('u')?.offset).toBe(50);
    expect(rotated.lookup('old-user')).toEqual(e);
    const plain = new ErasureLedger({ current: A, read: async () => records, producer: null as never, topic: 't' });
    await plain.load();
    expect(plain.lookup('old-user')).toBeUndefined();
  });
  it('appends through the producer, once, and counts an entry only after the ack', async () => {
    const sent: OutboundRecord[][] = [];
    let fail = true;
    const producer = { connect: async () => {}, disconnect: async () => {}, send: async (_t: string, rs: OutboundRecord[]) => { if (fail) throw new Error('broker away'); sent.push(rs); } };
    const l = new ErasureLedger({ current: A, read: async () => [], producer, topic: 'attune.erasures' });
    const x = { pseudonym: A.pseudonym('u'), entry: e };
    await expect(l.append([x])).rejects.toThrow();
    expect(l.lookup('u')).toBeUndefined();
    fail = false;
    await l.append([x]);
    await l.append([x]); // a replay of the micro-batch
    expect(sent).toHaveLength(1);
    expect(sent[0][0].key).toBe(A.pseudonym('u'));
    expect(JSON.parse(sent[0][0].value!.toString())).toEqual(e);
    expect(l.lookup('u')).toEqual(e);
  });
});

describe('the consent history', () => {
  it('is capped at HISTORY_CAP entries, the oldest dropped', () => {
    const changes: HistoryEntry[] = Array.from({ length: 40 }, (_, i) => [i, (i % 2) as 0 | 1]);
    const h = rewriteHistory([], 0, changes, false);
    expect(h).toHaveLength(HISTORY_CAP);
    expect(h[0][0]).toBe(40 - HISTORY_CAP);
    expect(h[h.length - 1]).toEqual([39, 1]);
  });
  it('a rewrite drops the attempt range and appends again (idempotent); an erasure restarts it', () => {
    const h: HistoryEntry[] = [[1, 0], [5, 1]];
    const once = rewriteHistory(h, 4, [[6, 0]], false);
    expect(once).toEqual([[1, 0], [6, 0]]);
    expect(rewriteHistory(once, 4, [[6, 0]], false)).toEqual(once);
    expect(rewriteHistory(h, 4, [[7, 1]], true)).toEqual([[7, 1]]);
  });
  it('the status at an attempt start is the value after the last change before it', () => {
    const h: HistoryEntry[] = [[3, 0], [8, 1]];
    expect(statusAt(h, 3, true)).toBe(true);
    expect(statusAt(h, 4, true)).toBe(false);
    expect(statusAt(h, 9, false)).toBe(true);
    expect(currentStatus(h, false)).toBe(true);
    expect(currentStatus([], false)).toBe(false);
  });
  it('serializes deterministically, and to nothing when empty', () => {
    const c = { p: { zeta: ['granted', 1] as ['granted', number], alpha: ['denied', 2] as ['denied', number] }, h: [[1, 0]] as HistoryEntry[] };
    expect(serializeConsent(c)).toBe('{"p":{"alpha":["denied",2],"zeta":["granted",1]},"h":[[1,0]]}');
    expect(parseConsent(serializeConsent(c))).toEqual(c);
    expect(serializeConsent({ p: {}, h: [] })).toBeNull();
  });
});

describe('tombstones of withdrawn users', () => {
  it('replace every record of the user by one null value at the offset that ended personalization', () => {
    const out: OutboundRecord[] = [
      { key: 'alice', value: Buffer.from('x'), headers: { 'attune.source': 'ev:0:3' } },
      { key: 'bob', value: Buffer.from('y'), headers: { 'attune.source': 'ev:0:4' } },
    ];
    const got = withTombstones(out, 'ev', 0, new Map([['P', { userId: 'alice', offset: 7 }]]));
    expect(got).toEqual([out[1], { key: 'alice', value: null, headers: { 'attune.source': 'ev:0:7' } }]);
  });
});

describe('SubjectIdentities', () => {
  const store = (ids: Record<string, string>, consents: Record<string, string> = {}) => ({
    sealedIds: async (ps: string[]) => ps.map((p) => ids[p] ?? null),
    consents: async (ps: string[]) => ps.map((p) => consents[p] ?? null),
  }) as unknown as SubjectStore;
  it('resolves from memory, then from the sealed id; leaves out the unknown and those sealed with another key', async () => {
    const idn = new SubjectIdentities(store({ p2: A.seal('bob'), p3: B.seal('carol') }), A, 'granted', 2);
    idn.remember('p1', 'alice');
    expect(await idn.resolve(['p1', 'p2', 'p3', 'p4'])).toEqual(new Map([['p1', 'alice'], ['p2', 'bob']]));
    idn.forget('p1');
    expect((await idn.resolve(['p1'])).size).toBe(0);
  });
  it('is personalizable by the last stored change, else the default', async () => {
    const consents = { p1: '{"p":{},"h":[[1,0]]}', p2: '{"p":{},"h":[[1,0],[2,1]]}', bad: '{' };
    expect(await new SubjectIdentities(store({}, consents), A, 'granted').personalizable(['p1', 'p2', 'p3', 'bad'])).toEqual(new Set(['p2', 'p3']));
    expect(await new SubjectIdentities(store({}, consents), A, 'denied').personalizable(['p1', 'p2', 'p3'])).toEqual(new Set(['p2']));
  });
});

describe('the erasures topic', () => {
  it('is created with the others, compacted', async () => {
    const { topicSpecs } = await import('../../src/kafka/topics.js');
    expect(topicSpecs({ topicPrefix: 'p', partitions: 6 }).find((s) => s.topic === 'p.erasures')).toEqual({ topic: 'p.erasures', partitions: 1, compacted: true });
  });
});
