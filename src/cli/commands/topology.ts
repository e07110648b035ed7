import type { Command } from 'commander';
import { configFrom } from '../shared.js';
import { topicNames } from '../../config/config.js';
import { buildTopology, toMermaid } from '../../topology/topology.js';

export function register(program: Command) {
  program
    .command('topology')
    .description('print the topology (source topics, stages, stores, sinks, timers) as a Mermaid flowchart')
    .option('--topic-prefix <prefix>', 'topic name prefix (ATTUNE_TOPIC_PREFIX)')
    .action((opts) => {
      process.stdout.write(toMermaid(buildTopology(topicNames(configFrom(opts)))));
    });
}
