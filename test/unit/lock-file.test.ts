import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// `npm ci` refuses a lock file that lacks an optional dependency of a package it installs, and npm drops other
// platforms' optional packages (rollup's, esbuild's) when it updates a lock file over an existing node_modules.
// A lock file made on this machine then breaks `npm ci` on every other platform, and on this one once the
// dropped entry is needed. Regenerate from an empty tree: rm -rf node_modules package-lock.json && npm install.
interface LockEntry { version?: string; optionalDependencies?: Record<string, string> }

const lock = JSON.parse(readFileSync(fileURLToPath(new URL('../../package-lock.json', import.meta.url)), 'utf8')) as {
  packages: Record<string, LockEntry>;
};

/** Where npm would resolve `dep` from the package at `path`: its own node_modules, then each parent's, then the root. */
function resolves(path: string, dep: string): boolean {
  let base = path;
  for (;;) {
    if (lock.packages[`${base ? `${base}/` : ''}node_modules/${dep}`]) return true;
    if (!base) return false;
    const i = base.lastIndexOf('/node_modules/');
    base = i < 0 ? '' : base.slice(0, i);
  }
}

describe('package-lock.json', () => {
  it('lists every optional dependency of every locked package, for all platforms (npm ci needs them)', () => {
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const dep of Object.keys(entry.optionalDependencies ?? {})) {
        if (!resolves(path, dep)) missing.push(`${path || '(root)'} -> ${dep}`);
      }
    }
    expect(missing, 'regenerate the lock file from an empty tree: rm -rf node_modules package-lock.json && npm install').toEqual([]);
  });

  it('has the rollup binaries of other platforms than this one (the entries npm drops)', () => {
    const rollup = Object.keys(lock.packages).filter((p) => p.startsWith('node_modules/@rollup/rollup-'));
    expect(rollup.length).toBeGreaterThan(10);
  });
});
