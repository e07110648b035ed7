/**
 * Reads and validates an experiments file (YAML or JSON; docs/experiments.md). Every mistake is collected with its
 * line:column by the segment rules' reader (segments/core/rule-reader.ts) and the experiment it is in, and thrown
 * together as one ExperimentsFileError whose lines say what is allowed.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, type Node as YNode, type Pair, type YAMLMap } from 'yaml';
import { ConfigError, ExperimentsFileError } from '../errors.js';
import { RecommenderConfigSchema } from '../stages/recommend/model/config.js';
import { parseDuration } from '../stages/segments/features/config.js';
import { STRATEGY_NAMES } from '../stages/recommend/model/strategy/strategies.js';
import { keyOf, readYaml, type RuleReader } from '../stages/segments/core/rule-reader.js';
import type { BanditSettings, Eligibility, Experiment, ExperimentsConfig, Variant } from './model.js';

export { ExperimentsFileError };

const ID = /^[a-z][a-z0-9_]{0,63}$/;
const EXPERIMENT_KEYS = ['description', 'layer', 'traffic', 'salt', 'allocation', 'bandit', 'start', 'stop', 'eligible', 'variants'];
const VARIANT_KEYS = ['strategy', 'share', 'params'];
const ELIGIBLE_KEYS = ['segments', 'countries', 'devices'];
const BANDIT_KEYS = ['min_exploration', 'per_segment', 'bucket'];
/** Shares must sum to 1 within this (decimal fractions such as 0.1 + 0.2 are not exact in binary). */
const SHARE_EPS = 1e-9;
const DEFAULT_BANDIT: BanditSettings = { minExploration: 0.1, perSegment: false, bucketMs: 3_600_000 };

export interface ReadOptions {
  /** Segment ids that exist (the segment rules'); when given, an eligibility naming another is a mistake. */
  knownSegments?: readonly string[];
  /** Where the path came from, for the message when it cannot be read (default `ATTUNE_EXPERIMENTS=<path>`). */
  source?: string;
}

/**
 * Reads and validates an experiments file; throws ExperimentsFileError listing every mistake, or a ConfigError
 * naming where the path came from when the file cannot be read (the worker, the API and the CLI alike).
 */
