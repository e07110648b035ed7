/**
 * Error collection while reading a rule file: every mistake is kept with its line:column (from the YAML
 * parser's ranges) and the id of the segment being read, so that one run reports all of them.
 */
import { isScalar, LineCounter, parseDocument, type Document, type Node as YNode, type Pair } from 'yaml';
import type { Position, RuleError } from './rule-ast.js';

export class RuleReader {
  readonly errors: RuleError[] = [];
  /** The segment being read (null outside the segments): every error recorded names it. */
  segmentId: string | null = null;
  constructor(private readonly lc: LineCounter) {}

  posOf(n: YNode | null | undefined | Pair['key']): Position {
    const off = (n as YNode | null)?.range?.[0] ?? 0;
    const p = this.lc.linePos(off);
    return { line: p.line, col: p.col };
  }

  /** Records a mistake at node `n`; returns null so that readers can `return r.fail(...)`. */
  fail(n: unknown, message: string): null {
    this.errors.push({ segmentId: this.segmentId, ...this.posOf(n as YNode), message });
    return null;
  }
}

/** A mapping key as text (scalar keys by value). */
export function keyOf(p: Pair): string {
  const k = p.key;
  return isScalar(k) ? String(k.value) : String(k);
}

/**
 * Parses YAML (or JSON) text with positions: the document and a reader whose errors already hold the syntax
 * errors (when there are any, the document is not worth reading further). Duplicate keys are errors.
 */
export function readYaml(text: string): { doc: Document.Parsed; reader: RuleReader } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const reader = new RuleReader(lc);
  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    reader.errors.push({ segmentId: null, line: p.line, col: p.col, message: `syntax error: ${e.message.split('\n')[0]}` });
  }
  return { doc, reader };
}
