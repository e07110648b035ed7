// The experiments panel: per experiment of the API's file (ATTUNE_EXPERIMENTS), each variant's counts, CTR with its
// interval and p against the control, conversions and bandit share, the leader, and CTR bars with their intervals
// (what `attune experiments report` prints). Text goes through Preact, which escapes it; only numbers the page
// computes go into style attributes.
import { html, Panel, Status } from './html.js';
import { api } from './api.js';
import { useLoad } from './load.js';
import * as f from './format.js';

/**
 * Slower than the live figures: the counts move with downstream feedback, not per second, and each report of a
 * bandit draws 20,000 samples per posterior in the API.
 */
export const EXPERIMENTS_POLL_MS = 30_000;

/** The smallest of 1, 2, 2.5, 5 × 10^k at or above x: a round scale end (as the report's SVG). */
function niceMax(x) {
  if (!(x > 0)) return 0.01;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x * (1 - 1e-12)) return m * p;
  return 10 * p;
}

const label = (e, id) => (id === e.control && id !== 'control' ? `${id} (control)` : id);

/** CTR per variant as bars, the interval as a whisker; one scale per experiment, set by the variants with impressions. */
function Bars({ e }) {
  const max = niceMax(Math.max(0, ...e.variants.filter((v) => v.impressions > 0).map((v) => v.ctr.hi ?? 0)));
  const at = (r) => (100 * Math.min(r ?? 0, max)) / max;
  return html`<div class="ctr-bars" aria-label="CTR per variant">
    ${e.variants.map((v) => html`<div class="ctr-row" data-variant-id=${v.id}>
      <span class="ctr-label">${label(e, v.id)}</span>
      <span class="ctr-track">
        <span class=${`ctr-fill${v.id === e.control ? ' control' : ''}`} style=${`width:${at(v.ctr.rate)}%`}></span>
        ${v.impressions > 0 ? html`<span class="ctr-ci" style=${`left:${at(v.ctr.lo)}%;width:${Math.max(0, at(v.ctr.hi) - at(v.ctr.lo))}%`}></span>` : null}
      </span>
      <span class="ctr-value">${v.impressions > 0 ? f.pct(v.ctr.rate) : 'no impressions'}</span>
    </div>`)}
    <div class="ctr-row ctr-scale muted small"><span></span><span class="ctr-axis"><span>0%</span><span>${Number((max * 100).toFixed(3))}%</span></span><span></span></div>
  </div>`;
}

const sharesText = (shares) => Object.entries(shares).map(([v, s]) => `${v} ${f.pct(s, 1)}`).join(', ');

function Experiment({ e, confidence }) {
  const b = e.bandit;
  const settings = b ? `, min exploration ${f.pct(b.minExploration, 0)}${b.perSegment ? ', per segment' : ''}` : '';
  const ci = `${Math.round(confidence * 100)}% CI`;
  // No p for the control (it is the reference), nor for a variant without impressions (nothing tested).
  const pCell = (v, p) => (v.impressions === 0 ? '–' : f.pValue(p));
  return html`<div class="experiment" data-experiment-id=${e.id}>
    <h3><code class="experiment-id">${e.id}</code> <span class="muted">layer ${e.layer ?? '–'} · traffic ${f.pct(e.traffic, 0)} · ${e.allocation ?? '–'}${settings} · ${f.number(e.impressions)} impressions</span></h3>
    <div class="experiment-body">
      <div class="experiment-table"><table class="compact">
        <thead><tr><th>variant</th><th>strategy</th><th class="num">impressions</th><th class="num">clicks</th><th class="num">CTR</th><th>${ci}</th>
          <th class="num" title="two-sided z-test of the CTR against the control">p</th><th class="num">conversions</th><th class="num">conv rate</th>${b ? html`<th class="num" title="share of the bandit's decisions now">share</th>` : null}</tr></thead>
        <tbody>${e.variants.map((v) => html`<tr class="variant" data-variant-id=${v.id}>
          <td><b>${label(e, v.id)}</b></td><td class="strategy">${v.strategy ?? '–'}</td>
          <td class="num impressions">${f.number(v.impressions)}</td><td class="num clicks">${f.number(v.clicks)}</td>
          <td class="num ctr">${f.pct(v.ctr.rate)}</td><td class="nowrap small">[${f.pct(v.ctr.lo)}, ${f.pct(v.ctr.hi)}]</td>
          <td class="num">${pCell(v, v.ctr.p)}</td><td class="num conversions">${f.number(v.conversions)}</td><td class="num">${f.pct(v.conversion.rate)}</td>
          ${b ? html`<td class="num share">${f.pct(b.shares[v.id] ?? 0, 1)}</td>` : null}
        </tr>`)}
        </tbody>
      </table></div>
      <${Bars} e=${e} />
    </div>
    <p class="verdict">${e.verdict}</p>
    ${e.ctrChiSquareP !== null ? html`<p class="muted small">chi-square over ${e.variants.length} variants: CTR p = ${f.pValue(e.ctrChiSquareP)}</p>` : null}
    ${b && b.segments.map((s) => html`<p class="muted small">segment ${s.segment} (${f.number(s.impressions)} impressions): ${sharesText(s.shares)}</p>`)}
    ${b ? html`<p class="muted small">A bandit allocates by the results so far: its p-values are indicative, not a fixed-sample test.</p>` : null}
    ${e.unknownVariants.length ? html`<p class="muted small">counts of variants not in the file: ${e.unknownVariants.join(', ')}</p>` : null}
  </div>`;
}

export function Experiments({ onUnauthorized }) {
  const s = useLoad(() => api.experiments(), [], { everyMs: EXPERIMENTS_POLL_MS, onUnauthorized });
  const d = s.data;
  return html`<${Panel} id="experiments" title="Experiments" note=${d ? `CTR per impression · p: z-test against the control · every ${EXPERIMENTS_POLL_MS / 1000} s` : null}>
    <${Status} state=${s} />
    ${d && html`
      ${d.experiments.length === 0
        ? html`<p class="muted empty" id="no-experiments">no experiments file (ATTUNE_EXPERIMENTS), or no experiments in it</p>`
        : d.experiments.map((e) => html`<${Experiment} key=${e.id} e=${e} confidence=${d.confidence} />`)}
      ${d.unknownExperiments.length ? html`<p class="muted small">counts of experiments not in the file: ${d.unknownExperiments.join(', ')}</p>` : null}`}
  </${Panel}>`;
}