export function loadExperimentsFile(path: string, opts: ReadOptions = {}): ExperimentsConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${opts.source ?? `ATTUNE_EXPERIMENTS=${path}`}: cannot read the experiments file: ${(err as Error).message}`);
  }
  return parseExperiments(text, path, opts);
}

/** Parses and validates experiments text (YAML or JSON); throws ExperimentsFileError listing every mistake. */
export function parseExperiments(text: string, file = '<experiments>', opts: ReadOptions = {}): ExperimentsConfig {
  const { doc, reader: r } = readYaml(text);
  const stop = () => new ExperimentsFileError(file, r.errors);
  if (r.errors.length) throw stop();
  const root = doc.contents;
  if (!isMap(root)) {
    r.fail(root, 'the file must be a mapping with an "experiments" key');
    throw stop();
  }
  let list: unknown = undefined;
  for (const p of root.items) {
    const k = keyOf(p);
    if (k === 'experiments') list = p.value;
    else if (k !== 'version') r.fail(p.key, `unknown top-level key "${k}"; allowed keys: experiments, version`);
  }
  if (!isMap(list)) {
    r.fail(list ?? root, '"experiments" must be a mapping of experiment id -> { layer, traffic, eligible, variants, ... }');
    throw stop();
  }
  const experiments: Experiment[] = [];
  for (const pair of list.items) {
    const id = keyOf(pair);
    r.segmentId = id;
    if (!ID.test(id)) {
      r.fail(pair.key, 'experiment ids are lower_snake_case: a letter then letters, digits or _ (max 64)');
      continue;
    }
    const e = experimentOf(r, id, pair, opts);
    if (e) experiments.push(e);
  }
  r.segmentId = null;
  allotSlices(r, experiments, list);
  if (r.errors.length) throw stop();
  return { experiments };
}

function experimentOf(r: RuleReader, id: string, pair: Pair, opts: ReadOptions): Experiment | null {
  const body = pair.value;
  if (!isMap(body)) return r.fail(body ?? pair.key, 'an experiment is a mapping with "variants" (and optionally layer, traffic, eligible, start, stop, ...)');
  const f = fieldsOf(r, body, EXPERIMENT_KEYS, 'experiment field');
  const pos = r.posOf(pair.key as YNode);
  const before = r.errors.length;
  const layer = f.layer ? idOf(r, f.layer, 'layer') : id;
  const traffic = f.traffic ? fractionOf(r, f.traffic, 'traffic') : 1;
  const salt = f.salt ? textOf(r, f.salt, '"salt" must be a non-empty string (the HMAC key of the variant draw)') : id;
  let allocation: Experiment['allocation'] = 'fixed';
  if (f.allocation) {
    const v = isScalar(f.allocation) ? f.allocation.value : undefined;
    if (v === 'fixed' || v === 'thompson') allocation = v;
    else r.fail(f.allocation, '"allocation" is fixed (the variants\' shares) or thompson (a bandit over the variants)');
  }
  if (f.bandit && allocation !== 'thompson') r.fail(f.bandit, '"bandit" settings apply to allocation: thompson only; add it or remove them');
  const bandit = allocation === 'thompson' ? banditOf(r, f.bandit) : null;
  const start = f.start ? timeOf(r, f.start, 'start') : null;
  const stopAt = f.stop ? timeOf(r, f.stop, 'stop') : null;
  if (start !== null && stopAt !== null && !(stopAt > start)) r.fail(f.stop, '"stop" must be after "start"');
  const eligible = eligibilityOf(r, f.eligible, opts);
  if (bandit?.perSegment && !eligible.segments) {
    r.fail(f.bandit ?? pair.key, 'bandit per_segment keeps a posterior per eligibility segment: list them under eligible: { segments: [...] }');
  }
  const variants = variantsOf(r, f.variants ?? null, pair.key, allocation);
  if (r.errors.length > before || !variants || layer === null || traffic === null || salt === null) return null;
  return { id, layer, traffic, sliceFrom: 0, salt, allocation, bandit, start, stop: stopAt, eligible, variants, ...pos };
}

function variantsOf(r: RuleReader, n: YNode | null, at: unknown, allocation: Experiment['allocation']): Variant[] | null {
  if (!isMap(n) || n.items.length === 0) return r.fail(n ?? at, '"variants" must be a non-empty mapping of variant id -> { strategy, share, params }');
  const thompson = allocation === 'thompson';
  if (n.items.length < 2) r.fail(n, 'an experiment needs at least two variants (a control and a treatment; an A/A test repeats the control)');
  const out: Variant[] = [];
  let sum = 0;
  for (const p of n.items as Pair[]) {
    const id = keyOf(p);
    if (!ID.test(id)) {
      r.fail(p.key, 'variant ids are lower_snake_case: a letter then letters, digits or _ (max 64)');
      continue;
    }
    const body = p.value as YNode | null;
    if (!isMap(body)) {
      r.fail(body ?? p.key, 'a variant is a mapping with "strategy" (and "share" unless allocation is thompson; optionally "params")');
      continue;
    }
    const f = fieldsOf(r, body, VARIANT_KEYS, 'variant field');
    let strategy: string | null = null;
    if (!f.strategy) r.fail(p.key, `variant without "strategy"; known strategies: ${STRATEGY_NAMES.join(', ')}`);
    else {
      const v = isScalar(f.strategy) ? f.strategy.value : undefined;
      if (typeof v === 'string' && STRATEGY_NAMES.includes(v)) strategy = v;
      else r.fail(f.strategy, `unknown strategy ${JSON.stringify(v ?? null)}; known strategies: ${STRATEGY_NAMES.join(', ')}`);
    }
    let share = 0;
    if (thompson) {
      if (f.share) r.fail(f.share, 'under allocation: thompson the bandit sets the shares; remove "share"');
    } else if (!f.share) r.fail(p.key, 'variant without "share" (a fraction of the experiment\'s users, e.g. 0.5)');
    else share = fractionOf(r, f.share, 'share') ?? 0;
    sum += share;
    const params = f.params ? paramsOf(r, f.params) : {};
    if (strategy && params) out.push({ id, strategy, share, params });
  }
  if (!thompson && Math.abs(sum - 1) > SHARE_EPS) {
    r.fail(n, `the variants' shares sum to ${+sum.toFixed(12)}; they must sum to 1`);
  }
  if (out.length !== n.items.length) return null;
  return thompson ? out.map((v) => ({ ...v, share: 1 / out.length })) : out;
}

