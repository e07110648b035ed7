/**
 * Error collection while reading a rule file: every mistake is kept with its line:column (from the YAML
 * parser's ranges) and the id of the segment being read, so that one run reports all of them.
 */
import { isScalar, type LineCounter, type Node as YNode, type Pair } from 'yaml';
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
