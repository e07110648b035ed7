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
  eventId: `e${n}`, userId, type, eventTime: 1_300_000_000_000 + 1000 * n++, itemId: type === 'consent' || type === 'erase' ? null : `i${n % 3}`,
  quantity: null, price: null, rating: null, sessionId: null, context: null, properties: {},
  ...(consent ? { consent: [{ purpose: 'personalization', status: consent }] } : {}),
});
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

describe('chaos rights injection', () => {
  const log: UserEvent[] = [];
  for (let i = 0; i < 20_000; i++) log.push(ev(`u${i % 2000}`, i % 7 === 0 ? 'purchase' : 'view'));

  it('is seeded, keeps time order and every original event, and injects the announced shares', () => {
    const a = injectRights(log, 42);
    expect(injectRights(log, 42)).toEqual(a);
    expect(a.events.filter((e) => e.type !== 'consent' && e.type !== 'erase')).toEqual(log);
    for (let i = 1; i < a.events.length; i++) expect(a.events[i]!.eventTime).toBeGreaterThanOrEqual(a.events[i - 1]!.eventTime);
    const { injected: x } = a;
    expect(a.events.length).toBe(log.length + x.withdrawals + x.regrants + x.erasures);
    expect(x.withdrawals).toBeGreaterThan(30); // ~60 of 2000
    expect(x.withdrawals).toBeLessThan(100);
    expect(x.regrants).toBeGreaterThan(5);
    expect(x.regrants).toBeLessThan(x.withdrawals);
    expect(x.erasures).toBeGreaterThan(8); // ~20
    expect(x.erasures).toBeLessThan(40);
    expect(x.erasuresWithLaterEvents).toBeGreaterThan(0);
    expect(new Set(a.events.map((e) => e.eventId)).size).toBe(a.events.length);
    // Withdrawn and erased users are disjoint, each erased once; a re-grant follows its user's withdrawal.
    const o = rightsOutcome(a.events, { consentDefault: 'granted', consentAnonymousAggregates: false });
    expect(o.resets).toEqual({ erasure: x.erasures, consent: x.withdrawals });
    const seen = new Map<string, string[]>();
    for (const e of a.events) if (e.type === 'consent' || e.type === 'erase') seen.set(e.userId, [...(seen.get(e.userId) ?? []), e.consent?.[0]?.status ?? e.type]);
    for (const l of seen.values()) expect(['erase', 'denied', 'revoked', 'denied,granted', 'revoked,granted']).toContain(l.join(','));
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
