/**
 * The ingest stage: per-user activity (counts by type, recent items, purchases) and global popularity, one
 * offset-gated script per user and one per micro-batch on the global keys (plan.ts says what each gets). Users are
 * keyed by pseudonym (the rights stage replaced the ids); a reset clears the user's activity at its offset, an
 * anonymous event counts in popularity only.
 */
import type { Config } from '../../config/config.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { StateStore } from '../../stores/state-store.js';
import type { EventBatch, StageFactory } from '../../topology/processor.js';
import { Keys } from '../../stores/keys.js';
import { planIngest } from './plan.js';

export const ingestStage: StageFactory<{ cfg: Config; store: StateStore; metrics: Metrics }, EventBatch> = {
  node: { name: 'ingest', does: 'activity counts, recent items, purchases; popularity', stores: ['{u}:counts', '{u}:recent', '{u}:purchased', '{u}:applied', '{g}:popularity'], sinks: [] },
  create({ cfg, store, metrics }) {
    return {
      node: this.node,
      async process(b) {
        const plan = planIngest(b.onTime);
        const field = Keys.partitionField(b.topic, b.partition);
        const users = [...plan.users.entries()];
        // Together: popularity's gate is per batch and the users' per user, so neither write depends on the other
        // (the in-flight cut, written before both, is what a replay of either relies on).
        const [appliedPerUser] = await Promise.all([
          Promise.all(users.map(([u, recs]) => store.applyUser(u, field, cfg.recentItems, recs))),
          store.applyPopularity(field, b.lastOffset, plan.popularity),
        ]);
        // Replays are what a user's offset gate skipped. Anonymous records have no per-user gate (popularity's is
        // per batch and does not say), and consent/erase records without a reset are not applied anywhere: both
        // count as applied, as every record did before.
        const perUser = users.reduce((n, [, recs]) => n + recs.length, 0);
        b.replayed = perUser - appliedPerUser.reduce((x, y) => x + y, 0);
        b.applied = b.onTime.length - b.replayed;
        for (const { event } of b.onTime) metrics.eventsIn.inc({ type: event.type, outcome: 'valid' });
        if (b.replayed > 0) metrics.eventsIn.inc({ type: 'any', outcome: 'replayed' }, b.replayed);
      },
    };
  },
};
