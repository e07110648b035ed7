/**
 * The rights stages of the events chain (docs/privacy.md):
 *  - `rights`, after dead-letter, before segments: reads the batch users' subject hashes, runs the pure plan
 *    (plan.ts) and replaces `b.valid` by what the per-user stages may see (pseudonymised, without events lacking
 *    consent or before a recorded erasure, resets marked), fills `b.withdrawn`, and teaches Identities the batch's ids;
 *    for identify events (identity stitching, merge.ts) it produces the anonymous profiles re-keyed to the known
 *    users and appends their ledger entries before any per-user stage runs, or asks the chain for a cut (`b.cutBefore`);
 *  - `erase`, after emit (so everything of the micro-batch is applied and produced): (1) appends the ledger entries
 *    and waits for the ack, (2) writes the subject hashes, (3) sweeps the users erased with no later personalized
 *    event, and those whose consent was withdrawn (keeping their subject hash). Every step is idempotent, so a retry or a replay redoes them harmlessly.
 * Erasures are logged by count only: never an id or a pseudonym.
 */
import type { Config } from '../../config/config.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { SubjectStore } from '../../stores/subject-store.js';
import type { EventBatch, StageFactory } from '../../topology/processor.js';
import { log } from '../../log.js';
import type { SubjectIdentities } from './identities.js';
import type { ErasureLedger } from './ledger.js';
import { planRights, type RightsOutcome, type RightsPlan } from './plan.js';
import type { Pseudonymizer } from './pseudonym.js';
import { isEmptyProfile } from '../../domain/profile.js';
import { mergeRecord, type ProfileMerges } from './merge.js';

/** What both rights stages share: the worker's pseudonymizer, ledger, subjects store and identities. */
export interface RightsRuntime {
  names: Pseudonymizer;
  ledger: ErasureLedger;
  subjects: SubjectStore;
  identities: SubjectIdentities;
  /** Compiled segments that keep member sets (the sweep removes the user from them). */
  memberSegments: () => readonly string[];
  /** The rights stage's plan of a micro-batch, for the erase stage of the same micro-batch. */
  plans: WeakMap<EventBatch, RightsPlan>;
  /** Identity stitching's snapshots and merge records. */
  merges: ProfileMerges;
}

export interface RightsDeps {
  cfg: Pick<Config, 'consentDefault' | 'consentAnonymousAggregates'>;
  rights: RightsRuntime;
  metrics: Metrics;
}

const OUTCOMES: readonly RightsOutcome[] = ['passed', 'no_consent', 'anonymous', 'erased_before', 'withdrawn_before'];

export const rightsStage: StageFactory<RightsDeps, EventBatch> = {
  node: { name: 'rights', does: 'consent, erasure ledger, pseudonyms (the per-user stages see no raw id), identify: profile re-keyed to the known user', stores: ['{u}:subject'], sinks: [] },
  create({ cfg, rights, metrics }) {
    return {
      node: this.node,
      async process(b) {
        const timestamps = new Map(b.records.map((r) => [Number(r.offset), Number(r.timestamp)]));
        const inputs = b.valid.map((v) => ({ offset: v.offset, event: v.event, timestamp: timestamps.get(v.offset) ?? b.now }));
        const users = new Set(inputs.map((x) => x.event.userId));
        const subjects = await rights.subjects.load([...users].map((u) => rights.names.pseudonym(u)));
        const plan = planRights(inputs, {
          topic: b.topic, partition: b.partition, names: rights.names, subjects, ledger: rights.ledger,
          consentDefault: cfg.consentDefault, anonymousAggregates: cfg.consentAnonymousAggregates,
        });
        if (plan.cutBefore !== null) {
          // Nothing written: the chain runs the records before the identify, then the rest, as two micro-batches.
          b.cutBefore = plan.cutBefore;
          return;
        }
        // New users' sealed ids before the later stages run: an output stage that misses the identities cache
        // (LRU eviction) reads the id from Redis, so the id must be there before segments/recommend/emit ask.
        // Guarded and idempotent (the same bytes on a replay); only users without it, so steady state writes nothing.
        if (plan.sealedIds.length) await rights.subjects.write(plan.sealedIds);
        if (plan.merges.length) await produceMerges(b, plan, rights, metrics);
        b.valid = plan.pass;
        b.withdrawn = plan.withdrawn;
        for (const [p, id] of plan.ids) rights.identities.remember(p, id);
        rights.plans.set(b, plan);
        for (const o of OUTCOMES) if (plan.outcomes[o]) metrics.rightsEvents.inc({ outcome: o }, plan.outcomes[o]);
        if (plan.unreadable) log.warn({ topic: b.topic, partition: b.partition, unreadable: plan.unreadable }, 'stored consent that does not parse: treated as none (ATTUNE_CONSENT_DEFAULT)');
      },
    };
  },
};

