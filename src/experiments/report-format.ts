/**
 * What `attune experiments report` shows, built from the experiments file and the counts hash (counts.ts): a plain
 * JSON-able report (`experimentsReport`), its text table (`formatReport`) and a self-contained SVG chart
 * (`reportSvg`). Pure (no I/O): the command reads the file and Redis, so the same counts always give the same
 * report — the bandit shares too, since banditShares draws from a seeded generator.
 *
 * The statistics are report.ts's (Wilson intervals, z-test against the control, chi-square over > 2 variants) and
 * thompson.ts's (shares of decisions); this module only arranges and prints them.
 */
import type { Experiment, ExperimentsConfig } from './model.js';
import { banditStateFrom, variantCounts, type ExperimentCounts } from './counts.js';
import { summariseExperiment, type RateSummary } from './report.js';
import { banditShares } from './thompson.js';
import type { TestResult } from './stats.js';

export interface RateReport {
  rate: number;
  lo: number;
  hi: number;
  /** The z-test against the control (null for the control itself). */
  vsControl: { z: number; p: number } | null;
}

export interface VariantReport {
  id: string;
  strategy: string;
  /** The stored counts as they are (the rates cap clicks and conversions at the impressions, report.ts). */
  impressions: number;
  clicks: number;
  conversions: number;
  ctr: RateReport;
  conversion: RateReport;
}

export interface BanditReport {
  minExploration: number;
  perSegment: boolean;
  /** Share of decisions each arm gets now, over the global posterior (variant id → fraction; they sum to 1). */
  shares: Record<string, number>;
  /** Per segment (per_segment only): the eligibility segments in file order, then any others the counts hold. */
  segments: Array<{ segment: string; impressions: number; clicks: number; shares: Record<string, number> }>;
}

export interface ExperimentReport {
  id: string;
  layer: string;
  traffic: number;
  allocation: Experiment['allocation'];
  control: string;
  impressions: number;
  variants: VariantReport[];
  /** Over all variants; null with two variants (the z-test is that test then). */
  ctrChiSquare: { statistic: number; df: number; p: number } | null;
  conversionChiSquare: { statistic: number; df: number; p: number } | null;
  /** The variant with the highest CTR (ties to file order, so to the control); null before any impression. */
  best: { variant: string; isControl: boolean; p: number | null; significantAt: 0.01 | 0.05 | null } | null;
  bandit: BanditReport | null;
  /** The leader and whether its lead is significant, in one sentence ("best by CTR: …"). */
  verdict: string;
  /** Variants the counts hold but the file no longer defines (renamed or removed): not summarised. */
  unknownVariants: string[];
}

export interface ExperimentsReport {
  confidence: number;
  experiments: ExperimentReport[];
  /** Experiments the counts hold but the file does not define: not summarised. */
  unknownExperiments: string[];
}

// ---------------------------------------------------------------------------------------------------- the data

export function experimentsReport(config: ExperimentsConfig, counts: ExperimentCounts, confidence = 0.95): ExperimentsReport {
  const known = new Set(config.experiments.map((e) => e.id));
  return {
    confidence,
    experiments: config.experiments.map((e) => experimentReport(e, counts, confidence)),
    unknownExperiments: [...counts.keys()].filter((id) => !known.has(id)).sort(),
  };
}

function experimentReport(e: Experiment, counts: ExperimentCounts, confidence: number): ExperimentReport {
  const vc = variantCounts(e, counts);
  const s = summariseExperiment(vc, confidence);
  const variants = vc.map((c, i): VariantReport => ({
    id: c.variant,
    strategy: e.variants[i].strategy,
    impressions: c.impressions,
    clicks: c.clicks,
    conversions: c.conversions,
    ctr: rateOf(s.variants[i].ctr),
    conversion: rateOf(s.variants[i].conversion),
  }));
  const known = new Set(e.variants.map((v) => v.id));
  const report: Omit<ExperimentReport, 'verdict'> = {
    id: e.id,
    layer: e.layer,
    traffic: e.traffic,
    allocation: e.allocation,
    control: s.control,
    impressions: variants.reduce((n, v) => n + v.impressions, 0),
    variants,
    ctrChiSquare: testOf(s.ctrChiSquare),
    conversionChiSquare: testOf(s.conversionChiSquare),
    best: bestOf(variants),
    bandit: e.allocation === 'thompson' && e.bandit ? banditReport(e, counts) : null,
    unknownVariants: [...(counts.get(e.id)?.keys() ?? [])].filter((v) => !known.has(v)).sort(),
  };
  // The sentence is part of the data, so every reader (the CLI's text, the ops page) says the same thing.
  return { ...report, verdict: bestLine(report) };
}

