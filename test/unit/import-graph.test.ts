/**
 * The module graph of src/ has no cycles (type-only imports included: a cycle of types is a tangle of stages all
 * the same), and a stage's pure core imports neither Redis nor Kafka.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports and re-exports of each file, resolved to files. */
function importGraph(): Map<string, { local: string[]; packages: string[] }> {
  const graph = new Map<string, { local: string[]; packages: string[] }>();
  for (const f of tsFiles(SRC)) {
    const text = readFileSync(f, 'utf8');
    const specs = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]);
    graph.set(f, {
      local: specs.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(f), s.replace(/\.js$/, '.ts'))),
      packages: specs.filter((s) => !s.startsWith('.')),
    });
  }
  return graph;
}

function cycles(graph: Map<string, { local: string[] }>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, 1);
    stack.push(n);
    for (const m of graph.get(n)?.local ?? []) {
      if (!graph.has(m)) continue;
      if (state.get(m) === 1) found.push([...stack.slice(stack.indexOf(m)), m].map((p) => relative(SRC, p)));
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return found;
}

describe('the module graph', () => {
  it('has no import cycles', () => {
    expect(cycles(importGraph()).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('finds a cycle when there is one (the check itself works)', () => {
    const a = '/x/a.ts', b = '/x/b.ts';
    expect(cycles(new Map([[a, { local: [b] }], [b, { local: [a] }]]))).toHaveLength(1);
  });

  it('keeps the stages\' pure cores free of Redis, Kafka and the stores', () => {
    const pure = ['stages/segments/features/', 'stages/segments/core/', 'stages/segments/batch.ts', 'stages/segments/reevaluate-users.ts',
      'stages/recommend/model/', 'stages/validate/validate.ts', 'stages/ingest/plan.ts', 'eval/'];
    const offenders: string[] = [];
    for (const [f, { local, packages }] of importGraph()) {
      const r = relative(SRC, f);
      if (!pure.some((p) => r.startsWith(p))) continue;
      for (const p of packages) if (/^(ioredis|kafkajs|@kafkajs\/)/.test(p)) offenders.push(`${r} imports ${p}`);
      for (const l of local) if (/^(stores|kafka|topology)\//.test(relative(SRC, l)) || /\/store\.ts$/.test(l)) offenders.push(`${r} imports ${relative(SRC, l)}`);
    }
    expect(offenders).toEqual([]);
  });
});
