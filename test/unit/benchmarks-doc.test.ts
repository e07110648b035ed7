// BENCHMARKS.md is shared by several benches: a run replaces the sections it produced and keeps every other one.
import { describe, expect, it } from 'vitest';
import { withSection, withSections } from '../../bench/benchmarks-doc.js';

const DOC = ['# Benchmarks', '', '## Machine', '', 'old machine', '', '## (a) In process', '', 'old a', '',
  '## (d) Lookup API', '', 'old d', '', '## What limits it', '', 'old limits', '', '## History', '', 'old history', ''].join('\n');
const headings = (doc: string) => doc.split('\n').filter((l) => l.startsWith('## '));

describe('BENCHMARKS.md sections', () => {
  it('a partial run replaces its sections and keeps the ones it did not run', () => {
    const out = withSections(DOC, ['## Machine', '', 'new machine', '## (a) In process', '', 'new a', '## What limits it', '', 'new limits']);
    expect(headings(out)).toEqual(['## Machine', '## (a) In process', '## (d) Lookup API', '## What limits it', '## History']);
    expect(out).toContain('new machine');
    expect(out).toContain('new a');
    expect(out).toContain('old d');
    expect(out).toContain('new limits');
    expect(out).toContain('old history');
    expect(out).not.toMatch(/old (machine|a|limits)/);
  });

  it('puts a new section before "What limits it"', () => {
    const out = withSection(DOC, '## (c) Freshness', ['## (c) Freshness', '', 'c']);
    expect(headings(out)).toEqual(['## Machine', '## (a) In process', '## (d) Lookup API', '## (c) Freshness', '## What limits it', '## History']);
  });

  it('finds a heading only where it starts a line, not where a paragraph names it', () => {
    const doc = DOC.replace('old a', 'see ## (d) Lookup API below');
    const out = withSection(doc, '## (d) Lookup API', ['## (d) Lookup API', '', 'new d']);
    expect(out).toContain('see ## (d) Lookup API below');
    expect(out).toContain('new d');
    expect(headings(out)).toEqual(headings(DOC));
  });

  it('ignores text before the first heading of a run', () => {
    expect(withSections(DOC, ['# Benchmarks', 'intro'])).toBe(DOC);
  });
});
