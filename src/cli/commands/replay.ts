import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { configFrom, kafkaFor, serviceOptions, codecFor } from '../shared.js';
import { topicNames } from '../../config/config.js';
import { ensureTopics } from '../../kafka/topics.js';
import { datasetOptions, loadDataset } from '../dataset.js';
import { produceCatalog, produceEvents } from '../../replay/producer.js';

export function register(program: Command) {
  datasetOptions(serviceOptions(program.command('replay')))
    .description('turn a data set into user events (and catalog items) and produce them to Kafka')
    .option('--rate <eventsPerSecond>', 'throttle to this many events per second (0 = as fast as possible)', '0')
    .option('--limit <n>', 'replay only the first n events (in time order)')
    .option('--skip <n>', 'skip the first n events (in time order)', '0')
    .option('--no-catalog', 'do not produce the item catalog')
    .action(async (csv: string, opts) => {
      const cfg = configFrom(opts);
      const topics = topicNames(cfg);
      const kafka = kafkaFor(cfg);
      const admin = kafka.admin();
      await admin.connect();
      await ensureTopics(admin, cfg);
      await admin.disconnect();
      const codec = await codecFor(cfg, 'register');
      const producer = kafka.producer({ maxRequestBytes: cfg.kafkaMaxRequestBytes });
      await producer.connect();
      try {
        process.stderr.write(`reading ${csv}...\n`);
        const data = await loadDataset(csv, opts);
        let events = data.events;
        const skip = Number(opts.skip ?? 0);
        const limit = opts.limit === undefined ? events.length : Number(opts.limit);
        events = events.slice(skip, skip + limit);
        if (opts.catalog && data.catalog.length > 0) {
          await produceCatalog(producer, codec, topics, data.catalog);
          process.stderr.write(`produced ${data.catalog.length} catalog items to ${topics.items}\n`);
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
