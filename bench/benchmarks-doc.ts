/**
 * BENCHMARKS.md is written by several benches: each owns one `## ` section, which a run replaces in place (or puts
 * before "What limits it", or at the end), leaving the other sections as they are — so a partial run
 * (`npm run bench -- --no-api`, a standalone bench) never drops the figures of the benches it did not run.
 */
export function withSection(doc: string, heading: string, section: string[]): string {
  const text = `${section.join('\n').trimEnd()}\n\n`;
  const start = headingAt(doc, heading);
  if (start >= 0) {
    const next = doc.indexOf('\n## ', start + heading.length);
    return doc.slice(0, start) + text + (next >= 0 ? doc.slice(next + 1) : '');
  }
  const limits = headingAt(doc, '## What limits it');
  return limits >= 0 ? doc.slice(0, limits) + text + doc.slice(limits) : `${doc.trimEnd()}\n\n${text}`;
}

/** Where `heading` starts a line of `doc` (not a mention of it inside a paragraph), or -1. */
function headingAt(doc: string, heading: string): number {
  if (doc.startsWith(heading + '\n')) return 0;
  const at = doc.indexOf(`\n${heading}\n`);
  return at >= 0 ? at + 1 : -1;
}

/**
 * Every `## ` section of `lines` (text before the first heading is ignored) replaced or added in `doc`, in order;
 * the sections of `doc` that `lines` does not hold are kept.
 */
export function withSections(doc: string, lines: readonly string[]): string {
  let out = doc;
  let current: string[] | null = null;
  const flush = () => { if (current) out = withSection(out, current[0]!, current); };
  for (const line of lines) {
    if (line.startsWith('## ')) {
      flush();
      current = [line];
    } else current?.push(line);
  }
  flush();
  return out;
}