function rateOf(r: RateSummary): RateReport {
  return { rate: r.rate, lo: r.interval.lo, hi: r.interval.hi, vsControl: r.vsControl ? { z: r.vsControl.statistic, p: r.vsControl.pValue } : null };
}

function testOf(t: TestResult | null): ExperimentReport['ctrChiSquare'] {
  return t ? { statistic: t.statistic, df: t.df, p: t.pValue } : null;
}

function bestOf(variants: readonly VariantReport[]): ExperimentReport['best'] {
  let best: VariantReport | null = null;
  for (const v of variants) if (v.impressions > 0 && (best === null || v.ctr.rate > best.ctr.rate)) best = v;
  if (best === null) return null;
  const p = best.ctr.vsControl?.p ?? null;
  const significantAt = p === null ? null : p < 0.01 ? 0.01 : p < 0.05 ? 0.05 : null;
  return { variant: best.id, isControl: best === variants[0], p, significantAt };
}

/** The shares the bandit gives now, from the same counts its decisions read (banditStateFrom). */
function banditReport(e: Experiment, counts: ExperimentCounts): BanditReport {
  const settings = e.bandit!;
  const state = banditStateFrom(e, counts);
  const segments: BanditReport['segments'] = [];
  if (settings.perSegment) {
    const ids = [...(e.eligible.segments ?? [])];
    for (const s of Object.keys(state.segments).sort()) if (!ids.includes(s)) ids.push(s);
    for (const segment of ids) {
      const arms = Object.hasOwn(state.segments, segment) ? Object.values(state.segments[segment]) : [];
      segments.push({
        segment,
        impressions: arms.reduce((n, a) => n + a.impressions, 0),
        clicks: arms.reduce((n, a) => n + a.clicks, 0),
        shares: banditShares(state, settings, segment),
      });
    }
  }
  // the global posterior: what a decision without a segment reads (per_segment off, or no eligible segment)
  return { minExploration: settings.minExploration, perSegment: settings.perSegment, shares: banditShares(state, { ...settings, perSegment: false }), segments };
}

// ---------------------------------------------------------------------------------------------------- numbers

/** A p-value in a few characters: 0.34, 0.041, 2.9e-6 (and "<1e-300" where the tail underflowed to 0). */
export function formatP(p: number | null): string {
  if (p === null) return '-';
  if (p === 0) return '<1e-300';
  return p >= 0.001 ? String(Number(p.toPrecision(2))) : p.toExponential(1);
}

export function formatPct(x: number, digits = 2): string {
  return `${(x * 100).toFixed(digits)}%`;
}

/** A round percentage without trailing zeros (axis ticks, traffic): 2.5%, 10%, 0.25%. */
function shortPct(x: number): string {
  return `${Number((x * 100).toFixed(3))}%`;
}

function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function sharesText(shares: Record<string, number>): string {
  return Object.entries(shares).map(([v, s]) => `${v} ${formatPct(s, 1)}`).join(', ');
}

// ---------------------------------------------------------------------------------------------------- text

/** A variant's row label: the control marked (unless it is already called so). */
function variantLabel(r: ExperimentReport, id: string): string {
  return id === r.control && id !== 'control' ? `${id} (control)` : id;
}

/** A test's p for the table: none for the control, and none for a variant without impressions (nothing tested). */
function pCell(v: VariantReport, test: RateReport['vsControl']): string {
  return v.impressions === 0 ? '-' : formatP(test?.p ?? null);
}

/** Columns sized to their widest cell; text left-aligned, numbers right-aligned (so digits line up). */
function table(head: readonly string[], rows: readonly string[][], right: ReadonlySet<number>): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}

/** The best-variant line: which variant leads on CTR and whether the lead over the control is significant. */
function bestLine(r: Omit<ExperimentReport, 'verdict'>): string {
  const b = r.best;
  if (!b) return 'best by CTR: none yet (no impressions)';
  if (b.isControl) {
    // The control leads: how far ahead of the strongest challenger (its test against the control is that test).
    const next = r.variants.slice(1).filter((x) => x.impressions > 0).sort((a, c) => c.ctr.rate - a.ctr.rate)[0];
    if (!next) return `best by CTR: ${b.variant} (the control); no other variant has impressions yet`;
    const p = next.ctr.vsControl?.p ?? null;
    const verdict = p !== null && p < 0.01 ? 'ahead at p < 0.01' : p !== null && p < 0.05 ? 'ahead at p < 0.05' : 'not significantly ahead (p >= 0.05)';
    return `best by CTR: ${b.variant} (the control), ${formatPct(r.variants[0].ctr.rate)} vs ${formatPct(next.ctr.rate)} for the runner-up ${next.id}, p = ${formatP(p)}: ${verdict}`;
  }
  const ctl = r.variants[0];
  const v = r.variants.find((x) => x.id === b.variant)!;
  const ctlName = ctl.id === 'control' ? 'the control' : `the control ${ctl.id}`;
  const lead = ctl.ctr.rate > 0 ? ` (${v.ctr.rate >= ctl.ctr.rate ? '+' : ''}${formatPct(v.ctr.rate / ctl.ctr.rate - 1, 1)} relative)` : '';
  const verdict = b.significantAt === null ? 'not significantly different from the control (p >= 0.05)' : `differs from the control at p < ${b.significantAt}`;
  return `best by CTR: ${b.variant}, ${formatPct(v.ctr.rate)} vs ${formatPct(ctl.ctr.rate)} for ${ctlName}${lead}, p = ${formatP(b.p)}: ${verdict}`;
}

