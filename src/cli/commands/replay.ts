import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { configFrom, kafkaFor, serviceOptions, codecFor } from '../shared.js';
import { topicNames } from '../../config/config.js';
import { ensureTopics } from '../../kafka/topics.js';
import { loadRetailCatalog, loadRetailPurchaseEvents } from '../../data/online-retail.js';
import { loadInteractionsCsv } from '../../data/interactions-csv.js';
import { produceCatalog, produceEvents } from '../../replay/producer.js';

export const DEFAULT_DATA = 'data/online-retail.csv.gz';

export function register(program: Command) {
  serviceOptions(program.command('replay'))
    .argument('[csv]', 'data set to replay (the bundled UCI Online Retail file by default)', DEFAULT_DATA)
    .description('turn a data set into user events (and catalog items) and produce them to Kafka')
    .option('--rate <eventsPerSecond>', 'throttle to this many events per second (0 = as fast as possible)', '0')
    .option('--limit <n>', 'replay only the first n events (in time order)')
    .option('--skip <n>', 'skip the first n events (in time order)', '0')
    .option('--no-catalog', 'do not produce the item catalog')
    .option('--user-col <name>', 'generic CSV: user id column (selects the generic loader)')
    .option('--item-col <name>', 'generic CSV: item id column', 'item')
    .option('--time-col <name>', 'generic CSV: time column', 'time')
    .option('--type-col <name>', 'generic CSV: event type column')
    .option('--rating-col <name>', 'generic CSV: rating column')
    .option('--rating-threshold <x>', 'generic CSV: ratings at or above this are positive interactions')
    .action(async (csv: string, opts) => {
      const cfg = configFrom(opts);
      const topics = topicNames(cfg);
      const kafka = kafkaFor(cfg);
      const admin = kafka.admin();
      await admin.connect();
      await ensureTopics(admin, cfg);
      await admin.disconnect();
      const codec = await codecFor(cfg);
      const producer = kafka.producer();
      await producer.connect();
      try {
        process.stderr.write(`reading ${csv}...\n`);
        let events = opts.userCol
          ? await loadInteractionsCsv(csv, {
              userColumn: opts.userCol, itemColumn: opts.itemCol, timeColumn: opts.timeCol,
              typeColumn: opts.typeCol, ratingColumn: opts.ratingCol,
              ratingThreshold: opts.ratingThreshold === undefined ? undefined : Number(opts.ratingThreshold),
            })
          : await loadRetailPurchaseEvents(csv);
        const skip = Number(opts.skip ?? 0);
        const limit = opts.limit === undefined ? events.length : Number(opts.limit);
        events = events.slice(skip, skip + limit);
        if (opts.catalog && !opts.userCol) {
          const items = await loadRetailCatalog(csv);
          await produceCatalog(producer, codec, topics, items);
          process.stderr.write(`produced ${items.length} catalog items to ${topics.items}\n`);
        }
        const bar = new SingleBar({ format: 'replay [{bar}] {percentage}% | {value}/{total} events | {eta_formatted} left', stream: process.stderr }, Presets.shades_classic);
        bar.start(events.length, 0);
        const res = await produceEvents(producer, codec, topics, events, { rate: Number(opts.rate), onProgress: (d) => bar.update(d) });
        bar.stop();
        process.stdout.write(`produced ${res.produced} events to ${topics.events} in ${res.seconds.toFixed(1)} s (${Math.round(res.produced / Math.max(res.seconds, 0.001))} events/s)\n`);
      } finally {
        await producer.disconnect();
      }
    });
}
