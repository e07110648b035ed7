/** Lua commands and schemas are read from the package root, found the same from src/ and from a dist/ build. */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { findPackageRoot, PACKAGE_ROOT } from '../../src/package-root.js';
import { readSchema } from '../../src/stages/decode/codec.js';
import { COMMANDS_DIR } from '../../src/stores/scripts.js';

const url = (...parts: string[]) => pathToFileURL(join(...parts)).href;
const tmp = mkdtempSync(join(tmpdir(), 'attune-root-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('findPackageRoot', () => {
  it('finds the checkout from a source module and from where tsc puts the same module in dist/', () => {
    expect(existsSync(join(PACKAGE_ROOT, 'package.json'))).toBe(true);
    expect(findPackageRoot(url(PACKAGE_ROOT, 'src', 'stores', 'scripts.ts'))).toBe(PACKAGE_ROOT);
    expect(findPackageRoot(url(PACKAGE_ROOT, 'dist', 'stores', 'scripts.js'))).toBe(PACKAGE_ROOT);
    expect(findPackageRoot(url(PACKAGE_ROOT, 'dist', 'src', 'stages', 'decode', 'codec.js'))).toBe(PACKAGE_ROOT);
  });
  it('passes over package.json files of other packages and malformed ones on the way up', () => {
    const root = join(tmp, 'installed', 'node_modules', 'attune');
    mkdirSync(join(root, 'dist', 'stores', 'node_modules', 'dep'), { recursive: true });
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'attune' }));
    writeFileSync(join(root, 'dist', 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(root, 'dist', 'stores', 'node_modules', 'dep', 'package.json'), '{ not json');
    expect(findPackageRoot(url(root, 'dist', 'stores', 'node_modules', 'dep', 'x.js'))).toBe(root);
  });
  it('throws when no Attune package is above', () => {
    mkdirSync(join(tmp, 'other', 'lib'), { recursive: true });
    writeFileSync(join(tmp, 'other', 'package.json'), JSON.stringify({ name: 'not-attune' }));
    expect(() => findPackageRoot(url(tmp, 'other', 'lib', 'x.js'))).toThrow(/no package.json of attune above/);
  });
});

describe('files read from the package root', () => {
  it('the commands directory and the schemas are the checkout\'s', () => {
    expect(COMMANDS_DIR).toBe(join(PACKAGE_ROOT, 'src', 'stores', 'commands'));
    expect(existsSync(join(COMMANDS_DIR, 'includes', 'guard.lua'))).toBe(true);
    expect(JSON.parse(readSchema('events'))).toMatchObject({ type: 'record' });
  });
});
