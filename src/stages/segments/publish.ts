/**
 * The output side shared by micro-batches, punctuations and rules re-evaluations: member count deltas applied
 * once per sequence number, segment changes produced with their source header, and the metrics that follow.
 */
import type { OutboundRecord, StreamProducer } from '../../kafka/port.js';
import type { Codec } from '../decode/codec.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { TopicNames } from '../../config/config.js';
import type { CompiledSegments } from './core/compile.js';
import type { FeatureStore } from './store.js';
import type { PendingChange } from './stored.js';
import type { Identities } from '../rights/identities.js';
import type { SegmentChange } from '../../domain/events.js';
import { log } from '../../log.js';

export interface PublishDeps {
  topics: TopicNames;
  codec: Codec;
  store: FeatureStore;
  producer: StreamProducer;
  metrics: Metrics;
  rules: CompiledSegments;
  /** Pseudonym → real id: the stage's state knows users by pseudonym, its output records by their real id. */
  identities: Identities;
}

/**
 * The output records of `changes` (userId = pseudonym), keyed by and carrying the real user id: one `resolve` for
 * the whole list. A change whose pseudonym does not resolve (the user was erased meanwhile) yields no record; only
 * their number is logged (never an id or a pseudonym). `headers` gives each record's headers.
 */
export async function segmentChangeRecords<C extends SegmentChange>(
  d: Pick<PublishDeps, 'codec' | 'identities'>, changes: readonly C[], headers: (c: C) => Record<string, string>, where: Record<string, unknown>,
): Promise<OutboundRecord[]> {
  if (changes.length === 0) return [];
  const ids = await d.identities.resolve(new Set(changes.map((c) => c.userId)));
  const out: OutboundRecord[] = [];
  let unresolved = 0;
  for (const c of changes) {
    const id = ids.get(c.userId);
    if (id === undefined) {
      unresolved++;
      continue;
    }
    const change: SegmentChange = { userId: id, segmentId: c.segmentId, change: c.change, eventTime: c.eventTime, cause: c.cause, emittedAt: c.emittedAt };
    out.push({ key: id, value: await d.codec.encodeSegmentChange(change), headers: headers(c) });
  }
  if (unresolved) log.debug({ ...where, changes: unresolved }, 'segment changes of users no longer known (erased meanwhile) not emitted');
  return out;
}

/**
 * Counts the changes with a sequence up to `last` under `field` (a replay skips the sequences already counted),
 * then produces every change (downstream dedupes by attune.source) and counts the fresh ones in the metrics.
 * `send` produces the records; a micro-batch hands them to the emit stage instead (SegmentProcessor.process).
 */
export async function countAndEmit(
  d: PublishDeps, topic: string, partition: number, field: string, last: number,
  changes: PendingChange[], fresh: PendingChange[], seq: (c: PendingChange) => number,
  send: (out: OutboundRecord[]) => Promise<void> = (out) => d.producer.send(d.topics.segmentChanges, out),
): Promise<void> {
  // Changes of steps after `last` (carried from users ahead of the partition) are counted by a later batch.
  const deltas: Array<[number, string, number]> = changes
    .filter((c) => seq(c) <= last)
    .map((c) => [seq(c), c.segmentId, c.change === 'enter' ? 1 : -1]);
  await d.store.applyCounts(field, last, deltas);
  const out = await segmentChangeRecords(d, changes, (c) => ({ 'attune.source': `${topic}:${partition}:${c.o}` }), { topic, partition });
  if (out.length) await send(out);
  for (const c of fresh) d.metrics.segmentChanges.inc({ segment: c.segmentId, change: c.change });
}

/** Sets the attune_segment_members gauge of every configured segment from the stored counts. */
export async function refreshMemberGauges(d: Pick<PublishDeps, 'store' | 'metrics' | 'rules'>): Promise<void> {
  const counts = await d.store.segmentCounts();
  for (const s of d.rules.segments) d.metrics.segmentMembers.set({ segment: s.id }, counts[s.id] ?? 0);
}

/**
 * Reads the members gauge from the stored counts when /metrics is scraped, rather than after every micro-batch
 * with changes (a round trip on the micro-batch's path, for a value only a scrape reads). A failed read keeps the
 * last values and is logged; the scrape itself does not fail.
 */
export function refreshMemberGaugesOnScrape(d: Pick<PublishDeps, 'store' | 'metrics' | 'rules'>): void {
  (d.metrics.segmentMembers as unknown as { collect?: () => Promise<void> }).collect = () =>
    refreshMemberGauges(d).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'segment member counts not read for /metrics: the gauge keeps its last values'));
}
