/** The promtool lookup of the metric, rule and dashboard tests: a missing promtool names the command that installs it. */
import { afterEach, describe, expect, it } from 'vitest';
import { promtoolPath } from '../support/promtool.js';

const saved = { ATTUNE_PROMTOOL: process.env.ATTUNE_PROMTOOL, PATH: process.env.PATH };
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('promtoolPath', () => {
  it('throws naming `bash scripts/services.sh up prometheus` when ATTUNE_PROMTOOL points nowhere', () => {
    process.env.ATTUNE_PROMTOOL = '/nonexistent/promtool';
    expect(() => promtoolPath()).toThrow(/promtool not found at ATTUNE_PROMTOOL=\/nonexistent\/promtool: install it with: bash scripts\/services\.sh up prometheus/);
  });
  it('returns ATTUNE_PROMTOOL when it is an executable', () => {
    process.env.ATTUNE_PROMTOOL = process.execPath; // any executable will do for the lookup
    expect(promtoolPath()).toBe(process.execPath);
  });
});