function experimentBlock(r: ExperimentReport, confidence: number): string[] {
  const ci = `${Math.round(confidence * 100)}% CI`;
  const head = ['variant', 'strategy', 'impressions', 'clicks', 'CTR', ci, 'p', 'conversions', 'conv rate', ci, 'p'];
  if (r.bandit) head.push('share');
  const rows = r.variants.map((v) => {
    const cells = [
      variantLabel(r, v.id),
      v.strategy,
      thousands(v.impressions),
      thousands(v.clicks),
      formatPct(v.ctr.rate),
      `[${formatPct(v.ctr.lo)}, ${formatPct(v.ctr.hi)}]`,
      pCell(v, v.ctr.vsControl),
      thousands(v.conversions),
      formatPct(v.conversion.rate),
      `[${formatPct(v.conversion.lo)}, ${formatPct(v.conversion.hi)}]`,
      pCell(v, v.conversion.vsControl),
    ];
    if (r.bandit) cells.push(formatPct(r.bandit.shares[v.id] ?? 0, 1));
    return cells;
  });
  const settings = r.bandit ? `: min_exploration ${r.bandit.minExploration}${r.bandit.perSegment ? ', per_segment' : ''}` : '';
  const out = [`experiment ${r.id}  (layer ${r.layer}, traffic ${shortPct(r.traffic)}, allocation ${r.allocation}${settings}; ${thousands(r.impressions)} impressions)`];
  out.push(...table(head, rows, new Set([2, 3, 4, 6, 7, 8, 10, 11])).map((l) => `  ${l}`));
  out.push('  p: two-sided z-test against the control');
  if (r.ctrChiSquare && r.conversionChiSquare) {
    out.push(`  chi-square over ${r.variants.length} variants: CTR p = ${formatP(r.ctrChiSquare.p)} (df ${r.ctrChiSquare.df}), conversion p = ${formatP(r.conversionChiSquare.p)} (df ${r.conversionChiSquare.df})`);
  }
  if (r.bandit) {
    out.push(`  bandit shares of decisions now (global posterior): ${sharesText(r.bandit.shares)}`);
    for (const s of r.bandit.segments) out.push(`    segment ${s.segment} (${thousands(s.impressions)} impressions): ${sharesText(s.shares)}`);
    // A bandit moves traffic by the data it sees: the fixed-sample tests above are then only indicative.
    out.push('  (a bandit allocates by the results so far: its p-values are indicative, not a fixed-sample test)');
  }
  out.push(`  ${r.verdict}`);
  if (r.unknownVariants.length) out.push(`  counts of variants not in the file (not shown): ${r.unknownVariants.join(', ')}`);
  return out;
}

