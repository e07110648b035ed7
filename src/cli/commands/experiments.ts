import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { configFrom, serviceOptions } from '../shared.js';
import type { Config } from '../../config/config.js';
import { ConfigError } from '../../errors.js';
import { createRedis } from '../../stores/redis-client.js';
import { Keys } from '../../stores/keys.js';
import { loadSegmentSetup } from '../../stages/segments/setup.js';
import { loadExperimentsFile } from '../../experiments/file.js';
import type { ExperimentsConfig } from '../../experiments/model.js';
import { parseCounts } from '../../experiments/counts.js';
import { experimentsReport, formatReport, reportSvg } from '../../experiments/report-format.js';

/**
 * `attune experiments report [--json] [--svg <file>] [--file <experiments file>]`: the experiments' per-variant
 * statistics and the bandits' current shares, from one HGETALL of the counts hash (`{g}:experiments`, which is
 * also the bandits' state, so the report shows exactly what the workers decide from).
 */
export function register(program: Command) {
  const experiments = program.command('experiments').description('experiments of the recommend stage (docs/experiments.md)');
  serviceOptions(experiments.command('report'))
    .description('print each experiment\'s CTR and conversion per variant (Wilson intervals, tests against the control) and the bandits\' shares')
    .option('--file <path>', 'the experiments file (default: ATTUNE_EXPERIMENTS)')
    .option('--json', 'print JSON instead of text')
    .option('--svg <file>', 'also write a chart of the CTRs (and bandit shares) to this SVG file')
    .action(async (opts) => {
      const cfg = configFrom(opts);
      // The file is checked before connecting anything: a wrong path or a bad file fails at once.
      const config = readExperiments(cfg, opts.file as string | undefined);
      const redis = createRedis(cfg);
      let hash: Record<string, string>;
      try {
        hash = await redis.hgetall(new Keys(cfg.keyPrefix).experimentCounts());
      } finally {
        await redis.quit().catch(() => {});
      }
      const report = experimentsReport(config, parseCounts(hash));
      if (opts.svg) {
        try {
          writeFileSync(String(opts.svg), reportSvg(report));
        } catch (err) {
          throw new ConfigError(`--svg ${opts.svg}: cannot write the chart: ${(err as Error).message}`);
        }
        // stderr: with --json, stdout stays one JSON document
        process.stderr.write(`wrote ${opts.svg}\n`);
      }
      process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
    });
}

/**
 * The experiments file of --file or ATTUNE_EXPERIMENTS, checked as the worker checks it (eligibility segments
 * against the segment rules' ids, ListExperiments.load). An unreadable rule file does not stop a report: the
 * counts are still worth reading, so the file is then read without that one check (and the skip is said).
 */
function readExperiments(cfg: Config, flag: string | undefined): ExperimentsConfig {
  const path = flag ?? cfg.experiments;
  const source = flag !== undefined ? `--file ${flag}` : `ATTUNE_EXPERIMENTS=${path}`;
  if (path === undefined) {
    throw new ConfigError('no experiments file: set ATTUNE_EXPERIMENTS to its path or pass --file <experiments file> (docs/experiments.md)');
  }
  let knownSegments: string[] | undefined;
  try {
    knownSegments = loadSegmentSetup(cfg).rules.segments.map((s) => s.id);
  } catch (err) {
    process.stderr.write(`attune: eligibility segments not checked against the segment rules: ${(err as Error).message}\n`);
  }
  return loadExperimentsFile(path, { knownSegments, source });
}
