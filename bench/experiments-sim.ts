/**
 * `npx tsx bench/experiments-sim.ts` — the experiments simulation of issue #14, in process and seeded
 * (src/experiments/simulation.ts): arms with CTR 6% / 4% / 3% (override with --ctrs 0.06,0.04,0.03).
 *   - bandit: --seeds runs (default 20) of --impressions impressions (default 20,000): impressions until the best
 *     arm has ≥ 80% of the last 1,000, cumulative regret against uniform allocation's; the first run's curves are
 *     plotted to --svg (default docs/img/experiments-regret.svg);
 *   - A/B: --ab-users users (default 15,000: 5,000 per arm) for each seed: the z-test of the best arm against each
 *     other arm and the chi-square, p-values of seed 1 and the share of seeds where the best is named at p < 0.01;
 *   - A/A: --aa-runs seeded runs (default 1,000) of --aa-users users (default 2,000) at CTR 5%: the share of runs
 *     where the z-test rejects at alpha = 0.05.
 * Prints the figures (Markdown) to stdout; --json prints them as JSON.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { aaFalsePositiveRate, simulateAb, simulateBandit, type BanditSimResult } from '../src/experiments/simulation.js';
import { fmt, fmtInt, machine, median } from './stats.js';
import { optionOf } from './args.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => optionOf(argv, name, def);
const ctrs = opt('--ctrs', '0.06,0.04,0.03').split(',').map(Number);
const seeds = Number(opt('--seeds', '20'));
const impressions = Number(opt('--impressions', '20000'));
const abUsers = Number(opt('--ab-users', '15000'));
const aaRuns = Number(opt('--aa-runs', '1000'));
const aaUsers = Number(opt('--aa-users', '2000'));
const svgPath = opt('--svg', 'docs/img/experiments-regret.svg');
const log = (s: string) => process.stderr.write(`${s}\n`);
if (ctrs.some((c) => !(c >= 0 && c <= 1)) || ctrs.length < 2) throw new Error('--ctrs takes two or more rates in [0, 1], e.g. 0.06,0.04,0.03');

const t0 = performance.now();
log(`bandit: ${seeds} runs of ${impressions} impressions ...`);
const bandit: BanditSimResult[] = [];
for (let s = 1; s <= seeds; s++) bandit.push(simulateBandit({ ctrs, impressions, seed: s }));
const reached = bandit.map((r) => r.reachedTargetAt ?? Infinity);
log(`A/B: ${seeds} runs of ${abUsers} users ...`);
const ab = Array.from({ length: seeds }, (_, i) => simulateAb(ctrs, abUsers, i + 1));
const best = ctrs.indexOf(Math.max(...ctrs));
const named = ab.filter((r) => r.observedBest === best && r.pVsBest.every((p, i) => i === best || p < 0.01)).length;
log(`A/A: ${aaRuns} runs of ${aaUsers} users ...`);
const aaRate = aaFalsePositiveRate(0.05, aaUsers, aaRuns, 0.05);
const seconds = (performance.now() - t0) / 1000;

const figures = {
  ctrs,
  bandit: {
    runs: seeds,
    impressions,
    batch: 100,
    minExploration: 0.1,
    impressionsTo80: { median: median(reached), max: Math.max(...reached), all: reached },
    bestShareOverall: median(bandit.map((r) => r.bestShareOverall)),
    regret: { median: median(bandit.map((r) => r.regret)), uniform: bandit[0].uniformRegret },
  },
  ab: { usersPerRun: abUsers, seed1: { counts: ab[0].counts, pVsBest: ab[0].pVsBest, chiSquareP: ab[0].chiSquareP }, namedAtP01: named / seeds },
  aa: { runs: aaRuns, usersPerRun: aaUsers, ctr: 0.05, alpha: 0.05, falsePositiveRate: aaRate, binomialSd: Math.sqrt((0.05 * 0.95) / aaRuns) },
  seconds,
  machine: machine(),
};

mkdirSync(dirname(svgPath), { recursive: true });
writeFileSync(svgPath, plot(bandit[0], ctrs));
log(`wrote ${svgPath}`);

if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
else {
  const m = figures.machine;
  process.stdout.write(
    [
      `Experiments simulation (CTR ${ctrs.map((c) => `${c * 100}%`).join(' / ')}), ${fmt(seconds, 1)} s on ${m.cpus} × ${m.cpuModel}, Node ${m.node}`,
      '',
      `| figure | value |`,
      `| --- | --- |`,
      `| bandit: impressions until ≥ 80% of the last 1,000 go to the best arm (median of ${seeds} seeds; max) | ${fmtInt(figures.bandit.impressionsTo80.median)}; ${fmtInt(figures.bandit.impressionsTo80.max)} |`,
      `| bandit: best arm's share of all ${fmtInt(impressions)} impressions (median) | ${fmt(figures.bandit.bestShareOverall, 3)} |`,
      `| cumulative regret after ${fmtInt(impressions)} impressions: bandit (median) vs uniform | ${fmt(figures.bandit.regret.median, 1)} vs ${fmt(figures.bandit.regret.uniform, 1)} clicks |`,
      `| A/B at ${fmtInt(abUsers / ctrs.length)} users per arm, seed 1: p of best vs others (z-test); chi-square p | ${ab[0].pVsBest.filter((_, i) => i !== ab[0].observedBest).map((p) => p.toExponential(2)).join(', ')}; ${ab[0].chiSquareP.toExponential(2)} |`,
      `| A/B: seeds where the best arm is named at p < 0.01 against every other | ${named} / ${seeds} |`,
      `| A/A false-positive rate at alpha 0.05 (${fmtInt(aaRuns)} runs × ${fmtInt(aaUsers)} users, CTR 5%; binomial sd ${fmt(figures.aa.binomialSd, 4)}) | ${fmt(aaRate, 4)} |`,
      '',
    ].join('\n'),
  );
}

/** Cumulative regret of the bandit and of uniform allocation, and the best arm's windowed share, as an SVG. */
function plot(r: BanditSimResult, rates: readonly number[]): string {
  const W = 720;
  const H = 300;
  const pad = { l: 60, r: 40, t: 30, b: 40 };
  const { t, regret, uniform } = r.curve;
  const xMax = t[t.length - 1];
  const yMax = Math.max(...uniform, ...regret);
  const x = (v: number) => pad.l + ((W - pad.l - pad.r) * v) / xMax;
  const y = (v: number, max = yMax) => H - pad.b - ((H - pad.t - pad.b) * v) / max;
  const path = (ys: number[], max?: number) => ys.map((v, i) => `${i ? 'L' : 'M'}${x(t[i]).toFixed(1)},${y(v, max).toFixed(1)}`).join(' ');
  const xTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => Math.round(f * xMax));
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * yMax);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${pad.l}" y="18" font-size="14">Cumulative regret (expected clicks lost), CTR ${rates.map((c) => `${c * 100}%`).join(' / ')}, seed 1</text>
${xTicks.map((v) => `<line x1="${x(v)}" y1="${H - pad.b}" x2="${x(v)}" y2="${pad.t}" stroke="#eee"/><text x="${x(v)}" y="${H - pad.b + 16}" text-anchor="middle">${v.toLocaleString('en-US')}</text>`).join('\n')}
${yTicks.map((v) => `<line x1="${pad.l}" y1="${y(v)}" x2="${W - pad.r}" y2="${y(v)}" stroke="#eee"/><text x="${pad.l - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v)}</text>`).join('\n')}
<text x="${(W + pad.l) / 2}" y="${H - 6}" text-anchor="middle">impressions</text>
<path d="${path(uniform)}" fill="none" stroke="#999" stroke-width="2" stroke-dasharray="6 4"/>
<path d="${path(regret)}" fill="none" stroke="#1f77b4" stroke-width="2"/>
<text x="${W - pad.r - 4}" y="${y(uniform[uniform.length - 1]) - 6}" text-anchor="end" fill="#666">uniform allocation</text>
<text x="${W - pad.r - 4}" y="${y(regret[regret.length - 1]) - 6}" text-anchor="end" fill="#1f77b4">Thompson sampling (10% exploration)</text>
</svg>
`;
}