/** The report as text: one block per experiment, in file order. */
export function formatReport(report: ExperimentsReport): string {
  const blocks = report.experiments.map((r) => experimentBlock(r, report.confidence).join('\n'));
  if (blocks.length === 0) blocks.push('no experiments in the file');
  if (report.unknownExperiments.length) blocks.push(`counts of experiments not in the file (not shown): ${report.unknownExperiments.join(', ')}`);
  return blocks.join('\n\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------- SVG

/** Text and attribute values: the five XML specials (ids are lower_snake_case today, but the chart must not rely on it). */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const W = 860;
const LABEL_X = 200; // labels end here (right-aligned)
const BAR_X = 210;
const BAR_W = 380;
const VALUE_X = BAR_X + BAR_W + 12;
const ROW = 26;
const BANDIT_ROW = 40;
const CTR_COLOUR = '#4c78a8';
const CONTROL_COLOUR = '#9ab0c8';
const SHARE_COLOUR = '#f58518';

/** The smallest of 1, 2, 2.5, 5 × 10^k at or above x: a round axis end. */
function niceMax(x: number): number {
  if (!(x > 0)) return 0.01;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x * (1 - 1e-12)) return m * p;
  return 10 * p;
}

const n1 = (x: number) => x.toFixed(1);

function experimentSvg(r: ExperimentReport, top: number): { svg: string[]; height: number } {
  const live = r.variants.filter((v) => v.impressions > 0);
  // One scale per experiment (CTRs of different surfaces differ a lot); variants without impressions, whose
  // interval is all of [0, 1], do not set it.
  const max = niceMax(Math.max(0, ...live.map((v) => v.ctr.hi)));
  const x = (rate: number) => BAR_X + (BAR_W * Math.min(rate, max)) / max;
  const rowH = r.bandit ? BANDIT_ROW : ROW;
  const out: string[] = [];
  const title = `${r.id}: layer ${r.layer}, ${r.allocation}, ${thousands(r.impressions)} impressions`;
  out.push(`<text x="10" y="${top + 16}" font-size="14" font-weight="bold">${escapeXml(title)}</text>`);
  const rowsTop = top + 26;
  const rowsBottom = rowsTop + rowH * r.variants.length;
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    const tx = n1(BAR_X + BAR_W * f);
    out.push(`<line x1="${tx}" y1="${rowsTop}" x2="${tx}" y2="${rowsBottom}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${tx}" y="${rowsBottom + 14}" text-anchor="middle" font-size="10" fill="#666">${escapeXml(shortPct(max * f))}</text>`);
  }
  r.variants.forEach((v, i) => {
    const y = rowsTop + i * rowH;
    const label = variantLabel(r, v.id);
    out.push(`<text x="${LABEL_X}" y="${y + 15}" text-anchor="end">${escapeXml(label)}</text>`);
    const colour = v.id === r.control ? CONTROL_COLOUR : CTR_COLOUR;
    out.push(`<rect class="ctr-bar" x="${BAR_X}" y="${y + 4}" width="${n1(x(v.ctr.rate) - BAR_X)}" height="14" fill="${colour}"><title>${escapeXml(`${v.id}: CTR ${formatPct(v.ctr.rate)}`)}</title></rect>`);
    let value = 'no impressions';
    if (v.impressions > 0) {
      const [lo, hi, cy] = [n1(x(v.ctr.lo)), n1(x(v.ctr.hi)), y + 11];
      out.push(`<path class="ci" d="M${lo},${cy}H${hi}M${lo},${cy - 5}V${cy + 5}M${hi},${cy - 5}V${cy + 5}" stroke="#222" stroke-width="1.2" fill="none"/>`);
      value = `${formatPct(v.ctr.rate)} [${formatPct(v.ctr.lo)}, ${formatPct(v.ctr.hi)}]`;
      if (v.ctr.vsControl) value += `  p ${formatP(v.ctr.vsControl.p)}`;
    }
    out.push(`<text x="${VALUE_X}" y="${y + 15}">${escapeXml(value)}</text>`);
    if (r.bandit) {
      const share = r.bandit.shares[v.id] ?? 0;
      out.push(`<rect class="share-bar" x="${BAR_X}" y="${y + 24}" width="${n1(BAR_W * share)}" height="7" fill="${SHARE_COLOUR}"/>`);
      out.push(`<text x="${VALUE_X}" y="${y + 31}" font-size="10" fill="${SHARE_COLOUR}">${escapeXml(`share ${formatPct(share, 1)}`)}</text>`);
    }
  });
  return { svg: out, height: rowsBottom + 28 - top };
}

/** The report as a self-contained SVG: per experiment, CTR bars with their intervals as whiskers (and bandit shares). */
export function reportSvg(report: ExperimentsReport): string {
  const body: string[] = [];
  let y = 10;
  const ci = `${Math.round(report.confidence * 100)}% confidence interval`;
  body.push(`<text x="10" y="${y + 14}" font-size="12" fill="#444">${escapeXml(`bar: CTR (clicks per impression), lighter for the control; whiskers: its ${ci}; p: z-test against the control`)}</text>`);
  if (report.experiments.some((r) => r.bandit)) {
    body.push(`<rect x="10" y="${y + 22}" width="12" height="7" fill="${SHARE_COLOUR}"/><text x="28" y="${y + 30}" font-size="12" fill="#444">${escapeXml('bandit share of decisions now (full bar width = 100%)')}</text>`);
    y += 16;
  }
  y += 28;
  if (report.experiments.length === 0) {
    body.push(`<text x="10" y="${y + 16}">no experiments in the file</text>`);
    y += 30;
  }
  for (const r of report.experiments) {
    const block = experimentSvg(r, y);
    body.push(...block.svg);
    y += block.height + 12;
  }
  const h = Math.ceil(y);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif" font-size="12">`,
    `<title>Attune experiments report</title>`,
    `<rect width="${W}" height="${h}" fill="white"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
