/** The topology's topics and how Attune creates them (auto topic creation is off on the broker). */
import type { Config } from '../config/config.js';
import { topicNames } from '../config/config.js';
import type { StreamAdmin, TopicSpec } from './port.js';

/** retention.ms of the model changelog. */
export const MODEL_CHANGELOG_RETENTION_MS = 3_600_000;

export function topicSpecs(cfg: Pick<Config, 'topicPrefix' | 'partitions'> & Partial<Pick<Config, 'erasuresTopic'>>): TopicSpec[] {
  const t = topicNames(cfg);
  return [
    // Append time, not the producer's clock: lateness, the watermark cap and the future-time rule are judged
    // against the record's timestamp, which must then be the same in every replay and beyond a producer's reach.
    { topic: t.events, partitions: cfg.partitions, logAppendTime: true },
    { topic: t.items, partitions: cfg.partitions, compacted: true },
    { topic: t.recommendations, partitions: cfg.partitions, compacted: true },
    { topic: t.segmentChanges, partitions: cfg.partitions },
    { topic: t.dlq, partitions: 1 },
    // The erasure ledger (stages/rights/ledger.ts): every worker reads all of it at start-up; compacted, so it keeps
    // one entry per erased user for ever (the entries hold pseudonyms and offsets, no personal data).
    { topic: t.erasures, partitions: 1, compacted: true },
    // The shared model's changelog: only live propagation between workers (a starting worker reads the rows in Redis,
    // then the changelog from its end), so an hour of it is plenty.
    { topic: t.modelChangelog, partitions: 1, retentionMs: MODEL_CHANGELOG_RETENTION_MS },
  ];
}

export async function ensureTopics(admin: StreamAdmin, cfg: Pick<Config, 'topicPrefix' | 'partitions'> & Partial<Pick<Config, 'erasuresTopic'>>): Promise<string[]> {
  return admin.ensureTopics(topicSpecs(cfg));
}
