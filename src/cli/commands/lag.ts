import type { Command } from 'commander';
import { configFrom, kafkaFor, serviceOptions } from '../shared.js';
import { topicNames } from '../../config/config.js';
import { groupLag } from '../../kafka/lag.js';
import { lagProgressFor } from '../lag-progress.js';

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
      // Progress on stderr (stdout keeps the one result line): a bar on a terminal, a line every 5 s otherwise.
      const progress = opts.wait ? lagProgressFor(process.stderr) : null;
      try {
        for (;;) {
          const { lag, end } = await groupLag(admin, cfg.groupId, topic);
          if (!opts.wait) { process.stdout.write(`${topic}: ${end} events, group ${cfg.groupId} lag ${lag}\n`); return; }
          progress!.update({ lag, end, at: Date.now() });
          if (lag === 0 && end > 0) {
            progress!.stop();
            process.stdout.write(`caught up: ${end} events processed by ${cfg.groupId}\n`);
            return;
          }
          if (Date.now() > deadline) throw new Error(`group ${cfg.groupId} still ${lag} events behind after ${opts.timeout}s`);
          await new Promise((r) => setTimeout(r, 1000));
        }
      } finally {
        progress?.stop();
        await admin.disconnect();
      }
    });
}
