import type { Command } from 'commander';
import { configFrom, kafkaFor, serviceOptions, codecFor } from '../shared.js';
import { ensureTopics, topicSpecs } from '../../kafka/topics.js';

export function register(program: Command) {
  serviceOptions(program.command('topics'))
    .description('create Attune\'s topics (if missing) and register its schemas')
    .action(async (opts) => {
      const cfg = configFrom(opts);
      const admin = kafkaFor(cfg).admin();
      await admin.connect();
      const created = await ensureTopics(admin, cfg);
      await admin.disconnect();
      await codecFor(cfg, 'register'); // registers the schemas under their TopicNameStrategy subjects
      for (const s of topicSpecs(cfg)) {
        process.stdout.write(`${created.includes(s.topic) ? 'created ' : 'exists  '} ${s.topic} (${s.partitions} partitions${s.compacted ? ', compacted' : ''})\n`);
      }
    });
}
