/**
 * Profiling target for the worker: one bench run (bench/worker.ts) over the first N events (default 100,000).
 *   node --cpu-prof --cpu-prof-dir /tmp/prof --import tsx bench/profile-worker.ts [--events N]
 * Prints the run's figures; pair with `redis-cli INFO commandstats` (reset with CONFIG RESETSTAT) for Redis's side.
 */
import { loadRetailDataset } from '../src/data/online-retail.js';
import { optionOf } from './args.js';
import { benchWorker } from './worker.js';

const n = Number(optionOf(process.argv.slice(2), '--events', '100000'));
const { events, catalog } = await loadRetailDataset('data/online-retail.csv.gz');
const wb = await benchWorker(events.slice(0, n), catalog, { runs: 1, timeoutMs: 600_000, log: (s) => process.stderr.write(`${s}\n`) });
console.log(JSON.stringify(wb.runs[0] ?? wb.errors));
process.exit(0);
