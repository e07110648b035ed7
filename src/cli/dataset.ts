/**
 * The data-set options `attune replay` and `attune eval` share: the bundled retail file by default, or any
 * interaction CSV whose columns the options name.
 */
import type { Command } from 'commander';
import type { CatalogItem, EventType, UserEvent } from '../domain/events.js';
import { loadRetailDataset } from '../data/online-retail.js';
import { loadInteractionsCsv } from '../data/interactions-csv.js';

export const DEFAULT_DATA = 'data/online-retail.csv.gz';

export interface DatasetOptions {
  userCol?: string;
  itemCol?: string;
  timeCol?: string;
  typeCol?: string;
  ratingCol?: string;
  ratingThreshold?: string;
  timeUnit?: 'auto' | 's' | 'ms' | 'iso';
  delimiter?: string;
}

export function datasetOptions(cmd: Command): Command {
  return cmd
    .argument('[csv]', 'interaction data, gzip allowed (default: the bundled UCI Online Retail file)', DEFAULT_DATA)
    .option('--user-col <name>', 'user column of a generic CSV')
    .option('--item-col <name>', 'item column of a generic CSV')
    .option('--time-col <name>', 'time column (epoch s/ms or ISO) of a generic CSV')
    .option('--type-col <name>', 'event-type column (view, add_to_cart, purchase, ...)')
    .option('--rating-col <name>', 'rating column; rows below --rating-threshold are skipped')
    .option('--rating-threshold <n>', 'minimum rating of a positive interaction')
    .option('--time-unit <unit>', 'auto | s | ms | iso', 'auto')
    .option('--delimiter <c>', 'CSV delimiter', ',');
}

/** The retail protocol for the bundled file, the generic CSV loader otherwise. */
export async function loadDataset(path: string, o: DatasetOptions = {}): Promise<{ events: UserEvent[]; catalog: CatalogItem[] }> {
  if (!o.userCol && /online-retail\.csv(\.gz)?$/.test(path)) return loadRetailDataset(path);
  if (!o.userCol || !o.itemCol || !o.timeCol) throw new Error('a generic CSV needs --user-col, --item-col and --time-col (and optionally --type-col or --rating-col)');
  const events = await loadInteractionsCsv(path, {
    userColumn: o.userCol,
    itemColumn: o.itemCol,
    timeColumn: o.timeCol,
    typeColumn: o.typeCol,
    ratingColumn: o.ratingCol,
    ratingThreshold: o.ratingThreshold !== undefined ? Number(o.ratingThreshold) : undefined,
    timeUnit: o.timeUnit,
    delimiter: o.delimiter,
    defaultType: 'purchase' as EventType,
  });
  return { events, catalog: [] };
}