/**
 * The merge records of the plan's identify events (merge.ts): snapshots read before any per-user stage of this
 * micro-batch writes, produced and acked, then the identify's ledger entries appended and acked (a replay that
 * finds them does not produce again). An empty profile (nothing stored) needs no record.
 */
async function produceMerges(b: EventBatch, plan: RightsPlan, rights: RightsRuntime, metrics: Metrics): Promise<void> {
  const snaps = await Promise.all(plan.merges.map((m) => rights.merges.snapshot(m.pseudonym)));
  const records = plan.merges.flatMap((m, i) => (isEmptyProfile(snaps[i].profile) ? [] : [mergeRecord(b.topic, b.partition, m, snaps[i].profile)]));
  if (records.length) await rights.merges.send(records);
  await rights.ledger.append(plan.merges.map((m) => ({
    pseudonym: m.pseudonym, entry: { v: 1, topic: b.topic, partition: b.partition, offset: m.offset, at: m.at },
  })));
  const unreadable = snaps.reduce((n, s) => n + s.unreadable, 0);
  metrics.identityMerges.inc(records.length);
  // Counts only: never an id or a pseudonym.
  log.info({ topic: b.topic, partition: b.partition, identifies: plan.merges.length, produced: records.length, unreadable }, 'anonymous profiles re-keyed to known users');
}

export const eraseStage: StageFactory<Omit<RightsDeps, 'cfg'>, EventBatch> = {
  node: { name: 'erase', does: 'erasure ledger (acked), subject hashes, sweep of erased users', stores: ['{u}:*', '{p}:users|timers|members:*', '{i}:holders'], sinks: [] },
  create({ rights, metrics }) {
    return {
      node: this.node,
      async process(b) {
        const plan = rights.plans.get(b);
        if (!plan) return;
        rights.plans.delete(b);
        // (1) The ledger first: once a user's state is gone, only the ledger keeps a replay or a rebuild from
        // bringing it back, so it must be on the broker before anything is deleted.
        await rights.ledger.append(plan.erasures.map((e) => ({
          pseudonym: e.pseudonym, entry: { v: 1, topic: b.topic, partition: b.partition, offset: e.offset, at: e.at },
        })));
        // (2) The subjects' consent (histories; the sealed ids were written by the rights stage), (3) the sweep.
        if (plan.writes.length) await rights.subjects.write(plan.writes);
        // Users who withdrew their consent are swept too, keeping the subject hash (their consent): no profile stays.
        const swept = [
          ...plan.erasures.filter((e) => e.sweep).map((e) => ({ pseudonym: e.pseudonym, keepSubject: e.keepSubject })),
          ...plan.clears.map((c) => ({ pseudonym: c.pseudonym, keepSubject: true })),
        ];
        const segments = rights.memberSegments();
        await Promise.all(swept.map((e) => rights.subjects.sweep(e.pseudonym, e.keepSubject, segments)));
        for (const e of swept) rights.identities.forget(e.pseudonym);
        if (plan.erasures.length) {
          metrics.erasures.inc(plan.erasures.length);
          log.info({ topic: b.topic, partition: b.partition, erasures: plan.erasures.length, swept: swept.length }, 'erasures carried out');
        }
      },
    };
  },
};
