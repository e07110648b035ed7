import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { UserEvent } from '../../src/domain/events.js';
import { applyEvent, createFeatureView, emptyFeatureState, MINUTE, resolveFeatureConfig } from '../../src/stages/segments/features/index.js';
import { userEvent } from '../support/user-event.js';

const cfg = resolveFeatureConfig({ sessionGapMs: 30 * MINUTE, allowedLatenessMs: 24 * 60 * MINUTE });
const T0 = Date.UTC(2024, 0, 1);
const ev = (t: number): UserEvent => userEvent({ eventId: `e${t}`, userId: 'u', type: 'view', eventTime: t });
function sessions(times: number[]) {
  const s = emptyFeatureState();
  for (const t of times) applyEvent(s, ev(t), cfg);
  return { state: s, view: createFeatureView(s, cfg) };
}
const m = (x: number) => T0 + x * MINUTE;

describe('sessions', () => {
  it('a gap of exactly the inactivity gap starts a new session; less continues it', () => {
    expect(sessions([m(0), m(29)]).view.session(m(29)).count).toBe(1);
    expect(sessions([m(0), m(30)]).view.session(m(30)).count).toBe(2);
  });

  it('reports the current session length and events, and its end after the gap', () => {
    const { view } = sessions([m(0), m(10), m(25)]);
    expect(view.session(m(25))).toEqual({
      count: 1,
      active: true,
      currentLengthMs: 25 * MINUTE,
      currentEvents: 3,
      latestStart: m(0),
      latestEnd: m(25),
    });
    expect(view.session(m(55) - 1).active).toBe(true);
    const after = view.session(m(55));
    expect([after.active, after.currentLengthMs, after.currentEvents, after.count]).toEqual([false, 0, 0, 1]);
  });

  it('a late event extends a session backwards', () => {
    const { state } = sessions([m(40), m(50), m(20)]);
    expect(state.ses.open).toEqual([[m(20), m(50), 3]]);
  });

  it('a late event within the gap of two sessions merges them', () => {
    const { state, view } = sessions([m(0), m(50), m(25)]);
    expect(state.ses.open).toEqual([[m(0), m(50), 3]]);
    expect(view.session(m(50)).count).toBe(1);
  });

  it('a late event far from both neighbours splits the gap with a session of its own', () => {
    const { state, view } = sessions([m(0), m(100), m(50)]);
    expect(state.ses.open).toEqual([
      [m(0), m(0), 1],
      [m(50), m(50), 1],
      [m(100), m(100), 1],
    ]);
    expect(view.session(m(100)).count).toBe(3);
    expect(view.session(m(100)).currentEvents).toBe(1);
  });

  it('folds sessions no late event can reach into a counter', () => {
    const c = resolveFeatureConfig({ sessionGapMs: 30 * MINUTE, allowedLatenessMs: 10 * MINUTE });
    const s = emptyFeatureState();
    for (const t of [m(0), m(100), m(200), m(300)]) applyEvent(s, ev(t), c);
    // horizon = 300 - 10 - 30 = 260: sessions ending at or before it are closed
    expect(s.ses.closed).toBe(3);
    expect(s.ses.open).toEqual([[m(300), m(300), 1]]);
    expect(createFeatureView(s, c).session(m(300)).count).toBe(4);
  });

  it('property: any arrival order gives the sessions of the sorted events', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 40 }), fc.integer(), (mins, seed) => {
        const times = mins.map(m);
        const sorted = [...times].sort((a, b) => a - b);
        // reference: sessionize sorted events
        const ref: Array<[number, number, number]> = [];
        for (const t of sorted) {
          const last = ref[ref.length - 1];
          if (last && t - last[1] < 30 * MINUTE) {
            last[1] = t;
            last[2]++;
          } else ref.push([t, t, 1]);
        }
        const shuffled = [...times];
        let x = seed;
        for (let i = shuffled.length - 1; i > 0; i--) {
          x = (x * 1103515245 + 12345) & 0x7fffffff;
          const j = x % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        expect(sessions(shuffled).state.ses.open).toEqual(ref);
      }),
    );
  });
});
