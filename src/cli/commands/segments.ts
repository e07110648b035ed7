import type { Command } from 'commander';
import { configFrom, serviceOptions } from '../shared.js';
import { createRedis } from '../../stores/redis-client.js';
import { FeatureStore } from '../../stages/segments/store.js';
import { loadSegmentSetup } from '../../stages/segments/processor.js';
import { SubjectStore } from '../../stores/subject-store.js';
import { SubjectIdentities } from '../../stages/rights/identities.js';
import { pseudonymizerFor } from '../../stages/rights/pseudonym.js';

/** `attune segments [--members id]`: member counts per segment (Redis), and the members of one segment. */
export function register(program: Command) {
  serviceOptions(program.command('segments'))
    .description('print the member count of every segment, and optionally the members of one segment (needs `members: true`)')
    .option('--members <segmentId>', 'also print the member user ids of this segment')
    .option('--json', 'print JSON instead of text')
    .action(async (opts) => {
      const cfg = configFrom(opts);
      // Members are shown by real id, unsealed with the deployment's key: check it before connecting anything.
      const names = opts.members ? pseudonymizerFor(cfg) : undefined;
      const redis = createRedis(cfg);
      try {
        const store = new FeatureStore(redis, cfg.keyPrefix);
        const counts = await store.segmentCounts();
        let configured: Array<{ id: string; members: boolean }> = [];
        try { configured = [...loadSegmentSetup(cfg).rules.segments]; } catch { /* rule file unreadable: counts only */ }
        const ids = [...new Set([...configured.map((s) => s.id), ...Object.keys(counts).filter((k) => (counts[k] ?? 0) !== 0)])];
        // Member sets hold pseudonyms (stages/rights/): the real ids are read from the subjects' sealed ids, which
        // needs the deployment's ATTUNE_PSEUDONYM_KEY. Members without one (erased meanwhile) are counted, not shown.
        let members: string[] | undefined;
        let unresolved = 0;
        if (opts.members) {
          const pseudonyms = await store.segmentMembers(String(opts.members));
          const ids = await new SubjectIdentities(new SubjectStore(redis, cfg.keyPrefix), names!, cfg.consentDefault).resolve(pseudonyms);
          members = pseudonyms.flatMap((p) => (ids.has(p) ? [ids.get(p)!] : [])).sort();
          unresolved = pseudonyms.length - members.length;
        }
        if (opts.json) {
          process.stdout.write(JSON.stringify({ counts: Object.fromEntries(ids.map((id) => [id, counts[id] ?? 0])), ...(members ? { segment: opts.members, members, unresolved } : {}) }, null, 2) + '\n');
          return;
        }
        for (const id of ids) {
          const s = configured.find((c) => c.id === id);
          process.stdout.write(`${id.padEnd(32)} ${String(counts[id] ?? 0).padStart(9)}${s ? (s.members ? '  (member set)' : '') : '  (not in the rule file)'}\n`);
        }
        if (members) {
          const s = configured.find((c) => c.id === opts.members);
          if (s && !s.members) process.stdout.write(`\nsegment ${opts.members} has no member set (add \`members: true\` to its rule and restart the worker)\n`);
          else {
            process.stdout.write(`\n${members.length} members of ${opts.members}:\n${members.join('\n')}${members.length ? '\n' : ''}`);
            if (unresolved) process.stdout.write(`(${unresolved} more without a readable id: erased meanwhile, or ATTUNE_PSEUDONYM_KEY is not the workers' key)\n`);
          }
        }
      } finally {
        await redis.quit().catch(() => {});
      }
    });
}
