/** API keys: the keys file's rules (ConfigErrors naming the fix), hash matching, demo mode, `attune api-key new`. */
import { describe, it, expect } from 'vitest';
import { DEMO_API_KEY, loadApiKeys, matchKey, newApiKey, parseApiKeys, presentedKey, sha256Hex } from '../../src/api/auth.js';
import { ConfigError } from '../../src/errors.js';

const file = (entries: string) => `keys:\n${entries}`;
const entry = (name: string, key: string, rate = 60) => `  - name: ${name}\n    sha256: ${sha256Hex(key)}\n    rateLimitPerMinute: ${rate}\n`;

describe('the keys file', () => {
  it('parses entries and matches a key by its hash only', () => {
    const keys = parseApiKeys(file(entry('a', 'key-a') + entry('b', 'key-b', 5)), 'k.yaml');
    expect(keys.map((k) => [k.name, k.rateLimitPerMinute])).toEqual([['a', 60], ['b', 5]]);
    expect(matchKey(keys, 'key-b')?.name).toBe('b');
    expect(matchKey(keys, 'key-c')).toBeNull();
    expect(matchKey(keys, sha256Hex('key-a'))).toBeNull();
  });

  it('refuses bad files with a ConfigError naming the entry and the fix', () => {
    const bad = (text: string) => { try { parseApiKeys(text, 'k.yaml'); } catch (e) { expect(e).toBeInstanceOf(ConfigError); return (e as Error).message; } return 'accepted'; };
    expect(bad('keys: [')).toContain('not valid YAML');
    expect(bad('keys: []')).toContain('at least one entry');
    expect(bad(file('  - name: a\n    sha256: abc\n    rateLimitPerMinute: 5\n'))).toMatch(/keys\.0\.sha256: .*attune api-key new/);
    expect(bad(file(entry('a', 'x', 0)))).toContain('rateLimitPerMinute: at least 1');
    expect(bad(file(entry('a', 'x') + entry('a', 'y')))).toContain('two keys are named a');
    expect(bad(file(entry('a b', 'x')))).toContain('name:');
  });

  it('the checked-in example file is valid and admits its documented key', async () => {
    const { readFileSync } = await import('node:fs');
    const keys = parseApiKeys(readFileSync('config/api-keys.example.yaml', 'utf8'), 'config/api-keys.example.yaml');
    expect(matchKey(keys, 'example-key-do-not-use')?.name).toBe('example');
  });
});

describe('demo mode and missing keys', () => {
  it('accepts the public demo key in demo mode without a file, with a warning', () => {
    const warnings: string[] = [];
    const keys = loadApiKeys({ demo: true }, (m) => warnings.push(m));
    expect(matchKey(keys, DEMO_API_KEY)?.name).toBe('demo');
    expect(warnings[0]).toContain('protects nothing');
  });

  it('refuses to start without keys outside demo mode, naming ATTUNE_API_KEYS_FILE', () => {
    expect(() => loadApiKeys({ demo: false }, () => {})).toThrow(/ATTUNE_API_KEYS_FILE/);
    expect(() => loadApiKeys({ demo: false, apiKeysFile: '/nonexistent/keys.yaml' }, () => {})).toThrow(/cannot be read \(ENOENT\)/);
  });
});

describe('the presented key', () => {
  it('comes from Authorization: Bearer or x-api-key', () => {
    expect(presentedKey({ authorization: 'Bearer abc' })).toBe('abc');
    expect(presentedKey({ authorization: 'bearer  abc ' })).toBe('abc');
    expect(presentedKey({ authorization: 'Basic abc' })).toBeNull();
    expect(presentedKey({ 'x-api-key': 'k' })).toBe('k');
    expect(presentedKey({})).toBeNull();
  });
});

describe('attune api-key new', () => {
  it('prints a fresh key and an entry holding only its hash, which the file format accepts', () => {
    const a = newApiKey('svc-1', 120);
    const b = newApiKey('svc-1', 120);
    expect(a.key).not.toBe(b.key);
    expect(a.entry).not.toContain(a.key);
    const keys = parseApiKeys(`keys:\n${a.entry}`, 'k.yaml');
    expect(matchKey(keys, a.key)).toMatchObject({ name: 'svc-1', rateLimitPerMinute: 120 });
    expect(() => newApiKey('no spaces')).toThrow(ConfigError);
  });
});
