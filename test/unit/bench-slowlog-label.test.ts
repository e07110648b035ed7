/** The bench's SLOWLOG entries are told apart: scripts by name, commands a script called, plain commands. */
import { describe, expect, it } from 'vitest';
import { slowlogLabel } from '../../bench/worker.js';
import { readScripts } from '../../src/stores/scripts.js';
import { sha1 } from '../../src/stores/command-timing.js';

describe('slowlogLabel', () => {
  const rows = readScripts().find((s) => s.name === 'applyCoocRows')!;

  it('names a script call by its script (EVALSHA of what the loader assembled)', () => {
    expect(slowlogLabel(['evalsha', sha1(rows.lua), '3', 'k'], '127.0.0.1:5000')).toEqual({ label: 'applyCoocRows', script: true });
  });

  it('counts an unknown script as a script, by its command', () => {
    expect(slowlogLabel(['EVALSHA', 'f'.repeat(40), '0'], '127.0.0.1:5000')).toEqual({ label: 'evalsha', script: true });
  });

  it('marks a command called from a script (client ?:0) apart from a plain command', () => {
    expect(slowlogLabel(['HINCRBYFLOAT', 'k', 'f', '1'], '?:0')).toEqual({ label: 'hincrbyfloat in a script', script: false });
    expect(slowlogLabel(['hset', 'k', 'f', 'v'], '127.0.0.1:5000')).toEqual({ label: 'hset', script: false });
  });
});
