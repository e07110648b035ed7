/**
 * Loads every Lua file of src/stores/commands as an ioredis command. A file is named
 * `<commandName>-<numberOfKeys>.lua` (the BullMQ convention) so the loader needs no table of its own.
 * ioredis sends EVALSHA and falls back to EVAL when Redis lost its script cache (restart, SCRIPT FLUSH).
 *
 * What Redis runs is the file assembled from three parts, in this order:
 *  1. After the `#!lua` shebang (which must stay the first line), the return codes of return-codes.ts as local
 *     constants (`local E_STATE_LOST = -40`, ...): scripts return codes by name, so Lua and TS cannot disagree.
 *  2. The guard (commands/includes/guard.lua), inserted into every script: the client method adds its key and
 *     arguments (the slot's guard hash, the state epoch, the running partition's fence), so no caller can forget
 *     them and no script can skip them.
 *  3. The script itself, where each line that is exactly `--@include <name>` is replaced by
 *     commands/includes/<name>.lua: shared local functions (offset-gate.lua, json-args.lua), defined where the
 *     line stands, so it goes after the header and before their first use. Includes are flat (an include has no
 *     directive of its own), each at most once per script; the guard is never included by hand.
 *
 * The directory is found from Attune's package root, not from this module, so a build in dist/ reads the same
 * files as the sources.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis, Cluster } from 'ioredis';
import { PACKAGE_ROOT } from '../package-root.js';
import { currentFence, guardKeyFor, prefixOf } from './guard.js';
import { Keys } from './keys.js';
import { luaReturnCodeConstants } from './return-codes.js';
import { sha1 } from './command-timing.js';

export const COMMANDS_DIR = join(PACKAGE_ROOT, 'src', 'stores', 'commands');
const INCLUDE = /^--@include[ \t]+(\S+)[ \t]*$/;

export interface ScriptFile {
  name: string;
  numberOfKeys: number | undefined;
  lua: string;
}

export function readScripts(dir = COMMANDS_DIR): ScriptFile[] {
  const includes = join(dir, 'includes');
  const guard = readFileSync(join(includes, 'guard.lua'), 'utf8');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .map((f) => {
      const m = /^([A-Za-z]+)-(\d+|n)\.lua$/.exec(f);
      if (!m) throw new Error(`Lua file ${f} must be named <commandName>-<numberOfKeys>.lua (or -n.lua for a variable number)`);
      const lua = assemble(readFileSync(join(dir, f), 'utf8'), guard, (name) => readInclude(includes, name, f));
      // -n: the caller passes the number of keys as the first argument (ioredis's convention).
      return { name: m[1], numberOfKeys: m[2] === 'n' ? undefined : Number(m[2]), lua };
    });
}

/** The script as Redis runs it: shebang, return code constants, guard, then the body with its includes resolved. */
export function assemble(lua: string, guard: string, include: (name: string) => string): string {
  const nl = lua.indexOf('\n');
  if (!lua.startsWith('#!lua') || nl < 0) throw new Error('every Lua command must start with the #!lua shebang line');
  return `${lua.slice(0, nl + 1)}${luaReturnCodeConstants()}${guard}${resolveIncludes(lua.slice(nl + 1), include)}`;
}

function resolveIncludes(body: string, include: (name: string) => string): string {
  const seen = new Set<string>();
  return body
    .split('\n')
    .map((line) => {
      const m = INCLUDE.exec(line);
      if (!m) return line;
      const name = m[1];
      if (name === 'guard') throw new Error('the guard is inserted into every script by the loader; do not --@include it');
      if (seen.has(name)) throw new Error(`--@include ${name} appears twice`);
      seen.add(name);
      const text = include(name);
      if (text.split('\n').some((l) => INCLUDE.test(l))) throw new Error(`include ${name} has an --@include of its own; includes are flat`);
      return text.endsWith('\n') ? text.slice(0, -1) : text;
    })
    .join('\n');
}

function readInclude(includes: string, name: string, script: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`${script}: include name ${name} must be lower-case letters, digits and dashes`);
  try {
    return readFileSync(join(includes, `${name}.lua`), 'utf8');
  } catch (err) {
    throw new Error(`${script}: --@include ${name}: no file includes/${name}.lua`, { cause: err });
  }
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
  // No epoch: not cached, and the guard answers E_STATE_LOST or E_STATE_REBUILT for the script.
  if (epoch === null) return '';
  byPrefix.set(prefix, epoch);
  return epoch;
}

/**
 * The commands of the `-n` scripts (a variable number of keys, passed first), as ioredis knows them. ioredis's
 * auto-pipelining groups a command by the slot of its first argument unless the command is one it knows: for
 * these that argument is the key count, so two of them in one tick with the same count would be queued together
 * whatever their keys' slots, and on a Cluster the pipeline is refused ("All keys in the pipeline should belong to
 * the same slots allocation group") — every time, for the same micro-batch (seen: an erase sweep of two users on
 * different masters stalled its partition). The client sends them outside auto-pipelining (redis-client.ts).
 */
export function variableKeyCommands(dir = COMMANDS_DIR): string[] {
  return readScripts(dir).filter((s) => s.numberOfKeys === undefined).map((s) => `${s.name}Unguarded`);
}

/** Defines the script commands on `client`; returns each script's name by the SHA1 of what Redis runs (EVALSHA). */
export function defineScripts(client: Client, dir = COMMANDS_DIR): Map<string, string> {
  const methods = client as unknown as Record<string, Send>;
  const bySha = new Map<string, string>();
  for (const s of readScripts(dir)) {
    bySha.set(sha1(s.lua), s.name);
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
  return bySha;
}

/** The script commands as typed methods (ioredis adds them at run time). */
export interface ScriptCommands {
  acquireFence(counter: string, field: string): Promise<number>;
  markDeadLetters(key: string, mode: string, stage: string, offset: number, at?: number): Promise<number>;
  applyUserEvents(counts: string, recent: string, purchased: string, applied: string, field: string, cap: number, records: string): Promise<number>;
  raiseInflight(key: string, lastOffset: number, firstOffset: number): Promise<number>;
  advanceProgress(key: string, expected: number, offset: number): Promise<number>;
  applyCoocRows(numKeys: number, ...keysThenArgs: Array<string | number>): Promise<number>;
  applyCoocRow(row: string, field: string, batchLast: number, deltas: string): Promise<number>;
  commitRecUser(key: string, field: string, expected: number, next: number, state: string): Promise<number>;
  applyPopularity(popularity: string, applied: string, field: string, batchLast: number, deltas: string): Promise<number>;
  commitSegmentUser(
    features: string, segments: string, offsetField: string, pendingField: string, expectedOffset: number, newOffset: number,
    state: string, due: string, segmentIds: string, pending: string, since: string,
  ): Promise<number>;
  commitSegmentPartition(
    state: string, timers: string, users: string, expectedOffset: string, expectedWatermark: string, newOffset: number,
    newWatermark: string, wall: number, late: string, pending: string, timerUpdates: string, knownUsers: string,
    memberUpdates: string, memberPrefix: string, fingerprint: string, memberSegments: string,
  ): Promise<number>;
  applyCounts(counts: string, applied: string, field: string, last: number, deltas: string): Promise<number>;
  dedupeEvents(ids: string, state: string, progress: string, window: number, batchLast: number, records: string): Promise<number | number[]>;
  writeSubject(subject: string, sealedId: string, consentMode: 'keep' | 'set' | 'del', consent: string): Promise<number>;
  eraseUser(numKeys: number, subject: string, ...keysThenMode: string[]): Promise<number>;
}
