/**
 * Segment rule files (YAML or JSON — JSON is parsed by the YAML parser so both get line:column positions).
 * See docs/segments.md for the language. Validation collects every mistake with the segment id and position.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YNode, type Pair, type YAMLMap } from 'yaml';
import { EVENT_TYPES, type EventType } from '../../../domain/events.js';
import { parseDuration, findWindow, type FeatureConfig, type WindowSpec } from '../features/config.js';
import { SegmentRulesError } from '../../../errors.js';

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

// The class lives with every other error class in src/errors.ts; importable from here as before.
export { SegmentRulesError };

interface FeatureSpec {
  fields: string[];
  /** Field used when the feature is given as a scalar shorthand (e.g. `recency: purchase`). */
  shorthand: string | null;
  required: string[];
}

const FEATURES: Record<FeatureRef['f'], FeatureSpec> = {
  count: { fields: ['type', 'category', 'window'], shorthand: null, required: ['window'] },
  sum: { fields: ['field', 'type', 'category', 'window'], shorthand: null, required: ['window'] },
  recency: { fields: ['type'], shorthand: 'type', required: [] },
  since_first_seen: { fields: [], shorthand: null, required: [] },
  rfm: { fields: ['metric', 'window'], shorthand: 'metric', required: ['metric'] },
  affinity_rank: { fields: ['category'], shorthand: 'category', required: ['category'] },
  context: { fields: ['field'], shorthand: 'field', required: ['field'] },
  session: { fields: ['field'], shorthand: 'field', required: ['field'] },
};
const FEATURE_NAMES = Object.keys(FEATURES);
const SEGMENT_ID = /^[a-z][a-z0-9_]{0,63}$/;

/** Reads and validates a rule file; throws SegmentRulesError. */
export function loadSegmentRulesFile(path: string, cfg: FeatureConfig): SegmentRule[] {
  return parseSegmentRules(readFileSync(path, 'utf8'), cfg, path);
}

