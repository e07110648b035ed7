/**
 * Loads every Lua file of src/stores/commands as an ioredis command. A file is named
 * `<commandName>-<numberOfKeys>.lua` (the BullMQ convention) so the loader needs no table of its own.
 * ioredis sends EVALSHA and falls back to EVAL when Redis lost its script cache (restart, SCRIPT FLUSH).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis, Cluster } from 'ioredis';

const COMMANDS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'commands');

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
      return { name: m[1], numberOfKeys: m[2] === 'n' ? undefined : Number(m[2]), lua: readFileSync(join(dir, f), 'utf8') };
    });
}

export function defineScripts(client: Redis | Cluster, dir = COMMANDS_DIR): void {
  for (const s of readScripts(dir)) client.defineCommand(s.name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
}

/** The script commands as typed methods (ioredis adds them at run time). */
export interface ScriptCommands {
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
