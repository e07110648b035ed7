/**
 * The return codes cannot drift between Lua and TypeScript: scripts return and document codes by the names of
 * the one table (stores/return-codes.ts), which the loader defines in every script and script-errors.ts maps.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FencedError, ScriptRejectedError, StateLostError, StateRebuiltError } from '../../src/errors.js';
import { RETURN_CODES } from '../../src/stores/return-codes.js';
import { checkScriptResult } from '../../src/stores/script-errors.js';
import { COMMANDS_DIR, readScripts } from '../../src/stores/scripts.js';

const NAMES = new Set(RETURN_CODES.map((c) => c.name));
const CODE_NAME = /\bE_[A-Z0-9_]+\b/g;

/** Every Lua file of the commands directory and its includes, as [file, text]. */
function luaFiles(): Array<[string, string]> {
  const dirs = [COMMANDS_DIR, join(COMMANDS_DIR, 'includes')];
  return dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.lua')).map((f) => [f, readFileSync(join(d, f), 'utf8')] as [string, string]));
}

/** The header comment (the first --[[ ]] block) and the code after it. */
function split(lua: string): { header: string; body: string } {
  const start = lua.indexOf('--[[');
  const end = lua.indexOf(']]', start);
  if (start < 0 || end < 0) return { header: '', body: lua };
  return { header: lua.slice(start, end), body: lua.slice(end + 2) };
}

const returnsSection = (header: string) => header.slice(Math.max(0, header.search(/^\s*Returns\b/m)));

/** The problems a unit test reports for one file: numeric negative returns, unknown names, undocumented codes. */
function lintReturnCodes(file: string, lua: string): string[] {
  const { header, body } = split(lua);
  const problems: string[] = [];
  const code = body.replace(/--.*$/gm, '');
  for (const m of code.matchAll(/\breturn\s*\(?\s*-\s*\d+/g)) problems.push(`${file}: returns a numeric negative code (${m[0]}); use a name of RETURN_CODES`);
  for (const [name] of code.matchAll(CODE_NAME)) if (!NAMES.has(name)) problems.push(`${file}: uses ${name}, not in RETURN_CODES`);
  for (const [name] of header.matchAll(CODE_NAME)) if (!NAMES.has(name)) problems.push(`${file}: header documents ${name}, not in RETURN_CODES`);
  if (header.includes('Returns')) {
    for (const m of returnsSection(header).matchAll(/^\s+(-\d+)\b/gm)) problems.push(`${file}: header documents code ${m[1]} by number; use its name`);
    const documented = new Set(header.match(CODE_NAME) ?? []);
    for (const [, name] of code.matchAll(/\breturn\s+(E_[A-Z0-9_]+)/g)) if (!documented.has(name)) problems.push(`${file}: returns ${name} without documenting it`);
  }
  return problems;
}

describe('the return code table', () => {
  it('has unique negative values and unique E_ names', () => {
    expect(new Set(RETURN_CODES.map((c) => c.value)).size).toBe(RETURN_CODES.length);
    expect(NAMES.size).toBe(RETURN_CODES.length);
    for (const c of RETURN_CODES) {
      expect(c.value).toBeLessThan(0);
      expect(Number.isInteger(c.value)).toBe(true);
      expect(c.name).toMatch(/^E_[A-Z0-9_]+$/);
    }
  });
  it('keeps the numbers Redis already returns', () => {
    expect(Object.fromEntries(RETURN_CODES.map((c) => [c.name, c.value]))).toEqual({
      E_BAD_ARGS: -1,
      E_SEGMENT_USER_CONFLICT: -20,
      E_SEGMENT_PARTITION_CONFLICT: -21,
      E_REC_USER_CONFLICT: -30,
      E_STATE_LOST: -40,
      E_STATE_REBUILT: -41,
      E_FENCED: -50,
    });
  });
});

describe('checkScriptResult', () => {
  it('passes results >= 0 through', () => {
    expect(checkScriptResult('s', 0)).toBe(0);
    expect(checkScriptResult('s', 7)).toBe(7);
  });
  it('throws each code as its class, code and retriability', () => {
    const thrown = (n: number) => {
      try {
        checkScriptResult('applyX', n);
      } catch (e) {
        return e as { constructor: unknown; code: string; retriable: boolean; message: string };
      }
      throw new Error(`${n} did not throw`);
    };
    expect(thrown(-40)).toBeInstanceOf(StateLostError);
    expect(thrown(-40).message).toMatch(/^applyX: state this worker relies on is gone .*stops \(exit 3\)\.$/);
    expect(thrown(-41)).toBeInstanceOf(StateRebuiltError);
    expect(thrown(-50)).toBeInstanceOf(FencedError);
    expect(thrown(-1)).toMatchObject({ code: 'SCRIPT_BAD_ARGS', retriable: false });
    expect(thrown(-1).message).toBe('applyX: the script could not parse its arguments (a bug in Attune)');
    for (const [n, code] of [[-20, 'SEGMENT_USER_CONFLICT'], [-21, 'SEGMENT_PARTITION_CONFLICT'], [-30, 'REC_USER_CONFLICT']] as const) {
      expect(thrown(n)).toBeInstanceOf(ScriptRejectedError);
      expect(thrown(n)).toMatchObject({ code, retriable: true });
    }
    expect(thrown(-7)).toMatchObject({ code: 'SCRIPT_UNKNOWN', retriable: false, message: 'applyX: unknown return code -7' });
  });
});

describe('the Lua commands', () => {
  it('return and document codes only by names of the table', () => {
    expect(luaFiles().flatMap(([f, lua]) => lintReturnCodes(f, lua))).toEqual([]);
  });
  it('the check fails on a numeric return, an unknown name, a code documented by number or not at all', () => {
    const header = (returns: string) => `#!lua\n--[[\n  KEYS[1] k\n  ARGV[1] expected (-1: none)\n\n  Returns\n${returns}\n]]\n`;
    expect(lintReturnCodes('a.lua', `${header('   1  ok')}if x then return -40 end\nreturn 1`)).toHaveLength(1);
    expect(lintReturnCodes('b.lua', `${header('   E_NOPE  no')}if x then return E_NOPE end`)).toHaveLength(2);
    expect(lintReturnCodes('c.lua', `${header('   -40  lost')}return 1`)).toEqual(['c.lua: header documents code -40 by number; use its name']);
    expect(lintReturnCodes('d.lua', `${header('   1  ok')}if x then return E_FENCED end`)).toEqual(['d.lua: returns E_FENCED without documenting it']);
    // ARGV documentation may use -1 as a value; a comment in the code is not a return.
    expect(lintReturnCodes('e.lua', `${header('   E_BAD_ARGS  bad')}-- return -1 was the old way\nreturn E_BAD_ARGS`)).toEqual([]);
  });
  it('are loaded with every code defined once, right after the shebang', () => {
    const prelude = RETURN_CODES.map((c) => `local ${c.name} = ${c.value}\n`).join('');
    const scripts = readScripts();
    expect(scripts.length).toBeGreaterThanOrEqual(12);
    for (const s of scripts) {
      expect(s.lua.startsWith(`#!lua\n${prelude}`), s.name).toBe(true);
      for (const c of RETURN_CODES) expect(s.lua.split(`local ${c.name} =`).length, `${s.name} ${c.name}`).toBe(2);
    }
  });
});
