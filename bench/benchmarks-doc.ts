/**
 * BENCHMARKS.md is written by several benches: each owns one `## ` section, which a standalone run replaces in place
 * (or puts before "What limits it", or at the end), leaving the other sections as they are.
 */
export function withSection(doc: string, heading: string, section: string[]): string {
  const text = `${section.join('\n').trimEnd()}\n\n`;
  const start = doc.indexOf(heading);
  if (start >= 0) {
    const next = doc.indexOf('\n## ', start + heading.length);
    return doc.slice(0, start) + text + (next >= 0 ? doc.slice(next + 1) : '');
  }
  const limits = doc.indexOf('## What limits it');
  return limits >= 0 ? doc.slice(0, limits) + text + doc.slice(limits) : `${doc.trimEnd()}\n\n${text}`;
}
