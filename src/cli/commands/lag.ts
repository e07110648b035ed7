import type { Command } from 'commander';
import { configFrom, kafkaFor, serviceOptions } from '../shared.js';
import { topicNames } from '../../config/config.js';
import { groupLag } from '../../kafka/lag.js';

export function register(program: Command) {
  serviceOptions(program.command('lag'))
    .description('print the worker group\'s lag on the events topic; --wait blocks until it is 0')
    .option('--group <id>', 'consumer group id (ATTUNE_GROUP_ID)')
    .option('--wait', 'wait until the group has caught up')
    .option('--timeout <s>', 'give up waiting after this many seconds', '600')
    .action(async (opts) => {
      const cfg = configFrom(opts);
      const admin = kafkaFor(cfg).admin();
      await admin.connect();
      const topic = topicNames(cfg).events;
      const deadline = Date.now() + Number(opts.timeout) * 1000;
      try {
        for (;;) {
          const { lag, end } = await groupLag(admin, cfg.groupId, topic);
          if (!opts.wait) { process.stdout.write(`${topic}: ${end} events, group ${cfg.groupId} lag ${lag}\n`); return; }
          if (lag === 0 && end > 0) { process.stdout.write(`caught up: ${end} events processed by ${cfg.groupId}\n`); return; }
          if (Date.now() > deadline) throw new Error(`group ${cfg.groupId} still ${lag} events behind after ${opts.timeout}s`);
          process.stderr.write(`\rlag ${lag} / ${end} events   `);
          await new Promise((r) => setTimeout(r, 1000));
        }
      } finally {
        await admin.disconnect();
      }
    });
}
