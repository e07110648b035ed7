/**
 * Rules re-evaluation ("changing the rule file and restarting re-evaluates every known user"), the I/O around
 * the pure `reevaluateUsers`. It writes through the same CAS scripts as a micro-batch (processor.ts header):
 *  - The segstate hash stores `rules`, the fingerprint of the rules its users were evaluated with. Before the
 *    first micro-batch or punctuation of a partition (and as a job at assignment, on the partition's task), a
 *    worker whose fingerprint differs re-evaluates every known user at the partition's watermark W: changes with
 *    cause "rules", event time W and source offset o (the partition's last offset), new timers, member sets; then
 *    it stores the fingerprint (and increments `rgen`). It is deferred (nothing written) while the state is not
 *    at rest: progress < o, or a user ahead of the partition (a crashed batch is replayed first).
 *  - Per chunk of users (sorted ids, stable since no batch runs until it completes): produce the changes → count
 *    them under `r:<topic>:<partition>` with sequence rgen·1e9 + the user's index (so a re-run skips deltas
 *    already counted) → CAS-write the users (offset unchanged) → timers and member sets through the partition
 *    script (CAS on o and wm).
 *  - Users a reset left empty (feature state with no event, n = 0) are not evaluated: the reference engine has
 *    forgotten them (core/engine.ts), and an empty profile must not enter a segment no event put it in.
 *  - Records carry the real user id (publish.ts `segmentChangeRecords`, one resolve per chunk); a user erased
 *    meanwhile gets no record, its counts and state are written all the same.
 *  - A crash re-runs it from the start at the next assignment / batch: users already written yield no change,
 *    the others recompute the same changes (re-emitted, counted once). Only a restart with yet other rules
 *    between the crash and the re-run can leave an emitted change that its re-run does not confirm.
 */
import { log } from '../../log.js';
import { Keys } from '../../stores/keys.js';
import type { FeatureConfig } from './features/config.js';
import { segmentChangeRecords, type PublishDeps } from './publish.js';
import { memberSegmentIds, memberStates, reevaluateUsers } from './reevaluate-users.js';

export interface RulesReevaluationDeps extends PublishDeps {
  featureConfig: FeatureConfig;
}

export class RulesReevaluation {
  /** Partitions (`topic:partition`) found evaluated with this worker's rules since the last reset. */
  private readonly confirmed = new Set<string>();
  constructor(
    private readonly d: RulesReevaluationDeps,
    private readonly now: () => number,
  ) {}

  /** Forgets which partitions were found evaluated with this worker's rules (call on every assignment). */
  reset(): void {
    this.confirmed.clear();
  }

  /**
   * Re-evaluates every known user of the partition when the stored rules fingerprint is not this worker's (see
   * the header). Must run on the partition's task. Returns the number of changes emitted, or null when deferred
   * (the partition state is not at rest yet: a later micro-batch or punctuation tries again).
   */
  async ensure(topic: string, partition: number, chunkSize = 500): Promise<number | null> {
    const { d } = this;
    const key = `${topic}:${partition}`;
    if (this.confirmed.has(key)) return 0;
    const fp = d.rules.fingerprint;
    const stored = await d.store.loadPartition(topic, partition);
    if (stored.rules === fp) {
      this.confirmed.add(key);
      return 0;
    }
    const progress = await d.store.readProgress(topic, partition);
    if (progress < stored.offset) return null;
    const ids = await d.store.knownUsers(topic, partition);
    const offsets = await d.store.userOffsets(ids, topic, partition);
    if (offsets.some((o) => o > stored.offset)) return null;
    const W = stored.watermark;
    const base = stored.rgen * 1e9;
    const field = Keys.rulesField(topic, partition);
    const partitionNext = { offset: stored.offset, watermark: W, wall: stored.wall ?? this.now(), late: stored.late, pending: stored.pending };
    const emittedAt = this.now();
    let emitted = 0;
    for (let start = 0; W !== null && start < ids.length; start += chunkSize) {
      // Users without feature state of this partition (offset -1) are not evaluated: no event, no segment.
      const seqOf = new Map<string, number>();
      for (let i = start; i < Math.min(start + chunkSize, ids.length); i++) if (offsets[i]! >= 0) seqOf.set(ids[i]!, base + i + 1);
      const chunk = [...seqOf.keys()];
      const loaded = await Promise.all(chunk.map((id) => d.store.loadUser(id, topic, partition)));
      const plan = reevaluateUsers(chunk, loaded, W, d.rules, d.featureConfig, emittedAt);
      const last = base + Math.min(start + chunkSize, ids.length);
      const headers = { 'attune.source': `${topic}:${partition}:${stored.offset}`, 'attune.rules': `${fp}:${stored.rgen + 1}` };
      const out = await segmentChangeRecords(d, plan.changes, () => headers, { topic, partition });
      if (out.length) await d.producer.send(d.topics.segmentChanges, out);
      await d.store.applyCounts(field, last, plan.changes.map((c) => [seqOf.get(c.userId)!, c.segmentId, c.change === 'enter' ? 1 : -1]));
      await Promise.all(plan.writes.map(([id, u]) => d.store.commitUser(id, topic, partition, u.offset, u.offset, u)));
      const finals = new Map(plan.finals.map(([id, u]) => [id, u.segments] as [string, string[]]));
      await d.store.commitPartition(topic, partition, stored.raw, partitionNext, plan.finals.map(([id, u]) => [id, u.due === null ? false : u.due]), {
        members: memberStates(memberSegmentIds(d.rules), finals),
      });
      for (const c of plan.changes) d.metrics.segmentChanges.inc({ segment: c.segmentId, change: c.change });
      emitted += plan.changes.length;
    }
    await d.store.commitPartition(topic, partition, stored.raw, partitionNext, [], { fingerprint: fp, memberSegments: memberSegmentIds(d.rules) });
    this.confirmed.add(key);
    log.info({ topic, partition, users: ids.length, changes: emitted, watermark: W }, 'segment rules changed: re-evaluated the partition\'s known users');
    return emitted;
  }
}
