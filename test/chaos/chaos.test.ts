/**
 * kill -9 chaos, CI size: the first ~100k events of the bundled data set replayed over ~60 s into 3 worker processes
 * in one group on the 3-master Redis Cluster, a random worker SIGKILLed every uniform(0, 6) s and restarted at once;
 * then catch-up, SIGTERM (exit 0), and the verifier: state key by key equal to a fault-free reference run, every
 * event counted exactly once, co-occurrence rows equal to the offline recommender, and a recommendation record for
 * every user. Consent withdrawals, re-grants, erasures and identify events are injected into the log (seeded, see
 * injectRights): the verifier checks them against an independent oracle (nothing counted without consent, nothing
 * of an erased or identified anonymous user left, its events counted for the known user it identified as, a
 * tombstone as last list of a user ending without personalization), and the merge records the workers produced
 * against the fault-free run's (same records, same profiles).
 * The long version (full data set, 300 s) is `npm run chaos` (bench/chaos.ts), same harness.
 *
 * Sizes can be overridden for a quick local try: CHAOS_EVENTS, CHAOS_SECONDS; CHAOS_SEED replays a kill schedule.
 */
import { describe, it, expect } from 'vitest';
import { runChaos } from '../support/chaos.js';

const EVENTS = Number(process.env.CHAOS_EVENTS) || 100_000;
const SECONDS = Number(process.env.CHAOS_SECONDS) || 60;

describe('kill -9 chaos: 3 workers, 3-master Redis Cluster', () => {
  it(`${EVENTS} events over ${SECONDS} s with a SIGKILL every 0-6 s: exact state, nothing lost or doubled, a list per user`, async () => {
    const { figures, report } = await runChaos({ limit: EVENTS, chaosSeconds: SECONDS, log: (s) => console.log(s) });
    expect(figures.kills).toBeGreaterThanOrEqual(Math.min(5, Math.floor(SECONDS / 6)));
    // Kills must hit workers that own partitions, not only processes still starting (start-up takes 5-15 s here,
    // longer than the mean gap between kills, so in 60 s about 7-11 of ~20 kills hit a member).
    expect(figures.killsOfMembers).toBeGreaterThanOrEqual(Math.min(3, Math.floor(SECONDS / 20)));
    expect(figures.finalExitCodes).toEqual(figures.finalExitCodes.map(() => 0));
    expect(report.mismatches).toEqual([]);
    expect(report.mismatchCount).toBe(0);
    expect(report.lost).toBe(0);
    expect(report.doubled).toBe(0);
    expect(report.usersWithoutRecs).toBe(0);
    // Every event of the data set and every injected rights and feedback event is valid.
    const injected = figures.rights.withdrawals + figures.rights.regrants + figures.rights.erasures + figures.rights.identifies
      + figures.feedback.impressions + figures.feedback.forged + figures.feedback.clicks;
    expect(figures.events).toBe(EVENTS + injected);
    expect(report.events).toBe(figures.events);
    // The rights events were there and were checked: some users end erased, some withdrawn, some erased users
    // came back (state restarted from their later events), and the tombstones are on the output.
    expect(figures.rights.withdrawals).toBeGreaterThan(0);
    expect(figures.rights.erasures).toBeGreaterThan(0);
    expect(figures.rights.erasuresWithLaterEvents).toBeGreaterThan(0);
    expect(report.input.rights.consentEvents).toBe(figures.rights.withdrawals + figures.rights.regrants);
    expect(report.input.rights.eraseEvents).toBe(figures.rights.erasures);
    expect(report.input.rights.erasedChecked).toBeGreaterThan(0);
    // Identity stitching: identifies were there (some followed by events of a new anonymous profile), each erased
    // its anonymous user and merged into its known user, and the merge records on the events topic are exactly the
    // fault-free run's, profile for profile.
    expect(figures.rights.identifies).toBeGreaterThan(0);
    expect(figures.rights.identifiesWithLaterEvents).toBeGreaterThan(0);
    expect(report.input.rights.identifyEvents).toBe(figures.rights.identifies);
    expect(report.input.rights.merges.erasing).toBe(figures.rights.identifies);
    expect(report.input.rights.merges.applied).toBeGreaterThan(0);
    expect(report.merges.problems).toEqual([]);
    expect(report.merges.distinct).toBe(report.input.rights.merges.applied + report.input.rights.merges.dropped);
    expect(report.merges.profilesEqual).toBe(report.merges.distinct);
    expect(report.merges.topicRecords).toBe(figures.events + report.merges.records);
    expect(report.input.rights.withdrawnChecked).toBeGreaterThan(0);
    expect(report.recommendations.tombstones).toBeGreaterThan(0);
    expect(report.recommendations.wrong).toEqual([]);
    expect(report.segmentChanges.rights).toEqual([]);
    expect(report.keysCompared).toBeGreaterThan(report.users * 4);
    // The experiment feedback was there and its impression and click counts were checked against the log.
    expect(figures.feedback.impressions).toBeGreaterThan(0);
    expect(figures.feedback.clicks).toBeGreaterThan(0);
    expect(report.input.experimentFieldsChecked).toBeGreaterThan(0);
    // Every emitted list's A/B variant, whichever worker emitted it, is the offline assignment (else in `wrong`).
    expect(report.recommendations.assignmentsChecked).toBeGreaterThan(report.users);
  }, 600_000);
});
