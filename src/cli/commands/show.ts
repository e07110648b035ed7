import type { Command } from 'commander';
import { configFrom, kafkaFor, serviceOptions, codecFor } from '../shared.js';
import { topicNames } from '../../config/config.js';
import { readTopicToEnd } from '../../output/read-topic.js';
import type { Recommendations } from '../../domain/events.js';

export function register(program: Command) {
  serviceOptions(program.command('show'))
    .argument('[users...]', 'user ids to show (default: the users with the most updates)')
    .description('read the recommendations topic to its end and print users\' current recommendations')
    .option('--top <n>', 'how many users to show when none are named', '5')
    .option('--items <n>', 'items to show per user', '5')
    .option('--json', 'print JSON instead of a table')
    .action(async (users: string[], opts) => {
      const cfg = configFrom(opts);
      const kafka = kafkaFor(cfg);
      const codec = await codecFor(cfg, 'lookup');
      const records = await readTopicToEnd(kafka, topicNames(cfg).recommendations);
      const { latest, updates, tombstoned } = await currentLists(records, async (v) => (await codec.decode(v, 10 * 1024 * 1024)) as unknown as Recommendations);
      const chosen = users.length > 0 ? users : [...updates.entries()].filter(([u]) => latest.has(u)).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, Number(opts.top)).map(([u]) => u);
      if (opts.json) {
        process.stdout.write(JSON.stringify(chosen.map((u) => latest.get(u) ?? { userId: u, items: [] }), null, 2) + '\n');
        return;
      }
      process.stdout.write(`${records.length} recommendation records: current lists of ${latest.size} users on ${topicNames(cfg).recommendations}` +
        `${tombstoned.size ? `; ${tombstoned.size} users have no current list (a tombstone: erased, or consent withdrawn)` : ''}\n`);
      for (const u of chosen) {
        const r = latest.get(u);
        if (!r) {
          process.stdout.write(`\nuser ${u}: ${tombstoned.has(u) ? 'no current list (tombstoned: erased, or consent withdrawn)' : 'no recommendations emitted'}\n`);
          continue;
        }
        process.stdout.write(`\nuser ${u} (${updates.get(u)} updates, strategy ${r.strategy}, source event ${r.sourceEventId})\n`);
        for (const [i, it] of r.items.slice(0, Number(opts.items)).entries()) {
          process.stdout.write(`  ${String(i + 1).padStart(2)}. ${it.itemId.padEnd(8)} ${it.score.toFixed(3)}  ${it.reasons.map((x) => x.text).join('; ')}\n`);
        }
      }
    });
}

/**
 * Every user's current list, as a compacted read of the topic would leave it: a later record replaces an earlier
 * one, and a tombstone (a null value: the user was erased or withdrew consent) leaves the user without a list.
 * `tombstoned`: the users whose last record is a tombstone.
 */
export async function currentLists<T>(
  records: ReadonlyArray<{ key: string | null; value: Buffer | null }>,
  decode: (value: Buffer) => Promise<T>,
): Promise<{ latest: Map<string, T>; updates: Map<string, number>; tombstoned: Set<string> }> {
  const latest = new Map<string, T>();
  const updates = new Map<string, number>();
  const tombstoned = new Set<string>();
  for (const r of records) {
    if (!r.key) continue;
    if (!r.value) {
      latest.delete(r.key);
      tombstoned.add(r.key);
      continue;
    }
    latest.set(r.key, await decode(r.value));
    tombstoned.delete(r.key);
    updates.set(r.key, (updates.get(r.key) ?? 0) + 1);
  }
  return { latest, updates, tombstoned };
}