/**
 * The recommender settings a variant may override: those its strategy reads when ranking. The rest (co-occurrence,
 * content, trending, limits, category rules, which event types are purchases) build the one model every variant
 * ranks from, so an override there would silently do nothing.
 */
const VARIANT_PARAMS: Readonly<Record<string, '*' | readonly string[]>> = {
  blend: '*',
  diversity: '*',
  filters: ['purchasedWithinMs'],
  buyAgain: ['enabled', 'minPurchases', 'minGapMs', 'halfLifeMs'],
};
const VARIANT_PARAMS_TEXT = 'blend, diversity, filters.purchasedWithinMs and buyAgain.enabled|minPurchases|minGapMs|halfLifeMs';

/** Recommender overrides, checked against the recommender's schema; each problem at the node it names. */
function paramsOf(r: RuleReader, n: YNode): Variant['params'] | null {
  if (!isMap(n)) return r.fail(n, '"params" must be a mapping of recommender config overrides (see docs/recommender.md), e.g. { blend: { collaborative: 0.8 } }');
  const value = n.toJSON() as Record<string, unknown>;
  const known = Object.keys(RecommenderConfigSchema.shape);
  let ok = true;
  for (const p of (n as YAMLMap).items) {
    const k = keyOf(p);
    if (!known.includes(k)) {
      r.fail(p.key, `unknown recommender setting "${k}"; allowed: ${known.join(', ')}`);
      ok = false;
      continue;
    }
    // Variants share one model (Recommender.variant): only what ranks a list may differ between them.
    const sub = VARIANT_PARAMS[k];
    const bad = sub === undefined ? [k] : sub === '*' || !isMap(p.value) ? [] : (p.value as YAMLMap).items.map(keyOf).filter((x) => !sub.includes(x)).map((x) => `${k}.${x}`);
    for (const b of bad) {
      r.fail(p.key, `params.${b} cannot differ between variants: they share the worker's model (its ${k} settings); a variant may change ${VARIANT_PARAMS_TEXT}`);
      ok = false;
    }
  }
  const parsed = RecommenderConfigSchema.safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      r.fail(nodeAt(n, issue.path) ?? n, `params.${issue.path.join('.')}: ${issue.message}`);
    }
    return null;
  }
  return ok ? (value as Variant['params']) : null;
}

/** The node at a path inside a mapping (the deepest one that exists). */
function nodeAt(n: YNode, path: readonly PropertyKey[]): YNode | null {
  let cur: unknown = n;
  for (const key of path) {
    if (isMap(cur)) {
      const p = (cur as YAMLMap).items.find((x) => keyOf(x as Pair) === String(key)) as Pair | undefined;
      if (!p) break;
      cur = p.value;
    } else if (isSeq(cur) && typeof key === 'number') cur = cur.items[key];
    else break;
  }
  return (cur as YNode) ?? null;
}

function eligibilityOf(r: RuleReader, n: YNode | undefined, opts: ReadOptions): Eligibility {
  const none: Eligibility = { segments: null, countries: null, devices: null };
  if (!n) return none;
  if (!isMap(n)) {
    r.fail(n, '"eligible" is a mapping of segments / countries / devices, each a list (a user matching every given list may enter)');
    return none;
  }
  const f = fieldsOf(r, n, ELIGIBLE_KEYS, 'eligibility');
  const segments = f.segments ? listOf(r, f.segments, 'segments') : null;
  if (segments && opts.knownSegments) {
    const seq = f.segments as YNode & { items: YNode[] };
    segments.forEach((s, i) => {
      if (!opts.knownSegments!.includes(s)) {
        r.fail(seq.items[i], `unknown segment "${s}"; segments of the rule file: ${opts.knownSegments!.join(', ') || '(none)'}`);
      }
    });
  }
  return {
    segments,
    countries: f.countries ? listOf(r, f.countries, 'countries') : null,
    devices: f.devices ? listOf(r, f.devices, 'devices') : null,
  };
}

