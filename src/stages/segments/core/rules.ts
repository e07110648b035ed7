/**
 * Segment rule files (YAML or JSON — JSON is parsed by the YAML parser so both get line:column positions).
 * See docs/segments.md for the language. Validation collects every mistake with the segment id and position:
 * this module reads the file's structure (segments, all/any/not, conditions); rule-features.ts reads features
 * and operator values; rule-ast.ts is the tree it produces.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, type Node as YNode, type Pair, type YAMLMap } from 'yaml';
import type { FeatureConfig } from '../features/config.js';
import { OPERATORS, type Expr, type FeatureRef, type Op, type SegmentRule } from './rule-ast.js';
import { conditionReaders, FEATURE_NAMES, OPS_BY_KIND } from './rule-features.js';
import { keyOf, readYaml } from './rule-reader.js';
import { SegmentRulesError } from '../../../errors.js';

// The syntax tree's types stay importable from here, the module that produces it.
export * from './rule-ast.js';

// The class lives with every other error class in src/errors.ts; importable from here as before.
export { SegmentRulesError };

const SEGMENT_ID = /^[a-z][a-z0-9_]{0,63}$/;

/** Reads and validates a rule file; throws SegmentRulesError. */
export function loadSegmentRulesFile(path: string, cfg: FeatureConfig): SegmentRule[] {
  return parseSegmentRules(readFileSync(path, 'utf8'), cfg, path);
}

/** Parses and validates rule text (YAML or JSON); throws SegmentRulesError listing every mistake. */
export function parseSegmentRules(text: string, cfg: FeatureConfig, file = '<rules>'): SegmentRule[] {
  const { doc, reader: r } = readYaml(text);
  const { errors } = r;
  const posOf = (n: YNode | null | undefined | Pair['key']) => r.posOf(n);
  const fail = (n: unknown, message: string): null => r.fail(n, message);
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

  const { featureOf, valueOf } = conditionReaders(r, cfg);

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
    r.segmentId = id;
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
  r.segmentId = null;
  if (errors.length) throw new SegmentRulesError(file, errors);
  return rules;
}
