/**
 * Loads every Lua file of src/stores/commands as an ioredis command. A file is named
 * `<commandName>-<numberOfKeys>.lua` (the BullMQ convention) so the loader needs no table of its own.
 * ioredis sends EVALSHA and falls back to EVAL when Redis lost its script cache (restart, SCRIPT FLUSH).
 *
 * Every command runs the guard (commands/includes/guard.lua) first: the loader inserts it into each script and
 * the client method adds its key and arguments (the slot's guard hash, the state epoch, the running partition's
 * fence), so no caller can forget them and no script can skip them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis, Cluster } from 'ioredis';
import { currentFence, guardKeyFor, prefixOf } from './guard.js';
import { Keys } from './keys.js';

const COMMANDS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'commands');
const GUARD_LUA = readFileSync(join(COMMANDS_DIR, 'includes', 'guard.lua'), 'utf8');

export interface ScriptFile {
  name: string;
  numberOfKeys: number | undefined;
  lua: string;
}

export function readScripts(dir = COMMANDS_DIR): ScriptFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .map((f) => {
      const m = /^([A-Za-z]+)-(\d+|n)\.lua$/.exec(f);
      if (!m) throw new Error(`Lua file ${f} must be named <commandName>-<numberOfKeys>.lua (or -n.lua for a variable number)`);
      // -n: the caller passes the number of keys as the first argument (ioredis's convention).
      return { name: m[1], numberOfKeys: m[2] === 'n' ? undefined : Number(m[2]), lua: withGuard(readFileSync(join(dir, f), 'utf8')) };
    });
}

/** The script with the guard inserted after its `#!lua` shebang (which must stay the first line). */
function withGuard(lua: string): string {
  const nl = lua.indexOf('\n');
  if (!lua.startsWith('#!lua') || nl < 0) throw new Error('every Lua command must start with the #!lua shebang line');
  return `${lua.slice(0, nl + 1)}${GUARD_LUA}${lua.slice(nl + 1)}`;
}

type Client = Redis | Cluster;
type Send = (...args: Array<string | number>) => Promise<unknown>;

/** The state epoch of each key prefix, read once per client (a rebuilt state means a restarted worker). */
const epochs = new WeakMap<Client, Map<string, string>>();

async function epochOf(client: Client, prefix: string): Promise<string> {
  let byPrefix = epochs.get(client);
  if (!byPrefix) epochs.set(client, (byPrefix = new Map()));
  const known = byPrefix.get(prefix);
  if (known !== undefined) return known;
  const epoch = await client.hget(new Keys(prefix).bootstrap(), 'epoch');
  // No epoch: not cached, and the guard answers "state lost" (-40) or "rebuilt" (-41) for the script.
  if (epoch === null) return '';
  byPrefix.set(prefix, epoch);
  return epoch;
}

export function defineScripts(client: Client, dir = COMMANDS_DIR): void {
  const methods = client as unknown as Record<string, Send>;
  for (const s of readScripts(dir)) {
    const raw = `${s.name}Unguarded`;
    const n = s.numberOfKeys;
    client.defineCommand(raw, { numberOfKeys: n === undefined ? undefined : n + 1, lua: s.lua });
    methods[s.name] = async (...args) => {
      // -n commands take their key count first (ioredis's convention).
      const keysAt = n === undefined ? 1 : 0;
      const keyCount = n === undefined ? Number(args[0]) : n;
      const firstKey = String(args[keysAt]);
      const fence = currentFence();
      const guard = [await epochOf(client, prefixOf(firstKey)), fence?.field ?? '', fence?.token ?? 0];
      const keys = args.slice(keysAt, keysAt + keyCount);
      const rest = args.slice(keysAt + keyCount);
      const head = n === undefined ? [keyCount + 1] : [];
      return methods[raw](...head, guardKeyFor(firstKey), ...keys, ...guard, ...rest);
    };
  }
}

/** The script commands as typed methods (ioredis adds them at run time). */
export interface ScriptCommands {
  acquireFence(counter: string, field: string): Promise<number>;
  markDeadLetters(key: string, mode: string, stage: string, offset: number): Promise<number>;
  applyUserEvents(counts: string, recent: string, purchased: string, applied: string, field: string, cap: number, records: string): Promise<number>;
  raiseInflight(key: string, lastOffset: number): Promise<number>;
  advanceProgress(key: string, expected: number, offset: number): Promise<number>;
  applyCoocRows(numKeys: number, ...keysThenArgs: Array<string | number>): Promise<number>;
  applyCoocRow(row: string, field: string, batchLast: number, deltas: string): Promise<number>;
  commitRecUser(key: string, field: string, expected: number, next: number, state: string): Promise<number>;
  applyPopularity(popularity: string, applied: string, field: string, batchLast: number, deltas: string): Promise<number>;
  commitSegmentUser(
    features: string, segments: string, offsetField: string, pendingField: string, expectedOffset: number, newOffset: number,
    state: string, due: string, segmentIds: string, pending: string,
  ): Promise<number>;
  commitSegmentPartition(
    state: string, timers: string, users: string, expectedOffset: string, expectedWatermark: string, newOffset: number,
    newWatermark: string, wall: number, late: string, pending: string, timerUpdates: string, knownUsers: string,
    memberUpdates: string, memberPrefix: string, fingerprint: string, memberSegments: string,
  ): Promise<number>;
  applySegmentCounts(counts: string, applied: string, field: string, last: number, deltas: string): Promise<number>;
}
