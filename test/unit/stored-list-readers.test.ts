/**
 * The class of bug the deflated `{u}:recs` (stores/stored-list.ts) brought: a reader that takes the stored list as
 * a UTF-8 string and JSON-parses it (the ops-page and Cluster tests did, and broke). Every read of the stored list
 * must go through decodeStoredList on the value's bytes; this scans the sources for a line that parses the key's
 * value as JSON.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');

function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* tsFiles(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

describe('readers of the stored list', () => {
  it('no source parses the value of {u}:recs as JSON directly', () => {
    const offenders: string[] = [];
    for (const dir of ['src', 'test', 'bench']) {
      for (const file of tsFiles(join(ROOT, dir))) {
        if (file.endsWith('stored-list.ts') || file.endsWith('stored-list-readers.test.ts')) continue;
        readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
          if (/JSON\.parse/.test(line) && /userRecommendations|:recs\b/.test(line)) offenders.push(`${file.slice(ROOT.length + 1)}:${i + 1}`);
        });
      }
    }
    expect(offenders, 'read the list with getBuffer and decodeStoredList (stores/stored-list.ts)').toEqual([]);
  });
});
