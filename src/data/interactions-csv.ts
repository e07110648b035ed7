/**
 * Generic interaction CSV loader, so teams can run `attune eval` on their own data.
 *
 * Options name the user, item and time columns (by header name, or by 0-based index when the file has no
 * header). Time may be epoch seconds, epoch milliseconds (told apart by magnitude, or forced with `timeUnit`)
 * or an ISO-8601 / "YYYY-MM-DD HH:MM:SS" string (read as UTC when no zone is given). Either an event-type
 * column (values mapped to Attune event types) or a rating column with a threshold (rating >= threshold is a
 * positive interaction, emitted as `defaultType`) may be given. Events come out sorted by time (stable: file
 * order within a timestamp). The file may be gzip-compressed (.gz).
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';
import { EVENT_TYPES, type EventType, type UserEvent } from '../domain/events.js';

export interface InteractionCsvOptions {
  userColumn: string;
  itemColumn: string;
  timeColumn: string;
  /** Column holding an event type; values are matched against Attune's types after `typeMap`. */
  typeColumn?: string;
  /** Maps raw type values (e.g. "transaction") to Attune types; unmapped unknown values are skipped. */
  typeMap?: Record<string, EventType>;
  /** Column holding a rating; only rows with rating >= ratingThreshold are kept. */
  ratingColumn?: string;
  ratingThreshold?: number;
  /** Event type for rows without a type column. Default 'purchase'. */
  defaultType?: EventType;
  /** Column separator. Default ','. */
  delimiter?: string;
  /** false when the file has no header row; columns are then 0-based indices. Default true. */
  header?: boolean;
  /** 'auto' (default): numbers < 1e11 are seconds, otherwise milliseconds. */
  timeUnit?: 'auto' | 's' | 'ms' | 'iso';
  limit?: number;
}

const TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);

/** Parses a time cell to epoch ms (NaN when unparseable). */
export function parseTimeCell(raw: string, unit: InteractionCsvOptions['timeUnit'] = 'auto'): number {
  const s = raw.trim();
  if (unit !== 'iso' && /^-?\d+(\.\d+)?$/.test(s)) {
    const v = Number(s);
    if (unit === 's') return Math.round(v * 1000);
    if (unit === 'ms') return Math.round(v);
    return Math.abs(v) < 1e11 ? Math.round(v * 1000) : Math.round(v);
  }
  let iso = s.includes('T') ? s : s.replace(' ', 'T');
  if (!/(Z|[+-]\d\d:?\d\d)$/.test(iso) && /T/.test(iso)) iso += 'Z';
  if (/^\d{4}-\d\d-\d\d$/.test(iso)) iso += 'T00:00:00Z';
  return Date.parse(iso);
}

export async function loadInteractionsCsv(path: string, opts: InteractionCsvOptions): Promise<UserEvent[]> {
  const header = opts.header ?? true;
  const input = createReadStream(path);
  const source = path.endsWith('.gz') ? input.pipe(createGunzip()) : input;
  const parser = source.pipe(
    parse({ delimiter: opts.delimiter ?? ',', relax_column_count: true, skip_empty_lines: true, trim: true }),
  );
  let idx: { user: number; item: number; time: number; type: number; rating: number } | null = null;
  const col = (names: string[], name: string | undefined): number => {
    if (name === undefined) return -1;
    if (!header) {
      const n = Number(name);
      if (!Number.isInteger(n)) throw new Error(`column "${name}" must be an index when the file has no header`);
      return n;
    }
    const i = names.indexOf(name);
    if (i < 0) throw new Error(`column "${name}" not found in header: ${names.join(', ')}`);
    return i;
  };
  const defaultType = opts.defaultType ?? 'purchase';
  const threshold = opts.ratingThreshold ?? Number.NEGATIVE_INFINITY;
  const events: UserEvent[] = [];
  let row = 0;
  for await (const r of parser as AsyncIterable<string[]>) {
    if (idx === null) {
      const names = header ? r.map((c) => c.replace(/^\uFEFF/, '')) : [];
      idx = {
        user: col(names, opts.userColumn),
        item: col(names, opts.itemColumn),
        time: col(names, opts.timeColumn),
        type: col(names, opts.typeColumn),
        rating: col(names, opts.ratingColumn),
      };
      if (header) continue;
    }
    row++;
    const userId = r[idx.user];
    const itemId = r[idx.item];
    if (!userId || !itemId) continue;
    const eventTime = parseTimeCell(r[idx.time] ?? '', opts.timeUnit);
    if (!Number.isFinite(eventTime)) continue;
    let type: EventType = defaultType;
    if (idx.type >= 0) {
      const raw = r[idx.type] ?? '';
      const mapped = (opts.typeMap && Object.hasOwn(opts.typeMap, raw) ? opts.typeMap[raw] : undefined) ?? (TYPE_SET.has(raw.toLowerCase()) ? (raw.toLowerCase() as EventType) : undefined);
      if (!mapped) continue;
      type = mapped;
    }
    let rating: number | null = null;
    if (idx.rating >= 0) {
      rating = Number(r[idx.rating]);
      if (!(rating >= threshold)) continue;
    }
    events.push({
      eventId: `${userId}:${itemId}:${row}`,
      userId,
      type,
      eventTime,
      itemId,
      quantity: null,
      price: null,
      rating,
      sessionId: null,
      context: null,
      properties: {},
    });
  }
  events.sort((a, b) => a.eventTime - b.eventTime);
  return opts.limit !== undefined ? events.slice(0, opts.limit) : events;
}
