import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { UserEvent } from '../../src/domain/events.js';
import { planRights, type RightsInput, type RightsPlan, type StoredSubject } from '../../src/stages/rights/plan.js';
import { ErasureLedger, type LedgerEntry } from '../../src/stages/rights/ledger.js';
import { Pseudonymizer } from '../../src/stages/rights/pseudonym.js';

const names = new Pseudonymizer('t'.repeat(32));
const TOPIC = 'attune.events';
const base: Omit<UserEvent, 'userId' | 'type' | 'eventId'> = {
  eventTime: Date.UTC(2026, 0, 1), itemId: null, quantity: null, price: null, rating: null, sessionId: null, context: null, properties: {},
};

type Kind = 'view' | 'grant' | 'deny' | 'revoke' | 'other' | 'erase';
function event(offset: number, user: string, kind: Kind): RightsInput {
  const e: UserEvent = { ...base, eventId: `e${offset}`, userId: user, type: 'view', itemId: 'i1' };
  if (kind === 'erase') Object.assign(e, { type: 'erase', itemId: null });
  else if (kind !== 'view') {
    const purpose = kind === 'other' ? 'analytics' : 'personalization';
    const status = kind === 'grant' || kind === 'other' ? 'granted' : kind === 'deny' ? 'denied' : 'revoked';
    Object.assign(e, { type: 'consent', itemId: null, consent: [{ purpose, status }] });
  }
  return { offset, event: e, timestamp: 1_000 + offset };
}

/** A worker's state across micro-batches: the subject hashes and the ledger, updated as the stage does. */
class World {
  subjects = new Map<string, StoredSubject>();
  ledger = new ErasureLedger({ current: names, read: async () => [], producer: { send: async () => {} } as never, topic: 'x' });
  constructor(readonly dflt: 'granted' | 'denied', readonly anon: boolean) {}

  run(batch: RightsInput[], partition = 0): RightsPlan {
    const p = planRights(batch, {
      topic: TOPIC, partition, names, subjects: this.subjects, ledger: this.ledger, consentDefault: this.dflt, anonymousAggregates: this.anon,
    });
    return p;
  }

  /** What the erase stage does after emit: the ledger, the subject writes, the sweep. */
  apply(p: RightsPlan, partition = 0): void {
    for (const x of p.sealedIds) this.subjects.set(x.pseudonym, { ...(this.subjects.get(x.pseudonym) ?? { id: null, consent: null }), id: x.id });
    for (const e of p.erasures) this.ledger.add(e.pseudonym, { v: 1, topic: TOPIC, partition, offset: e.offset, at: e.at });
    for (const w of p.writes) {
      const s = this.subjects.get(w.pseudonym) ?? { id: null, consent: null };
      if (w.id !== undefined) s.id = w.id;
      if (w.consent !== undefined) s.consent = w.consent;
      this.subjects.set(w.pseudonym, s);
    }
    const swept = [...p.erasures.filter((e) => e.sweep), ...p.clears.map((c) => ({ pseudonym: c.pseudonym, keepSubject: true }))];
    for (const e of swept) {
      const s = this.subjects.get(e.pseudonym);
      if (e.keepSubject && s) this.subjects.set(e.pseudonym, { id: null, consent: s.consent });
      else this.subjects.delete(e.pseudonym);
    }
  }
}

/** Each event's decision: dropped (and why) or passed (with its marks). */
function decisions(p: RightsPlan, batch: RightsInput[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const x of p.pass) out.set(x.offset, `pass:${x.reset ?? ''}:${x.anonymous ? 'anon' : ''}:${x.event.userId}`);
  for (const x of batch) if (!out.has(x.offset)) out.set(x.offset, 'drop');
  return out;
}

const arbRun = fc.record({
  kinds: fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom<Kind>('view', 'view', 'grant', 'deny', 'revoke', 'other', 'erase')), { minLength: 1, maxLength: 60 }),
  cuts: fc.array(fc.integer({ min: 1, max: 59 }), { maxLength: 8 }),
  dflt: fc.constantFrom<'granted' | 'denied'>('granted', 'denied'),
  anon: fc.boolean(),
});

