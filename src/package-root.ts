/**
 * The directory of Attune's package.json, found upward from a module's URL. Files that ship beside the code
 * (the Lua commands in src/stores/commands, the Avro schemas in schemas/) are read from there rather than from a
 * path relative to the module, so the same code runs from src/ (tsx, vitest) and from a `tsc` build in dist/,
 * which sits at another directory depth and holds no .lua or .avsc files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'attune';

/** The nearest directory at or above `fromUrl`'s directory whose package.json is Attune's; throws if none is. */
export function findPackageRoot(fromUrl: string): string {
  let dir = dirname(fileURLToPath(fromUrl));
  for (;;) {
    if (isAttuneRoot(dir)) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json of ${PACKAGE_NAME} above ${fileURLToPath(fromUrl)}`);
    dir = parent;
  }
}

function isAttuneRoot(dir: string): boolean {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return false;
  // Another package.json on the way up (a dependency's, a workspace's, even a malformed one) is passed over.
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME;
  } catch {
    return false;
  }
}

/** Attune's package root, for the module that calls it from any depth of src/ or dist/. */
export const PACKAGE_ROOT = findPackageRoot(import.meta.url);
