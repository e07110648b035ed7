/** How the loader assembles a Lua command: shebang, return code constants, guard, body with its includes. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { luaReturnCodeConstants } from '../../src/stores/return-codes.js';
import { assemble, readScripts } from '../../src/stores/scripts.js';

const GUARD = '-- guard\n';
const includes: Record<string, string> = { a: 'local function a() return 1 end\n', b: 'local function b() return 2 end' };
const include = (name: string) => {
  if (!(name in includes)) throw new Error(`no include ${name}`);
  return includes[name];
};

describe('assemble', () => {
  it('puts the constants and the guard after the shebang and replaces each directive line by its include', () => {
    const lua = assemble('#!lua\n--[[ header ]]\n--@include a\n--@include b\nreturn a() + b()\n', GUARD, include);
    expect(lua).toBe(
      `#!lua\n${luaReturnCodeConstants()}-- guard\n--[[ header ]]\nlocal function a() return 1 end\nlocal function b() return 2 end\nreturn a() + b()\n`,
    );
  });
  it('leaves a script without directives as it is, after the guard', () => {
    expect(assemble('#!lua\nreturn 1', GUARD, include)).toBe(`#!lua\n${luaReturnCodeConstants()}-- guard\nreturn 1`);
  });
  it('takes only a whole line as a directive', () => {
    const lua = assemble('#!lua\nlocal s = "--@include a"\n  --@include a\n', GUARD, include);
    expect(lua).not.toContain('local function a');
  });
  it('refuses a script without the shebang, an unknown, repeated, nested or guard include', () => {
    expect(() => assemble('return 1\n', GUARD, include)).toThrow(/#!lua/);
    expect(() => assemble('#!lua\n--@include nope\n', GUARD, include)).toThrow(/no include nope/);
    expect(() => assemble('#!lua\n--@include a\n--@include a\n', GUARD, include)).toThrow(/twice/);
    expect(() => assemble('#!lua\n--@include guard\n', GUARD, include)).toThrow(/inserted into every script/);
    expect(() => assemble('#!lua\n--@include a\n', GUARD, () => '--@include b\n')).toThrow(/flat/);
  });
});

describe('readScripts', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const commands = (files: Record<string, string>) => {
    dir = mkdtempSync(join(tmpdir(), 'attune-lua-'));
    mkdirSync(join(dir, 'includes'));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    return dir;
  };
  it('resolves includes from the includes folder of the directory it reads', () => {
    const d = commands({ 'includes/guard.lua': GUARD, 'includes/gate.lua': 'local g = 1\n', 'doIt-2.lua': '#!lua\n--@include gate\nreturn g\n' });
    expect(readScripts(d)).toEqual([{ name: 'doIt', numberOfKeys: 2, lua: `#!lua\n${luaReturnCodeConstants()}${GUARD}local g = 1\nreturn g\n` }]);
  });
  it('names the script and the missing file', () => {
    const d = commands({ 'includes/guard.lua': GUARD, 'doIt-n.lua': '#!lua\n--@include gone\nreturn 1\n' });
    expect(() => readScripts(d)).toThrow('doIt-n.lua: --@include gone: no file includes/gone.lua');
  });
  it('the real commands keep no directive after loading, and the shared gate is included where it is used', () => {
    const scripts = readScripts();
    for (const s of scripts) expect(s.lua, s.name).not.toMatch(/^--@include/m);
    const gated = scripts.filter((s) => s.lua.includes('local function applyBatchOnce(')).map((s) => s.name).sort();
    expect(gated).toEqual(['applyCoocRow', 'applyCoocRows', 'applyCounts', 'applyPopularity', 'applyUserEvents']);
  });
});