function banditOf(r: RuleReader, n: YNode | undefined): BanditSettings {
  if (!n) return DEFAULT_BANDIT;
  if (!isMap(n)) {
    r.fail(n, `"bandit" is a mapping of ${BANDIT_KEYS.join(', ')}`);
    return DEFAULT_BANDIT;
  }
  const f = fieldsOf(r, n, BANDIT_KEYS, 'bandit setting');
  let minExploration = DEFAULT_BANDIT.minExploration;
  if (f.min_exploration) {
    const v = isScalar(f.min_exploration) ? f.min_exploration.value : undefined;
    if (typeof v === 'number' && v >= 0 && v < 1) minExploration = v;
    else r.fail(f.min_exploration, '"min_exploration" is a fraction in [0, 1), e.g. 0.1 (10% of decisions uniform over the variants)');
  }
  let perSegment = DEFAULT_BANDIT.perSegment;
  if (f.per_segment) {
    const v = isScalar(f.per_segment) ? f.per_segment.value : undefined;
    if (typeof v === 'boolean') perSegment = v;
    else r.fail(f.per_segment, '"per_segment" must be true or false');
  }
  let bucketMs = DEFAULT_BANDIT.bucketMs;
  if (f.bucket) {
    const v = isScalar(f.bucket) ? f.bucket.value : undefined;
    const ms = typeof v === 'string' || typeof v === 'number' ? parseDuration(v) : null;
    if (ms !== null && ms >= 1000) bucketMs = ms;
    else r.fail(f.bucket, '"bucket" is a duration of at least 1s, e.g. 1h or 15m (decisions are stable within a bucket)');
  }
  return { minExploration, perSegment, bucketMs };
}

/** Allots each layer's slices in file order; a layer's traffic may not exceed 1. */
function allotSlices(r: RuleReader, experiments: Experiment[], at: YNode): void {
  const used = new Map<string, number>();
  for (const e of experiments) {
    const from = used.get(e.layer) ?? 0;
    e.sliceFrom = from;
    used.set(e.layer, from + e.traffic);
  }
  for (const [layer, total] of used) {
    if (total > 1 + SHARE_EPS) {
      const ids = experiments.filter((e) => e.layer === layer).map((e) => e.id);
      r.fail(at, `layer "${layer}" is over-allotted: the traffic of ${ids.join(', ')} sums to ${+total.toFixed(12)}; lower it to at most 1 in total`);
    }
  }
}

/** The fields of a mapping by name; unknown keys are mistakes listing the allowed ones. */
function fieldsOf(r: RuleReader, n: YAMLMap, allowed: readonly string[], what: string): Record<string, YNode | undefined> {
  const out: Record<string, YNode | undefined> = {};
  for (const p of n.items as Pair[]) {
    const k = keyOf(p);
    if (allowed.includes(k)) out[k] = (p.value as YNode | null) ?? (p.key as YNode);
    else r.fail(p.key, `unknown ${what} "${k}"; allowed: ${allowed.join(', ')}`);
  }
  return out;
}

function idOf(r: RuleReader, n: YNode, what: string): string | null {
  const v = isScalar(n) ? n.value : undefined;
  return typeof v === 'string' && ID.test(v) ? v : r.fail(n, `"${what}" is a lower_snake_case name (a letter then letters, digits or _)`);
}

function textOf(r: RuleReader, n: YNode, message: string): string | null {
  const v = isScalar(n) ? n.value : undefined;
  return typeof v === 'string' && v.length > 0 ? v : r.fail(n, message);
}

function fractionOf(r: RuleReader, n: YNode, what: string): number | null {
  const v = isScalar(n) ? n.value : undefined;
  return typeof v === 'number' && v > 0 && v <= 1 ? v : r.fail(n, `"${what}" is a fraction in (0, 1], e.g. 0.5 for half`);
}

function listOf(r: RuleReader, n: YNode, what: string): string[] | null {
  if (isSeq(n) && n.items.length > 0 && n.items.every((x) => isScalar(x) && typeof x.value === 'string' && x.value.length > 0)) {
    return n.items.map((x) => String((x as { value: string }).value));
  }
  return r.fail(n, `"${what}" is a non-empty list of names, e.g. [${what === 'countries' ? 'United Kingdom, France' : what === 'devices' ? 'mobile' : 'frequent_buyers'}]`);
}

/** An ISO-8601 date-time with a zone (Z or ±hh:mm), as epoch ms. */
function timeOf(r: RuleReader, n: YNode, what: string): number | null {
  const v = isScalar(n) ? n.value : undefined;
  const ok = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v);
  const ms = ok ? Date.parse(v) : NaN;
  return Number.isFinite(ms) ? ms : r.fail(n, `"${what}" is an ISO-8601 time with a zone, e.g. 2027-01-15T00:00:00Z`);
}
