import type { Command } from 'commander';
import { configFrom, kafkaFor, serviceOptions } from '../shared.js';
import { startApi } from '../../api/start.js';
import { newApiKey } from '../../api/auth.js';
import { log } from '../../log.js';

export function register(program: Command) {
  serviceOptions(program.command('api'))
    .description('serve the lookup API (docs/api.md) and the ops page at /ui/')
    .option('--group <id>', 'consumer group id of the workers (ATTUNE_GROUP_ID): the dead-letter reader\'s group is named after it')
    .action(async (opts) => {
      const cfg = configFrom(opts);
      const api = await startApi(cfg, kafkaFor(cfg));
      process.stdout.write(`attune api: ${api.url}/v1/…  ops page: ${api.url}/ui/  OpenAPI: ${api.url}/openapi.json\n`);
      const stop = (sig: string) => {
        log.info({ sig }, 'attune api stopping');
        void api.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });

  program.command('api-key')
    .description('manage API keys of `attune api`')
    .command('new')
    .argument('<name>', 'the key\'s name (letters, digits, . _ -): its rate limit is kept under it')
    .option('--rate-limit <n>', 'requests per minute', '600')
    .description('print a fresh random key (once: it is not stored) and the YAML entry to add to ATTUNE_API_KEYS_FILE (its hash only)')
    .action((name: string, opts: { rateLimit: string }) => {
      const limit = Number(opts.rateLimit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000) throw new Error(`--rate-limit ${opts.rateLimit}: give a whole number of requests per minute, 1 to 1000000`);
      const { key, entry } = newApiKey(name, limit);
      process.stdout.write(`key (give it to the client; it is not shown again): ${key}\n\nadd under \`keys:\` in the keys file:\n${entry}`);
    });
}
