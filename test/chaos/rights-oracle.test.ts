/**
 * The verifier's independent rights oracle and the chaos harness's rights injection, by pure code (no services: it
 * sits beside the chaos test because it tests the chaos harness). If the oracle were wrong, the chaos verifier would
 * either hide a rights bug or report one that is not there.
 */
import { describe, it, expect } from 'vitest';
import type { ConsentChoice, UserEvent } from '../../src/domain/events.js';
import { rightsOutcome } from '../support/rights-oracle.js';
import { injectRights } from '../support/chaos.js';
import { checkSegmentChangesOfEndedUsers } from '../support/verifier.js';

let n = 0;
const ev = (userId: string, type: UserEvent['type'], consent?: ConsentChoice['status']): UserEvent => ({
  eventId: `e${n}`, userId, type, eventTime: 1_300_000_000_000 + 1000 * n++, itemId: type === 'consent' || type === 'erase' || type === 'identify' ? null : `i${n % 3}`,
  quantity: null, price: null, rating: null, sessionId: null, context: null, properties: {},
  ...(consent ? { consent: [{ purpose: 'personalization', status: consent }] } : {}),
});
/** An identify event of upstream: anonymous `userId` is `knownUserId`. */
const identify = (userId: string, knownUserId: string): UserEvent => ({ ...ev(userId, 'identify'), knownUserId });
const RIGHTS = new Set(['consent', 'erase', 'identify']);
const types = (l: UserEvent[] | undefined) => (l ?? []).map((e) => e.type);

describe('rights oracle', () => {
  it('counts ordinary events only while personalized, empties per-user state on a reset, keeps aggregates', () => {
    const log = [
      ev('a', 'view'), ev('a', 'purchase'), ev('a', 'consent', 'denied'), ev('a', 'view'), ev('a', 'consent', 'granted'), ev('a', 'click'),
      ev('b', 'purchase'), ev('b', 'erase'), ev('b', 'view'),
      ev('c', 'view'), ev('c', 'erase'),
      ev('d', 'view'), ev('d', 'consent', 'revoked'), ev('d', 'consent', 'granted'),
      ev('e', 'consent', 'granted'), ev('e', 'view'),
    ];
    const o = rightsOutcome(log, { consentDefault: 'granted', consentAnonymousAggregates: false });
    expect(types(o.survivors.get('a'))).toEqual(['click']);
    expect(types(o.survivors.get('b'))).toEqual(['view']);
    expect(types(o.survivors.get('c'))).toEqual([]);
    expect(types(o.survivors.get('e'))).toEqual(['view']);
    expect(Object.fromEntries(o.endings)).toEqual({ a: 'personalized', b: 'personalized', c: 'erased', d: 'withdrawn', e: 'personalized' });
    // a's view while denied is dropped; the purchases before resets stay in the aggregates.
    expect(o.dropped).toBe(1);
    expect(o.passing.filter((e) => e.type === 'purchase').map((e) => e.userId)).toEqual(['a', 'b']);
    expect(o.anonymous).toEqual([]);
    expect(o.resets).toEqual({ erasure: 2, consent: 2 });
    // A grant that was already in force, or a denial while denied, passes nothing.
    expect(o.steps.filter((s) => s.kind === 'reset').map((s) => s.kind === 'reset' && `${s.userId}:${s.cause}`)).toEqual(['a:consent', 'b:erasure', 'c:erasure', 'd:consent']);
  });

  it('opt-in: nothing passes before a grant; an erasure returns to the default; anonymous aggregates count in popularity only', () => {
    const log = [ev('a', 'purchase'), ev('a', 'consent', 'granted'), ev('a', 'view'), ev('a', 'erase'), ev('a', 'view'), ev('z', 'purchase')];
    const o = rightsOutcome(log, { consentDefault: 'denied', consentAnonymousAggregates: true });
    expect(types(o.survivors.get('a'))).toEqual([]);
    expect(o.endings.get('a')).toBe('erased');
    expect(o.endings.get('z')).toBe('never');
    expect(o.passing.map((e) => e.type)).toEqual(['view']);
    expect(o.anonymous.map((e) => `${e.userId}:${e.type}`)).toEqual(['a:purchase', 'a:view', 'z:purchase']);
    expect(o.dropped).toBe(3);
  });
});

