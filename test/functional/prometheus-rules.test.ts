/**
 * The alert rules (ops/prometheus/rules) pass Prometheus' own checks: `promtool check rules`, and their unit tests
 * (ops/prometheus/tests: every alert firing and not firing on input series) pass `promtool test rules`. The config
 * that loads them passes `promtool check config`. promtool is a local binary (Debian's prometheus package).
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runPromtool } from '../support/promtool.js';

const OPS = join(import.meta.dirname, '../../ops/prometheus');
const ruleFiles = readdirSync(join(OPS, 'rules')).filter((f) => f.endsWith('.yml')).map((f) => join(OPS, 'rules', f));
const testFiles = readdirSync(join(OPS, 'tests')).filter((f) => f.endsWith('.yml')).map((f) => join(OPS, 'tests', f));

/** Alert names declared in the rule files (`- alert: Name`). */
function declaredAlerts(): string[] {
  return ruleFiles.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/^\s*- alert:\s*(\S+)\s*$/gm)].map((m) => m[1]!));
}

describe('Prometheus alert rules', () => {
  it('pass promtool check rules', () => {
    expect(ruleFiles.length).toBeGreaterThan(0);
    const r = runPromtool(['check', 'rules', ...ruleFiles]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('pass their promtool unit tests', () => {
    expect(testFiles.length).toBeGreaterThan(0);
    const r = runPromtool(['test', 'rules', ...testFiles]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
  });

  it('have unit tests that expect every alert to fire and not to fire', () => {
    const tests = testFiles.map((f) => readFileSync(f, 'utf8')).join('\n');
    // Each `alertname:` block is followed by its exp_alerts: a list with entries (fires) or `[]` (does not).
    const cases = [...tests.matchAll(/alertname:\s*(\S+)\s*\n\s*exp_alerts:\s*(\[\]|\S*)/g)].map((m) => ({ alert: m[1]!, fires: m[2] !== '[]' }));
    const alerts = declaredAlerts();
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    const missing = alerts.flatMap((a) => [
      ...(cases.some((c) => c.alert === a && c.fires) ? [] : [`${a} firing`]),
      ...(cases.some((c) => c.alert === a && !c.fires) ? [] : [`${a} not firing`]),
    ]);
    expect(missing, 'alerts without a unit test case').toEqual([]);
  });

  it('each name a summary, a description and a runbook section that exists in docs/operations.md', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../docs/operations.md'), 'utf8');
    for (const f of ruleFiles) {
      const text = readFileSync(f, 'utf8');
      for (const block of text.split(/^\s*- alert:/m).slice(1)) {
        const name = block.trim().split(/\s/)[0]!;
        expect(block, name).toMatch(/\n\s*summary: "/);
        expect(block, name).toMatch(/\n\s*description: "/);
        const anchor = block.match(/runbook: "docs\/operations\.md#([a-z0-9-]+)"/)?.[1];
        expect(anchor, `${name} runbook`).toBe(name.toLowerCase());
        // The anchor GitHub derives from a heading `### AttuneName`.
        expect(doc, `docs/operations.md has no "### ${name}" heading`).toMatch(new RegExp(`^### ${name}\\s*$`, 'm'));
      }
    }
  });

  it('are loaded by a Prometheus config that passes promtool check config', () => {
    const r = runPromtool(['check', 'config', join(OPS, 'prometheus.yml')]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: 1 rule files found|SUCCESS: .*valid prometheus config/);
    expect(r.stdout).toContain('rules/attune.yml');
  });
});
