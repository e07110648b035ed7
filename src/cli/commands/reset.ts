import type { Command } from 'commander';
import { configFrom, kafkaFor, serviceOptions } from '../shared.js';
import { topicSpecs } from '../../kafka/topics.js';
import { createRedis } from '../../stores/redis-client.js';
import { deleteKeysWithPrefix } from '../../stores/maintenance.js';

export function register(program: Command) {
  serviceOptions(program.command('reset'))
    .description('delete this deployment\'s topics and Redis state (by topic and key prefix)')
    .option('--yes', 'really delete')
    .option('--keep-topics', 'delete only the Redis state (e.g. before rebuilding it from the topics after a state loss)')
    .action(async (opts) => {
      const cfg = configFrom(opts);
      if (!opts.yes) throw new Error(`this deletes topics ${cfg.topicPrefix}.* and Redis keys ${cfg.keyPrefix}:*; add --yes to confirm`);
      let deleted: string[] = [];
      if (!opts.keepTopics) {
        const admin = kafkaFor(cfg).admin();
        await admin.connect();
        deleted = await admin.deleteTopics(topicSpecs(cfg).map((s) => s.topic));
        await admin.disconnect();
      }
      const redis = createRedis(cfg);
      const keys = await deleteKeysWithPrefix(redis, cfg.keyPrefix);
      await redis.quit();
      process.stdout.write(`deleted ${deleted.length} topics and ${keys} Redis keys\n`);
    });
}
