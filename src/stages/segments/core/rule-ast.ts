/**
 * The rule language's syntax tree: what parseSegmentRules produces and compileRules consumes. Positions are the
 * line:column of the node in the rule file, for error messages.
 */
import type { EventType } from '../../../domain/events.js';
import type { WindowSpec } from '../features/config.js';

export type Op = 'gt' | 'gte' | 'lt' | 'lte' | 'eq' | 'ne' | 'in' | 'not_in' | 'exists';
export const OPERATORS: readonly Op[] = ['gt', 'gte', 'lt', 'lte', 'eq', 'ne', 'in', 'not_in', 'exists'];

/** numeric: counts/amounts; duration: ms (values accept "30d"); text: strings; flag: booleans. */
export type ValueKind = 'numeric' | 'duration' | 'text' | 'flag';

export type FeatureRef =
  | { f: 'count'; types: EventType[] | null; category: string | null; window: WindowSpec }
  | { f: 'sum'; field: 'amount' | 'quantity'; types: EventType[] | null; category: string | null; window: WindowSpec }
  | { f: 'recency'; type: EventType | null }
  | { f: 'since_first_seen' }
  | { f: 'rfm'; metric: 'recency' | 'frequency' | 'monetary'; window: WindowSpec | null }
  | { f: 'affinity_rank'; category: string }
  | { f: 'context'; field: 'country' | 'device' }
  | { f: 'session'; field: 'count' | 'active' | 'current_length' | 'current_events' };

export interface Position {
  line: number;
  col: number;
}

export interface Condition {
  kind: 'cond';
  feature: FeatureRef;
  valueKind: ValueKind;
  op: Op;
  /** number (ms for durations), string, string[] (in/not_in), or boolean (exists, flags). */
  value: number | string | string[] | boolean;
  pos: Position;
}

export type Expr =
  | { kind: 'all'; items: Expr[]; pos: Position }
  | { kind: 'any'; items: Expr[]; pos: Position }
  | { kind: 'not'; item: Expr; pos: Position }
  | Condition;

export interface SegmentRule {
  id: string;
  description: string | null;
  when: Expr;
  /** Keep a set of the segment's member user ids (`members: true`); counts are always kept. */
  members: boolean;
  pos: Position;
}

export interface RuleError extends Position {
  segmentId: string | null;
  message: string;
}