function split<T>(xs: T[], cuts: number[]): T[][] {
  const at = [...new Set(cuts.filter((c) => c < xs.length))].sort((a, b) => a - b);
  const out: T[][] = [];
  let from = 0;
  for (const c of [...at, xs.length]) {
    if (c > from) out.push(xs.slice(from, c));
    from = c;
  }
  return out;
}

describe('planRights', () => {
  it('decides every event the same whatever the micro-batch cuts', () => {
    fc.assert(fc.property(arbRun, ({ kinds, cuts, dflt, anon }) => {
      const events = kinds.map(([u, k], i) => event(i, `user-${u}`, k));
      const whole = new World(dflt, anon);
      const one = whole.run(events);
      whole.apply(one);
      const expected = decisions(one, events);
      const cut = new World(dflt, anon);
      const got = new Map<number, string>();
      for (const b of split(events, cuts)) {
        const p = cut.run(b);
        cut.apply(p);
        for (const [o, d] of decisions(p, b)) got.set(o, d);
      }
      expect(got).toEqual(expected);
      expect(cut.subjects).toEqual(whole.subjects);
    }), { numRuns: 400 });
  });

  it('a user whose events move to another partition (the partition count changed) is decided as if they had not', () => {
    fc.assert(fc.property(arbRun, fc.integer({ min: 0, max: 60 }), ({ kinds, cuts, dflt, anon }, at) => {
      const events = kinds.map(([u, k], i) => event(i, `user-${u}`, k));
      const whole = new World(dflt, anon);
      const expected = new Map<number, string>();
      for (const b of split(events, cuts)) {
        const p = whole.run(b);
        whole.apply(p);
        for (const [o, d] of decisions(p, b)) expected.set(o, d);
      }
      // The same log: events before `at` on partition 0 at high offsets, the rest on partition 1 from offset 0 (the
      // record timestamps keep going up, as the ledger's cross-partition rule needs).
      const moved = new World(dflt, anon);
      const got = new Map<number, string>();
      const place = (x: RightsInput, i: number): RightsInput => ({ ...x, offset: i < at ? 1_000_000 + i : i - at });
      const back = (partition: number, o: number) => (partition === 0 ? o - 1_000_000 : o + at);
      const placed = events.map(place);
      for (const [partition, part] of [[0, placed.slice(0, at)], [1, placed.slice(at)]] as const) {
        for (const b of split(part, cuts)) {
          const p = moved.run(b, partition);
          moved.apply(p, partition);
          for (const [o, d] of decisions(p, b)) got.set(back(partition, o), d);
        }
      }
      expect(got).toEqual(expected);
    }), { numRuns: 400 });
  });

  it('a replay after the micro-batch was applied decides the same, skipping only what a recorded erasure or withdrawal covers', () => {
    fc.assert(fc.property(arbRun, ({ kinds, cuts, dflt, anon }) => {
      const events = kinds.map(([u, k], i) => event(i, `user-${u}`, k));
      const w = new World(dflt, anon);
      for (const b of split(events, cuts)) {
        const first = w.run(b);
        w.apply(first);
        const subjectsAfter = structuredClone(w.subjects);
        const again = w.run(b);
        const erasedAt = new Map(first.erasures.map((e) => [e.userId, e.offset]));
        // The last withdrawal the first run recorded in the user's history (a `0` entry).
        const withdrewAt = (user: string) => {
          const c = subjectsAfter.get(names.pseudonym(user))?.consent;
          const h: Array<[number, number]> = c ? JSON.parse(c).h : [];
          return h.reduce((m, [o, after]) => (after === 0 && o > m ? o : m), -1);
        };
        const d1 = decisions(first, b);
        for (const [o, d] of decisions(again, b)) {
          const x = b.find((e) => e.offset === o)!;
          const e = erasedAt.get(x.event.userId);
          if ((e !== undefined && o < e) || o < withdrewAt(x.event.userId)) expect(d).toBe('drop');
          else expect(d).toBe(d1.get(o));
        }
        w.apply(again);
        expect(w.subjects).toEqual(subjectsAfter); // idempotent writes
      }
    }), { numRuns: 300 });
  });

  it('a re-run of a first part of an applied micro-batch (a bisection half) keeps the history of the rest', () => {
    fc.assert(fc.property(arbRun, fc.integer({ min: 1, max: 59 }), ({ kinds, cuts, dflt, anon }, k) => {
      const events = kinds.map(([u, kind], i) => event(i, `user-${u}`, kind));
      const w = new World(dflt, anon);
      for (const b of split(events, cuts)) {
        w.apply(w.run(b));
        const histories = () => new Map([...w.subjects].map(([p, x]) => [p, x.consent ? JSON.parse(x.consent).h : null]));
        const before = histories();
        const half = w.run(b.slice(0, Math.min(k, b.length)));
        // The history decides every later status and skip: a re-run of a part must not drop the rest's changes.
        // (No consent at all and an empty history are the same history: a part that drops the rest's purposes but
        // no personalization change writes null where the rest had h = []; the purposes map `p` decides nothing.)
        for (const wr of half.writes) {
          if (wr.consent === undefined) continue;
          expect(wr.consent === null ? [] : JSON.parse(wr.consent).h).toEqual(before.get(wr.pseudonym) ?? []);
        }
      }
    }), { numRuns: 300 });
  });

  it('passes pseudonymised copies and marks resets and withdrawals', () => {
    const w = new World('granted', false);
    const p = w.run([event(10, 'alice', 'view'), event(11, 'alice', 'deny'), event(12, 'alice', 'view'), event(13, 'bob', 'erase')]);
    const P = names.pseudonym('alice');
    expect(p.pass.map((x) => [x.offset, x.reset ?? null, x.event.userId])).toEqual([[10, null, P], [11, 'consent', P], [13, 'erasure', names.pseudonym('bob')]]);
    expect(p.outcomes).toEqual({ withdrawn_before: 0, passed: 3, no_consent: 1, anonymous: 0, erased_before: 0 });
    expect(p.withdrawn).toEqual(new Map([[P, { userId: 'alice', offset: 11 }], [names.pseudonym('bob'), { userId: 'bob', offset: 13 }]]));
    expect(p.erasures).toEqual([{ pseudonym: names.pseudonym('bob'), userId: 'bob', offset: 13, at: 1013, sweep: true, keepSubject: false }]);
    const alice = p.writes.find((x) => x.pseudonym === P)!;
    // The sealed id goes with the rights stage (sealedIds), not with the erase stage's consent writes.
    expect(alice.id).toBeUndefined();
    expect(p.sealedIds.map((x) => [x.pseudonym, names.unseal(x.id)])).toEqual([[P, 'alice']]);
    expect(JSON.parse(alice.consent!)).toEqual({ p: { personalization: ['denied', base.eventTime] }, h: [[11, 0]], s: `${TOPIC}:0` });
    expect(p.ids.get(P)).toBe('alice');
    // The original events are untouched.
    expect(p.pass.every((x) => x.event.userId !== 'alice')).toBe(true);
  });

  it('opt-in: nothing passes before a grant; anonymous aggregates pass marked events', () => {
    const w = new World('denied', true);
    const p = w.run([event(1, 'u', 'view'), event(2, 'u', 'grant'), event(3, 'u', 'view')]);
    expect(p.pass.map((x) => [x.offset, !!x.anonymous])).toEqual([[1, true], [3, false]]);
    expect(p.withdrawn.size).toBe(0);
  });

  it('a later personalized event ends a withdrawal and keeps the subject from the sweep', () => {
    const w = new World('granted', false);
    const p = w.run([event(1, 'u', 'erase'), event(2, 'u', 'view')]);
    expect(p.withdrawn.size).toBe(0);
    expect(p.erasures[0]).toMatchObject({ sweep: false });
  });

  it('skips events before a recorded erasure, by offset on its partition and by time on others', () => {
    const w = new World('granted', false);
    const entry: LedgerEntry = { v: 1, topic: TOPIC, partition: 0, offset: 5, at: 1005 };
    w.ledger.add(names.pseudonym('u'), entry);
    const p = w.run([event(4, 'u', 'view'), event(5, 'u', 'erase'), event(6, 'u', 'view')]);
    expect(p.pass.map((x) => x.offset)).toEqual([5, 6]);
    expect(p.outcomes.erased_before).toBe(1);
    const other = planRights([{ ...event(1, 'u', 'view'), timestamp: 1004 }, { ...event(2, 'u', 'view'), timestamp: 1005 }], {
      topic: TOPIC, partition: 1, names, subjects: new Map(), ledger: w.ledger, consentDefault: 'granted', anonymousAggregates: false,
    });
    expect(other.pass.map((x) => x.offset)).toEqual([2]);
  });

  it('a history recorded on another partition (the partition count changed) is carried over, not compared by offset', () => {
    const w = new World('granted', false);
    const P = names.pseudonym('alice');
    // Partition 0 at high offsets: denied at 1000000, granted again at 1000005.
    w.subjects.set(P, { id: null, consent: JSON.stringify({ p: { personalization: ['granted', 1] }, h: [[1000000, 0], [1000005, 1]], s: `${TOPIC}:0` }) });
    const batch = [event(500, 'alice', 'view'), event(501, 'alice', 'deny')];
    const p = w.run(batch, 1);
    // Personalized (the last stored change), nothing skipped as "before the withdrawal at 1000000", the denial passes.
    expect(p.outcomes).toEqual({ passed: 2, no_consent: 0, anonymous: 0, erased_before: 0, withdrawn_before: 0 });
    expect(p.pass.map((x) => [x.offset, x.reset ?? null])).toEqual([[500, null], [501, 'consent']]);
    expect(p.withdrawn.get(P)).toEqual({ userId: 'alice', offset: 501 });
    expect(p.clears).toEqual([{ pseudonym: P, offset: 501 }]);
    // Every stored entry kept (before this partition's offsets), the denial appended, the history now of partition 1.
    const written = JSON.parse(p.writes.find((x) => x.pseudonym === P)!.consent!);
    expect(written.h).toEqual([[-1, 0], [-1, 1], [501, 0]]);
    expect(written.s).toBe(`${TOPIC}:1`);
    // A replay on partition 1 after the writes decides the same, except the skip the recorded withdrawal covers.
    w.apply(p);
    const again = w.run(batch, 1);
    expect(again.outcomes).toEqual({ passed: 1, no_consent: 0, anonymous: 0, erased_before: 0, withdrawn_before: 1 });
    expect(again.pass.map((x) => [x.offset, x.reset ?? null])).toEqual([[501, 'consent']]);
    expect(again.writes).toEqual([]);
    // A later event on partition 1 starts from the denial.
    expect(w.run([event(502, 'alice', 'view')], 1).outcomes.no_consent).toBe(1);
  });

  it('a moved user denied on the old partition stays denied on the new one', () => {
    const w = new World('granted', false);
    const P = names.pseudonym('alice');
    w.subjects.set(P, { id: null, consent: JSON.stringify({ p: { personalization: ['denied', 1] }, h: [[7, 0]], s: `${TOPIC}:0` }) });
    const p = w.run([event(3, 'alice', 'view'), event(4, 'alice', 'grant'), event(5, 'alice', 'view')], 1);
    expect(p.pass.map((x) => x.offset)).toEqual([5]);
    expect(p.outcomes.no_consent).toBe(1);
    expect(JSON.parse(p.writes[0].consent!).h).toEqual([[-1, 0], [4, 1]]);
  });
});
