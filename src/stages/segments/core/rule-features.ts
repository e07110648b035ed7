/**
 * The condition vocabulary of the rule language: which features exist, their fields and value kinds, which
 * operators apply to each kind, and how a feature reference and an operator's value are read from YAML nodes
 * (every mistake is recorded through the RuleReader, with a hint listing what is allowed).
 */
import { isMap, isScalar, isSeq } from 'yaml';
import { EVENT_TYPES, type EventType } from '../../../domain/events.js';
import { parseDuration, findWindow, type FeatureConfig, type WindowSpec } from '../features/config.js';
import type { Condition, FeatureRef, Op, ValueKind } from './rule-ast.js';
import { keyOf, type RuleReader } from './rule-reader.js';

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

export const FEATURE_NAMES = Object.keys(FEATURES);

export const OPS_BY_KIND: Record<ValueKind, Op[]> = {
  numeric: ['gt', 'gte', 'lt', 'lte', 'eq', 'ne', 'exists'],
  duration: ['gt', 'gte', 'lt', 'lte', 'eq', 'ne', 'exists'],
  text: ['eq', 'ne', 'in', 'not_in', 'exists'],
  flag: ['eq'],
};

export interface ConditionReaders {
  /** The feature reference of a condition (`name: n`, key node `keyNode`) and its value kind; null on a mistake. */
  featureOf(name: FeatureRef['f'], n: unknown, keyNode: unknown): { ref: FeatureRef; kind: ValueKind } | null;
  /** The value of operator `op` for a feature of `kind`; null on a mistake. */
  valueOf(kind: ValueKind, op: Op, n: unknown): Condition['value'] | null;
}

/** Readers of conditions against the configured windows; mistakes go to `r`. */
export function conditionReaders(r: RuleReader, cfg: FeatureConfig): ConditionReaders {
  const fail = (n: unknown, message: string): null => r.fail(n, message);
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

  return { featureOf, valueOf };
}
