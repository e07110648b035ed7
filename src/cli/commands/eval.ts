/**
 * `attune eval [csv]`: prequential (test-then-learn) evaluation of the recommender in process, next to two
 * baselines (popularity and a plain incremental item-kNN), under the repeat or the discovery protocol and with a
 * settings preset. Default data: the bundled UCI Online Retail file; any other interaction CSV with
 * --user-col/--item-col/--time-col (+ --type-col or --rating-col).
 */
import { accessSync, constants, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../../errors.js';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { datasetOptions, loadDataset, type DatasetOptions } from '../dataset.js';
import { mergeConfig, type RecommenderConfigInput } from '../../stages/recommend/model/config.js';
import { PRESET_NAMES, presetConfig } from '../../stages/recommend/model/presets.js';
import { STRATEGY_NAMES, strategyByName } from '../../stages/recommend/model/strategy/strategies.js';
import { itemKnnModel } from '../../eval/item-knn.js';
import {
  attuneModel,
  EVAL_PROTOCOLS,
  PROTOCOL_TEXT,
  popularityModel,
  runPrequential,
  timelinePrefix,
  type PrequentialMetrics,
  type EvalProtocol,
  type PrequentialModel,
} from '../../eval/prequential.js';
import { renderEvalReport, type ReportInput } from '../../eval/report-html.js';

export interface EvalOptions extends DatasetOptions {
  fraction?: string;
  limit?: string;
  config?: string;
  /** Settings preset of the attune model (retail, media); --config is merged on top. */
  preset?: string;
  /** Which events are tested and what may be recommended: repeat (default) or discovery. */
  protocol?: string;
  baseline?: boolean;
  progress?: boolean;
  json?: boolean;
  /** Strategy of the attune model, by name (default 'hybrid', the worker's). */
  strategy?: string;
  /** Also write a self-contained HTML report (charts over the timeline, coverage, table) to this file. */
  report?: string;
}

/** What `attune eval` reports (and `--json` prints): declared with the HTML report that renders it. */
export type EvalReport = ReportInput;

/** Runs the evaluation (models: attune, and the baselines popularity and item-knn unless baseline is false). */
export async function runEval(path: string, o: EvalOptions = {}): Promise<EvalReport> {
  const protocol = (o.protocol ?? 'repeat') as EvalProtocol;
  if (!EVAL_PROTOCOLS.includes(protocol)) throw new ConfigError(`--protocol ${o.protocol}: use ${EVAL_PROTOCOLS.join(' or ')}`);
  const presetName = o.preset ?? 'retail';
  if (!PRESET_NAMES.includes(presetName as never)) throw new ConfigError(`--preset ${o.preset}: use ${PRESET_NAMES.join(' or ')}`);
  const loaded = await loadDataset(path, o);
  let events = loaded.events;
  if (o.fraction !== undefined) events = timelinePrefix(events, Number(o.fraction));
  if (o.limit !== undefined) events = events.slice(0, Number(o.limit));
  const file: RecommenderConfigInput = o.config ? JSON.parse(readFileSync(o.config, 'utf8')) : {};
  const config = mergeConfig(presetConfig(presetName), file);
  const strategy = strategyByName(o.strategy ?? 'hybrid');
  const models: PrequentialModel[] = [attuneModel(config, loaded.catalog, strategy)];
  if (o.baseline !== false) models.push(popularityModel(), itemKnnModel());
  const results: PrequentialMetrics[] = [];
  for (const model of models) {
    let bar: cliProgress.SingleBar | null = null;
    if (o.progress !== false) {
      bar = new cliProgress.SingleBar(
        { stream: process.stderr, format: `${model.name.padEnd(10)} [{bar}] {percentage}% | {value}/{total} events | {eta}s`, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      bar.start(events.length, 0);
    }
    results.push(runPrequential(events, model, { protocol, onProgress: (d) => bar?.update(d), progressEvery: 10_000 }));
    bar?.stop();
  }
  return {
    data: path,
    protocolName: protocol,
    protocol: PROTOCOL_TEXT[protocol],
    preset: presetName,
    events: events.length,
    users: new Set(events.map((e) => e.userId)).size,
    items: new Set(events.map((e) => e.itemId)).size,
    tested: results[0]?.tested ?? 0,
    results,
  };
}

/** A readable table of an evaluation report. */
export function formatEvalTable(r: EvalReport): string {
  const head = ['model', 'HR@10', 'NDCG@10', 'P@10', 'Recall@20', 'MAP@10', 'coverage', 'cold HR@10', 'cold NDCG@10', 'events/s', 'seconds'];
  const rows = r.results.map((m) => [
    m.model,
    m.hr10.toFixed(4),
    m.ndcg10.toFixed(4),
    m.precision10.toFixed(4),
    m.recall20.toFixed(4),
    m.map10.toFixed(4),
    m.coverage.toFixed(4),
    m.cold.hr10.toFixed(4),
    m.cold.ndcg10.toFixed(4),
    Math.round(m.eventsPerSecond).toLocaleString('en-US'),
    m.seconds.toFixed(1),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [
    `data: ${r.data} — ${r.events.toLocaleString('en-US')} events, ${r.users.toLocaleString('en-US')} users, ${r.items.toLocaleString('en-US')} items, ${r.tested.toLocaleString('en-US')} tested (${r.results[0]?.cold.tested.toLocaleString('en-US') ?? 0} in the cold slice: users' 2nd-5th events)`,
    `protocol: ${r.protocolName}; attune preset: ${r.preset}`,
    line(head),
    line(w.map((n) => '-'.repeat(n))),
    ...rows.map(line),
  ].join('\n');
}

/** The report's path, checked before the evaluation runs (it takes a while): its folder must exist and be writable. */
export function reportPath(path: string): string {
  const file = resolve(path);
  const dir = dirname(file);
  let writable = false;
  try {
    writable = statSync(dir).isDirectory();
    if (writable) accessSync(dir, constants.W_OK);
  } catch {
    writable = false;
  }
  if (!writable) throw new ConfigError(`--report ${path}: the folder ${dir} does not exist or is not writable; create it (mkdir -p ${dir}) or name a file in a writable folder`);
  if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) throw new ConfigError(`--report ${path} is a folder; name an HTML file, e.g. --report ${path.replace(/\/$/, '')}/eval.html`);
  return file;
}

export function register(program: Command): void {
  datasetOptions(program.command('eval'))
    .description('prequential evaluation (test-then-learn) of the recommender in process, next to popularity and item-kNN baselines')
    .option('--fraction <f>', 'replay only the first fraction of the timeline (e.g. 0.5 for tuning)')
    .option('--limit <n>', 'replay only the first n events')
    .option('--config <file.json>', 'recommender config overrides (see src/stages/recommend/model/config.ts)')
    .option('--protocol <name>', `${EVAL_PROTOCOLS.join(' | ')}: repeat tests every event, anything may be recommended; discovery tests only a user's first meeting with an item and excludes the items the user already met from every model`, 'repeat')
    .option('--preset <name>', `the recommender settings preset: ${PRESET_NAMES.join(', ')} (--config is merged on top)`, 'retail')
    .option('--strategy <name>', `the recommender's strategy: ${STRATEGY_NAMES.join(', ')}`, 'hybrid')
    .option('--no-baseline', 'skip the baselines (popularity, item-knn)')
    .option('--no-progress', 'no progress bar on stderr')
    .option('--json', 'print the report as JSON')
    .option('--report <file.html>', 'also write a self-contained HTML report: HR@10/NDCG@10 over the timeline, coverage, table')
    .action(async (csv: string, o: EvalOptions) => {
      const file = o.report === undefined ? null : reportPath(o.report);
      const report = await runEval(csv, o);
      if (file) {
        writeFileSync(file, renderEvalReport(report));
        process.stderr.write(`report written to ${file}\n`);
      }
      process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatEvalTable(report)}\n`);
    });
}