describe('rights oracle: identity stitching', () => {
  const granted = { consentDefault: 'granted', consentAnonymousAggregates: false } as const;
  const ids = (l: UserEvent[] | undefined) => (l ?? []).map((e) => e.eventId);

  it('erases the anonymous user at its identify, and the known user gains its earlier events (not the later ones)', () => {
    const a1 = ev('anon', 'view');
    const a2 = ev('anon', 'purchase');
    const k1 = ev('k', 'view');
    const id = identify('anon', 'k');
    const a3 = ev('anon', 'view');
    const k2 = ev('k', 'purchase');
    const erased = [ev('gone', 'view'), identify('gone', 'k')];
    const log = [a1, k1, a2, id, a3, k2, ...erased];
    const o = rightsOutcome(log, granted);
    // The anonymous user restarts after the identify; the known user holds its own events and the moved ones.
    expect(ids(o.survivors.get('anon'))).toEqual([a3.eventId]);
    expect(ids(o.survivors.get('k')).sort()).toEqual([a1, a2, k1, k2, erased[0]!].map((e) => e.eventId).sort());
    expect(o.survivors.get('gone')).toEqual([]);
    expect(Object.fromEntries(o.endings)).toEqual({ anon: 'personalized', k: 'personalized', gone: 'erased' });
    // Each identify is an erasure of its user, with a merge into the known user right after it (no places given).
    expect(o.resets).toEqual({ erasure: 2, consent: 0 });
    expect(o.merges).toEqual({ identifies: 2, erasing: 2, applied: 2, dropped: 0, problems: [] });
    const shape = o.steps.map((s) => (s.kind === 'event' ? s.event.eventId : s.kind === 'reset' ? `reset:${s.userId}:${s.cause}:${s.identify}` : `merge:${s.from}>${s.userId}:${s.identify}`));
    expect(shape).toEqual([a1.eventId, k1.eventId, a2.eventId, `reset:anon:erasure:${id.eventId}`, `merge:anon>k:${id.eventId}`, a3.eventId, k2.eventId,
      erased[0]!.eventId, `reset:gone:erasure:${erased[1]!.eventId}`, `merge:gone>k:${erased[1]!.eventId}`]);
    // The aggregates count every passing event once: a merge adds none, an identify is not activity.
    expect(o.passing.map((e) => e.eventId)).toEqual([a1, k1, a2, a3, k2, erased[0]!].map((e) => e.eventId));
  });

  it('places a merge where its record landed among the known user\'s events, and reports missing or unexpected records', () => {
    const a1 = ev('anon', 'view');
    const k1 = ev('k', 'view');
    const id = identify('anon', 'k');
    const k2 = ev('k', 'view');
    const k3 = ev('k', 'view');
    const log = [a1, k1, id, k2, k3];
    // The record landed after k's second event: the merge comes after k2, before k3.
    const o = rightsOutcome(log, granted, new Map([[id.eventId, { knownEventsBefore: 2, offset: 7 }]]));
    const order = o.steps.map((s) => (s.kind === 'event' ? s.event.eventId : s.kind));
    expect(order).toEqual([a1.eventId, k1.eventId, 'reset', k2.eventId, 'merge', k3.eventId]);
    expect(o.merges.problems).toEqual([]);
    // A record before an event that the log has before the identify cannot be (it is produced after the identify).
    expect(() => rightsOutcome([a1, k1, k2, id, k3], granted, new Map([[id.eventId, { knownEventsBefore: 1, offset: 7 }]]))).toThrow(/not produced in log order/);
    // No record although there was a profile to move; a record naming no identify of the log.
    expect(rightsOutcome(log, granted, new Map()).merges.problems).toEqual([expect.stringMatching(/no merge record reached the known user k/)]);
    expect(rightsOutcome(log, granted, new Map([[id.eventId, { knownEventsBefore: 1, offset: 1 }], ['nope', { knownEventsBefore: 0, offset: 2 }]])).merges.problems)
      .toEqual([expect.stringMatching(/names identify event nope/)]);
  });

  it('an identify of a user not personalized moves nothing and erases nothing; a known user not personalized drops the merge', () => {
    const log = [
      ev('anon', 'view'), ev('anon', 'consent', 'denied'), ev('anon', 'view'), identify('anon', 'k'), ev('anon', 'view'), ev('k', 'view'),
      ev('b', 'view'), ev('k2', 'consent', 'denied'), identify('b', 'k2'),
    ];
    const o = rightsOutcome(log, granted);
    expect(o.survivors.get('anon')).toEqual([]);
    expect(o.endings.get('anon')).toBe('withdrawn');
    expect(types(o.survivors.get('k'))).toEqual(['view']);
    // b is erased all the same; k2 (withdrawn before: not personalized) gains nothing and still ends withdrawn.
    expect(o.endings.get('b')).toBe('erased');
    expect(o.survivors.get('k2')).toEqual([]);
    expect(o.endings.get('k2')).toBe('withdrawn');
    expect(o.merges).toEqual({ identifies: 2, erasing: 1, applied: 0, dropped: 1, problems: [] });
    expect(o.resets).toEqual({ erasure: 1, consent: 2 });
    expect(o.steps.some((s) => s.kind === 'merge')).toBe(false);
    // A record the worker produced for the unpersonalized identify is reported.
    // (b's record is produced all the same: k2's side drops it.)
    const places = new Map([[log[3]!.eventId, { knownEventsBefore: 0, offset: 1 }], [log[8]!.eventId, { knownEventsBefore: 1, offset: 2 }]]);
    const p = rightsOutcome(log, granted, places);
    expect(p.merges.problems).toEqual([expect.stringMatching(/not personalized: a merge record reached the known user k/)]);
    expect(p.merges.dropped).toBe(1);
    expect(types(p.survivors.get('k'))).toEqual(['view']);
  });
});

