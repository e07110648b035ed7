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
      const latest = new Map<string, Recommendations>();
      const updates = new Map<string, number>();
      for (const r of records) {
        if (!r.key || !r.value) continue;
        latest.set(r.key, (await codec.decode(r.value, 10 * 1024 * 1024)) as unknown as Recommendations);
        updates.set(r.key, (updates.get(r.key) ?? 0) + 1);
      }
      const chosen = users.length > 0 ? users : [...updates.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, Number(opts.top)).map(([u]) => u);
      if (opts.json) {
        process.stdout.write(JSON.stringify(chosen.map((u) => latest.get(u) ?? { userId: u, items: [] }), null, 2) + '\n');
        return;
      }
      process.stdout.write(`${records.length} recommendation records for ${latest.size} users on ${topicNames(cfg).recommendations}\n`);
      for (const u of chosen) {
        const r = latest.get(u);
        if (!r) { process.stdout.write(`\nuser ${u}: no recommendations emitted\n`); continue; }
        process.stdout.write(`\nuser ${u} (${updates.get(u)} updates, strategy ${r.strategy}, source event ${r.sourceEventId})\n`);
        for (const [i, it] of r.items.slice(0, Number(opts.items)).entries()) {
          process.stdout.write(`  ${String(i + 1).padStart(2)}. ${it.itemId.padEnd(8)} ${it.score.toFixed(3)}  ${it.reasons.map((x) => x.text).join('; ')}\n`);
        }
      }
    });
}