/** Parses and validates rule text (YAML or JSON); throws SegmentRulesError listing every mistake. */
export function parseSegmentRules(text: string, cfg: FeatureConfig, file = '<rules>'): SegmentRule[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const errors: RuleError[] = [];
  const posOf = (n: YNode | null | undefined | Pair['key']): Position => {
    const off = (n as YNode | null)?.range?.[0] ?? 0;
    const p = lc.linePos(off);
    return { line: p.line, col: p.col };
  };
  let seg: string | null = null;
  const fail = (n: unknown, message: string): null => {
    errors.push({ segmentId: seg, ...posOf(n as YNode), message });
    return null;
  };
  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    errors.push({ segmentId: null, line: p.line, col: p.col, message: `syntax error: ${e.message.split('\n')[0]}` });
  }
  if (errors.length) throw new SegmentRulesError(file, errors);

  const root = doc.contents;
  const rules: SegmentRule[] = [];
  if (!isMap(root)) {
    fail(root, 'the file must be a mapping with a "segments" key');
    throw new SegmentRulesError(file, errors);
  }
  let segmentsNode: YNode | null = null;
  for (const pair of root.items) {
    const k = keyOf(pair);
    if (k === 'segments') segmentsNode = pair.value as YNode;
    else if (k !== 'version') fail(pair.key, `unknown top-level key "${k}"; allowed keys: segments, version`);
  }
  if (!isMap(segmentsNode)) {
    fail(segmentsNode ?? root, '"segments" must be a mapping of segment id -> { description, when }');
    throw new SegmentRulesError(file, errors);
  }

  const windowsHelp = () => `allowed windows: ${cfg.windows.map((w) => w.name).join(', ')}`;

  const windowOf = (n: unknown): WindowSpec | null => {
    const v = isScalar(n) ? n.value : undefined;
    if (typeof v !== 'string' && typeof v !== 'number') return fail(n, `window must be a duration; ${windowsHelp()}`);
    const w = typeof v === 'number' ? cfg.windows.find((x) => x.ms === v) : findWindow(cfg, v);
    return w ?? fail(n, `unknown window ${JSON.stringify(v)}; ${windowsHelp()} (configure more under features.windows)`);
  };
  const typeOf = (n: unknown): EventType | null | undefined => {
    const v = isScalar(n) ? n.value : undefined;
    if (v === 'any' || v === null) return null;
    if (typeof v === 'string' && (EVENT_TYPES as readonly string[]).includes(v)) return v as EventType;
    fail(n, `unknown event type ${JSON.stringify(v)}; allowed types: ${EVENT_TYPES.join(', ')}, any`);
    return undefined;
  };
  const typesOf = (n: unknown): EventType[] | null | undefined => {
    if (isSeq(n)) {
      const out: EventType[] = [];
      for (const it of n.items) {
        const t = typeOf(it);
        if (t === undefined) return undefined;
        if (t === null) return null;
        out.push(t);
      }
      return out;
    }
    const t = typeOf(n);
    return t === undefined ? undefined : t === null ? null : [t];
  };
  const stringOf = (n: unknown, what: string): string | null => {
    const v = isScalar(n) ? n.value : undefined;
    if (typeof v === 'string' && v.length > 0) return v;
    if (typeof v === 'number') return String(v);
    return fail(n, `${what} must be a non-empty string`);
  };
  const enumOf = <T extends string>(n: unknown, what: string, allowed: readonly T[]): T | null => {
    const v = isScalar(n) ? n.value : undefined;
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    return fail(n, `unknown ${what} ${JSON.stringify(v ?? null)}; allowed: ${allowed.join(', ')}`);
  };

  const featureOf = (name: FeatureRef['f'], n: unknown, keyNode: unknown): { ref: FeatureRef; kind: ValueKind } | null => {
    const spec = FEATURES[name];
    const fields = new Map<string, unknown>();
    if (isMap(n)) {
      for (const p of n.items) {
        const k = keyOf(p);
        if (!spec.fields.includes(k)) {
          fail(p.key, `unknown field "${k}" for ${name}; allowed fields: ${spec.fields.join(', ') || '(none)'}`);
          return null;
        }
        fields.set(k, p.value);
      }
    } else if (isScalar(n) && n.value !== null && n.value !== true) {
      if (!spec.shorthand) return fail(n, `${name} takes a mapping of ${spec.fields.join(', ') || 'no fields ({})'}`);
      fields.set(spec.shorthand, n);
    } else if (n != null && !(isScalar(n) && (n.value === null || n.value === true))) {
      return fail(n, `${name} takes a mapping of fields (${spec.fields.join(', ')})`);
    }
    for (const r of spec.required) {
      if (!fields.has(r)) {
        const extra = r === 'window' ? `; ${windowsHelp()}` : '';
        return fail(keyNode, `${name} needs a "${r}" field${extra}`);
      }
    }
    switch (name) {
      case 'count':
      case 'sum': {
        const window = windowOf(fields.get('window'));
        const types = fields.has('type') ? typesOf(fields.get('type')) : null;
        const category = fields.has('category') ? stringOf(fields.get('category'), 'category') : null;
        if (!window || types === undefined || (fields.has('category') && category === null)) return null;
        if (name === 'count') return { ref: { f: 'count', types, category, window }, kind: 'numeric' };
        const field = fields.has('field') ? enumOf(fields.get('field'), 'sum field', ['amount', 'quantity'] as const) : 'amount';
        if (!field) return null;
        return { ref: { f: 'sum', field, types, category, window }, kind: 'numeric' };
      }
      case 'recency': {
        const type = fields.has('type') ? typeOf(fields.get('type')) : null;
        if (type === undefined) return null;
        return { ref: { f: 'recency', type }, kind: 'duration' };
      }
      case 'since_first_seen':
        return { ref: { f: 'since_first_seen' }, kind: 'duration' };
      case 'rfm': {
        const metric = enumOf(fields.get('metric'), 'rfm metric', ['recency', 'frequency', 'monetary'] as const);
        if (!metric) return null;
        if (metric !== 'recency' && !fields.has('window')) return fail(keyNode, `rfm ${metric} needs a "window" field; ${windowsHelp()}`);
        const window = fields.has('window') ? windowOf(fields.get('window')) : null;
        if (fields.has('window') && !window) return null;
        return { ref: { f: 'rfm', metric, window }, kind: metric === 'recency' ? 'duration' : 'numeric' };
      }
      case 'affinity_rank': {
        const category = stringOf(fields.get('category'), 'category');
        return category ? { ref: { f: 'affinity_rank', category }, kind: 'numeric' } : null;
      }
      case 'context': {
        const field = enumOf(fields.get('field'), 'context field', ['country', 'device'] as const);
        return field ? { ref: { f: 'context', field }, kind: 'text' } : null;
      }
      case 'session': {
        const field = enumOf(fields.get('field'), 'session field', ['count', 'active', 'current_length', 'current_events'] as const);
        if (!field) return null;
        const kind: ValueKind = field === 'active' ? 'flag' : field === 'current_length' ? 'duration' : 'numeric';
        return { ref: { f: 'session', field }, kind };
      }
    }
  };

  const OPS_BY_KIND: Record<ValueKind, Op[]> = {
    numeric: ['gt', 'gte', 'lt', 'lte', 'eq', 'ne', 'exists'],
    duration: ['gt', 'gte', 'lt', 'lte', 'eq', 'ne', 'exists'],
    text: ['eq', 'ne', 'in', 'not_in', 'exists'],
    flag: ['eq'],
  };

  const valueOf = (kind: ValueKind, op: Op, n: unknown): Condition['value'] | null => {
    if (op === 'exists') {
      const v = isScalar(n) ? n.value : undefined;
      return typeof v === 'boolean' ? v : fail(n, 'exists takes true or false');
    }
    if (op === 'in' || op === 'not_in') {
      if (!isSeq(n) || n.items.length === 0) return fail(n, `${op} takes a non-empty list of strings, e.g. [GB, FR]`);
      const out: string[] = [];
      for (const it of n.items) {
        const s = stringOf(it, `${op} item`);
        if (s === null) return null;
        out.push(s);
      }
      return out;
    }
    const v = isScalar(n) ? n.value : undefined;
    switch (kind) {
      case 'numeric':
        return typeof v === 'number' && Number.isFinite(v) ? v : fail(n, `${op} takes a number here`);
      case 'duration': {
        const d = typeof v === 'string' || typeof v === 'number' ? parseDuration(v) : null;
        return d !== null ? d : fail(n, `${op} takes a duration here, e.g. 30d, 24h, 15m (a bare number is ms)`);
      }
      case 'text':
        return stringOf(n, `${op} value`);
      case 'flag':
        return typeof v === 'boolean' ? v : fail(n, `${op} takes true or false here`);
    }
  };

  const exprOf = (n: unknown, depth: number): Expr | null => {
    if (depth > 32) return fail(n, 'rule nested too deeply (max 32 levels)');
    if (!isMap(n)) return fail(n, 'expected a mapping: all/any/not, or a condition such as { count: {...}, gt: 5 }');
    const pos = posOf(n as YNode);
    const keys = (n as YAMLMap).items.map(keyOf);
    if (keys.length === 1 && (keys[0] === 'all' || keys[0] === 'any')) {
      const v = n.items[0]!.value;
      if (!isSeq(v) || v.items.length === 0) return fail(v ?? n.items[0]!.key, `${keys[0]} takes a non-empty list of rules`);
      const items: Expr[] = [];
      let ok = true;
      for (const it of v.items) {
        const e = exprOf(it, depth + 1);
        if (e) items.push(e);
        else ok = false;
      }
      return ok ? { kind: keys[0], items, pos } : null;
    }
    if (keys.length === 1 && keys[0] === 'not') {
      const e = exprOf(n.items[0]!.value, depth + 1);
      return e ? { kind: 'not', item: e, pos } : null;
    }
    if (keys.some((k) => k === 'all' || k === 'any' || k === 'not')) {
      return fail(n, 'all/any/not must be the only key of their mapping; wrap siblings in a list under all:');
    }
    let feat: Pair | null = null;
    let opPair: Pair | null = null;
    for (const p of n.items) {
      const k = keyOf(p);
      if (FEATURE_NAMES.includes(k)) {
        if (feat) return fail(p.key, `a condition has exactly one feature; found "${keyOf(feat)}" and "${k}" — combine them with all:`);
        feat = p;
      } else if ((OPERATORS as readonly string[]).includes(k)) {
        if (opPair) return fail(p.key, `a condition has exactly one operator; found "${keyOf(opPair)}" and "${k}" — use all: for ranges`);
        opPair = p;
      } else {
        return fail(
          p.key,
          `unknown feature or operator "${k}"; features: ${FEATURE_NAMES.join(', ')}; operators: ${OPERATORS.join(', ')}; ` +
            'combinators: all, any, not',
        );
      }
    }
    if (!feat) return fail(n, `condition without a feature; features: ${FEATURE_NAMES.join(', ')}`);
    if (!opPair) return fail(n, `condition without an operator; operators: ${OPERATORS.join(', ')}`);
    const fr = featureOf(keyOf(feat) as FeatureRef['f'], feat.value, feat.key);
    if (!fr) return null;
    const op = keyOf(opPair) as Op;
    if (!OPS_BY_KIND[fr.kind].includes(op)) {
      return fail(opPair.key, `operator "${op}" does not apply to ${keyOf(feat)} (${fr.kind}); allowed: ${OPS_BY_KIND[fr.kind].join(', ')}`);
    }
    const value = valueOf(fr.kind, op, opPair.value);
    if (value === null) return null;
    return { kind: 'cond', feature: fr.ref, valueKind: fr.kind, op, value, pos: posOf(feat.key as YNode) };
  };

  for (const pair of segmentsNode.items) {
    const id = keyOf(pair);
    seg = id;
    if (!SEGMENT_ID.test(id)) {
      fail(pair.key, 'segment ids are lower_snake_case: a letter then letters, digits or _ (max 64)');
      continue;
    }
    const body = pair.value;
    if (!isMap(body)) {
      fail(body ?? pair.key, 'a segment is a mapping with "when" (and optionally "description")');
      continue;
    }
    let description: string | null = null;
    let whenNode: unknown = undefined;
    let members = false;
    for (const p of body.items) {
      const k = keyOf(p);
      if (k === 'description') description = isScalar(p.value) ? String(p.value.value) : null;
      else if (k === 'when') whenNode = p.value;
      else if (k === 'members') {
        if (isScalar(p.value) && typeof p.value.value === 'boolean') members = p.value.value;
        else fail(p.value ?? p.key, '"members" must be true or false');
      } else fail(p.key, `unknown segment field "${k}"; allowed: description, when, members`);
    }
    if (whenNode === undefined) {
      fail(pair.key, 'segment without "when"');
      continue;
    }
    const when = exprOf(whenNode, 0);
    if (when) rules.push({ id, description, when, members, pos: posOf(pair.key as YNode) });
  }
  seg = null;
  if (errors.length) throw new SegmentRulesError(file, errors);
  return rules;
}

function keyOf(p: Pair): string {
  const k = p.key;
  return isScalar(k) ? String(k.value) : String(k);
}