describe('chaos rights injection', () => {
  const log: UserEvent[] = [];
  for (let i = 0; i < 20_000; i++) log.push(ev(`u${i % 2000}`, i % 7 === 0 ? 'purchase' : 'view'));

  it('is seeded, keeps time order and every original event, and injects the announced shares', () => {
    const a = injectRights(log, 42);
    expect(injectRights(log, 42)).toEqual(a);
    expect(a.events.filter((e) => !RIGHTS.has(e.type))).toEqual(log);
    for (let i = 1; i < a.events.length; i++) expect(a.events[i]!.eventTime).toBeGreaterThanOrEqual(a.events[i - 1]!.eventTime);
    const { injected: x } = a;
    expect(a.events.length).toBe(log.length + x.withdrawals + x.regrants + x.erasures + x.identifies);
    expect(x.withdrawals).toBeGreaterThan(30); // ~60 of 2000
    expect(x.withdrawals).toBeLessThan(100);
    expect(x.regrants).toBeGreaterThan(5);
    expect(x.regrants).toBeLessThan(x.withdrawals);
    expect(x.erasures).toBeGreaterThan(8); // ~20
    expect(x.erasures).toBeLessThan(40);
    expect(x.erasuresWithLaterEvents).toBeGreaterThan(0);
    expect(x.identifies).toBeGreaterThan(8); // ~20
    expect(x.identifies).toBeLessThan(40);
    expect(x.identifiesWithLaterEvents).toBeGreaterThan(0);
    expect(x.identifiesWithLaterEvents).toBeLessThan(x.identifies);
    expect(x.knownUsers).toBeGreaterThan(0);
    expect(x.knownUsers).toBeLessThanOrEqual(x.identifies);
    expect(new Set(a.events.map((e) => e.eventId)).size).toBe(a.events.length);
    expect(a.events.filter((e) => e.type === 'identify').map((e) => e.eventId).sort()).toEqual(Array.from({ length: x.identifies }, (_, i) => `chaos-rights-identify-${i}`).sort());
    // Withdrawn, erased and identifying users are disjoint, each erased or identifying once; a re-grant follows its
    // user's withdrawal; every identify names a user of the log with no rights event, after an event of its own.
    const o = rightsOutcome(a.events, { consentDefault: 'granted', consentAnonymousAggregates: false });
    expect(o.resets).toEqual({ erasure: x.erasures + x.identifies, consent: x.withdrawals });
    expect(o.merges).toEqual({ identifies: x.identifies, erasing: x.identifies, applied: x.identifies, dropped: 0, problems: [] });
    const seen = new Map<string, string[]>();
    for (const e of a.events) if (RIGHTS.has(e.type)) seen.set(e.userId, [...(seen.get(e.userId) ?? []), e.consent?.[0]?.status ?? e.type]);
    for (const l of seen.values()) expect(['erase', 'identify', 'denied', 'revoked', 'denied,granted', 'revoked,granted']).toContain(l.join(','));
    const before = new Set<string>();
    for (const e of a.events) {
      if (e.type === 'identify') {
        expect(before.has(e.userId)).toBe(true);
        expect(e.knownUserId).toMatch(/^u\d+$/);
        expect(seen.has(e.knownUserId!)).toBe(false);
      } else if (!RIGHTS.has(e.type)) before.add(e.userId);
    }
    // Every identified user's events before it count for its known user.
    const want = new Map<string, number>();
    const own = new Map<string, number>();
    for (const e of a.events) if (!RIGHTS.has(e.type)) own.set(e.userId, (own.get(e.userId) ?? 0) + 1);
    for (const u of own.keys()) if (!seen.has(u)) want.set(u, own.get(u)!);
    const upTo = new Map<string, number>();
    for (const e of a.events) {
      if (e.type === 'identify') want.set(e.knownUserId!, want.get(e.knownUserId!)! + (upTo.get(e.userId) ?? 0));
      else if (!RIGHTS.has(e.type)) upTo.set(e.userId, (upTo.get(e.userId) ?? 0) + 1);
    }
    for (const [u, w] of want) expect(o.survivors.get(u)?.length).toBe(w);
  });
});

describe('segment changes against how users end', () => {
  const o = rightsOutcome([ev('a', 'view'), ev('a', 'erase'), ev('b', 'view'), ev('b', 'consent', 'denied'), ev('c', 'view')], { consentDefault: 'granted', consentAnonymousAggregates: false });
  const id = (u: string, seg: string, change: string, src: number) => JSON.stringify([u, seg, change, 0, 'x', `t:0:${src}`]);
  it('passes balanced enters and exits of ended users, flags one still in a segment and unknown ids', () => {
    expect(checkSegmentChangesOfEndedUsers([id('a', 's', 'enter', 0), id('a', 's', 'exit', 1), id('b', 's', 'enter', 2), id('b', 's', 'exit', 3), id('c', 's', 'enter', 4)], o)).toEqual([]);
    const wrong = checkSegmentChangesOfEndedUsers([id('a', 's', 'enter', 0), id('b', 's', 'enter', 2), id('Xq9-pseudonym', 's', 'enter', 5)], o);
    expect(wrong).toHaveLength(3);
  });
});
