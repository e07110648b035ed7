/**
 * `attune eval --report <file.html>`: one self-contained HTML file (no network, no other file) with HR@10 and
 * NDCG@10 over the timeline per model, coverage and the results table. The charts are uPlot, its minified code
 * and CSS inlined from node_modules (the same library the ops page uses; about 50 kB): a reader gets the values
 * of every window under the cursor, which a static image would not give. The figures are embedded as JSON, and
 * every table cell carries its full-precision value in `data-value`, so a check can compare them with
 * `attune eval --json` of the same run.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { PrequentialMetrics, RankMetrics } from './prequential.js';

/** What the report shows: the evaluation's report (`attune eval`'s EvalReport is this type). */
export interface ReportInput {
  data: string;
  /** repeat or discovery (prequential.ts). */
  protocolName: string;
  /** The protocol in one sentence. */
  protocol: string;
  /** The attune model's settings preset. */
  preset: string;
  events: number;
  users: number;
  items: number;
  tested: number;
  results: PrequentialMetrics[];
}

const require = createRequire(import.meta.url);

function uplotAssets(): { js: string; css: string } {
  return {
    js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  };
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON safe inside a <script> element: no `</script>`, no `<!--`, no line separators that end a JS string. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The rank metrics' columns, shared by the results and the cold-slice tables: header, field, digits shown. */
const RANK_COLUMNS = [
  { head: 'HR@10', field: 'hr10', digits: 4 },
  { head: 'NDCG@10', field: 'ndcg10', digits: 4 },
  { head: 'Precision@10', field: 'precision10', digits: 4 },
  { head: 'Recall@20', field: 'recall20', digits: 4 },
  { head: 'MAP@10', field: 'map10', digits: 4 },
] as const satisfies readonly { head: string; field: keyof RankMetrics; digits: number }[];

/** The columns of the results table. */
export const REPORT_COLUMNS = [
  ...RANK_COLUMNS,
  { head: 'coverage', field: 'coverage', digits: 4 },
  { head: 'tested', field: 'tested', digits: 0 },
  { head: 'events/s', field: 'eventsPerSecond', digits: 0 },
  { head: 'seconds', field: 'seconds', digits: 1 },
] as const satisfies readonly { head: string; field: keyof PrequentialMetrics; digits: number }[];

/** The columns of the cold-slice table (the same metrics over users' 2nd to 5th events). */
export const COLD_COLUMNS = [...RANK_COLUMNS, { head: 'tested', field: 'tested', digits: 0 }] as const satisfies readonly {
  head: string;
  field: keyof RankMetrics;
  digits: number;
}[];

function cell(v: number, digits: number): string {
  const text = digits === 0 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits);
  return `<td data-value="${v}">${text}</td>`;
}

/** One row per model: `values(m)` picks the figures the columns name. */
function metricsTable<T>(id: string, r: ReportInput, columns: readonly { head: string; field: keyof T; digits: number }[], values: (m: PrequentialMetrics) => T): string {
  const head = `<tr><th>model</th>${columns.map((c) => `<th>${c.head}</th>`).join('')}</tr>`;
  const rows = r.results.map((m) => {
    const v = values(m);
    return `<tr data-model="${escapeHtml(m.model)}"><th scope="row">${escapeHtml(m.model)}</th>${columns.map((c) => cell(v[c.field] as number, c.digits)).join('')}</tr>`;
  });
  return `<table id="${id}"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`;
}

function coverageBars(r: ReportInput): string {
  return `<div id="coverage">${r.results.map((m) => `
    <div class="bar-row" data-model="${escapeHtml(m.model)}">
      <span class="bar-label">${escapeHtml(m.model)}</span>
      <span class="bar"><span class="bar-fill" style="width:${(Math.max(0, Math.min(1, m.coverage)) * 100).toFixed(2)}%"></span></span>
      <span class="bar-value">${(m.coverage * 100).toFixed(2)}%</span>
    </div>`).join('')}
  </div>`;
}

const STYLE = `
  body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; margin: 0; background: #f6f7f9; }
  main { max-width: 1040px; margin: 0 auto; padding: 24px 28px 48px; }
  h1 { font-size: 24px; margin: 0 0 4px; }
  h2 { font-size: 17px; margin: 28px 0 8px; }
  .meta { color: #586174; margin: 0 0 4px; }
  .card { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: 14px 16px; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { padding: 6px 10px; border-bottom: 1px solid #e6e9ef; text-align: right; }
  th:first-child, tbody th { text-align: left; }
  thead th { color: #586174; font-weight: 600; }
  .bar-row { display: grid; grid-template-columns: 120px 1fr 70px; gap: 10px; align-items: center; margin: 6px 0; }
  .bar { background: #eceff4; border-radius: 4px; height: 14px; overflow: hidden; }
  .bar-fill { display: block; height: 100%; background: #3b6fd8; }
  .bar-value { text-align: right; font-variant-numeric: tabular-nums; }
  .chart { min-height: 300px; }
  .note { color: #586174; font-size: 13px; }
`;

/** Colours of the models' series, in report order. */
const COLOURS = ['#3b6fd8', '#d8723b', '#2e9d62', '#9b4bd1', '#c23b5a'];

// Runs in the page: builds one uPlot chart per metric from the embedded figures.
const CHART_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var colours = ${JSON.stringify(COLOURS)};
  function chart(el, field, label) {
    // one x axis for every model: the union of the windows' starts (seconds, as uPlot's time scale wants)
    var xs = {};
    data.results.forEach(function (m) { m.timeline.points.forEach(function (p) { xs[p.start / 1000] = true; }); });
    var x = Object.keys(xs).map(Number).sort(function (a, b) { return a - b; });
    var cols = [x];
    var series = [{}];
    data.results.forEach(function (m, i) {
      var by = {}, cum = {};
      m.timeline.points.forEach(function (p) { by[p.start / 1000] = p[field]; cum[p.start / 1000] = p['cumulative' + field.charAt(0).toUpperCase() + field.slice(1)]; });
      cols.push(x.map(function (t) { return t in by ? by[t] : null; }));
      cols.push(x.map(function (t) { return t in cum ? cum[t] : null; }));
      var c = colours[i % colours.length];
      series.push({ label: m.model + ' (window)', stroke: c, width: 1, alpha: 0.55, spanGaps: false, value: function (u, v) { return v == null ? '–' : v.toFixed(4); } });
      series.push({ label: m.model + ' (cumulative)', stroke: c, width: 2.5, dash: [6, 4], value: function (u, v) { return v == null ? '–' : v.toFixed(4); } });
    });
    var width = Math.max(320, el.clientWidth);
    new uPlot({
      title: label + ' over the timeline',
      width: width, height: 300,
      series: series,
      axes: [{}, { label: label, values: function (u, vs) { return vs.map(function (v) { return v.toFixed(2); }); } }],
      scales: { y: { range: function (u, min, max) { return [0, Math.max(0.05, max * 1.1)]; } } },
    }, cols, el);
  }
  chart(document.getElementById('chart-hr10'), 'hr10', 'HR@10');
  chart(document.getElementById('chart-ndcg10'), 'ndcg10', 'NDCG@10');
})();
`;

function windowLabel(ms: number): string {
  const days = ms / 86_400_000;
  return Number.isInteger(days) ? (days === 1 ? 'one day' : `${days} days`) : `${Math.round(ms / 1000)} s`;
}

/** The report as one HTML document. */
export function renderEvalReport(r: ReportInput, generatedAt = new Date()): string {
  const { js, css } = uplotAssets();
  const windowMs = r.results[0]?.timeline.windowMs ?? 86_400_000;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Attune evaluation report</title>
<style>${css}</style>
<style>${STYLE}</style>
</head>
<body>
<main>
  <h1>Attune evaluation report</h1>
  <p class="meta">data: ${escapeHtml(r.data)} — ${r.events.toLocaleString('en-US')} events, ${r.users.toLocaleString('en-US')} users,
    ${r.items.toLocaleString('en-US')} items, ${r.tested.toLocaleString('en-US')} tested</p>
  <p class="meta">generated ${escapeHtml(generatedAt.toISOString())}</p>
  <p class="meta" id="protocol">protocol: <b>${escapeHtml(r.protocolName)}</b> · attune preset: <b>${escapeHtml(r.preset)}</b></p>
  <p class="note">${escapeHtml(r.protocol)}.</p>

  <h2>Results</h2>
  <div class="card">${metricsTable('results', r, REPORT_COLUMNS, (m) => m)}</div>

  <h2>Cold slice</h2>
  <p class="note">The same metrics over the tested events that are a user's 2nd to 5th event (little history: where
    trending and content carry the list).</p>
  <div class="card">${metricsTable('cold', r, COLD_COLUMNS, (m) => m.cold)}</div>

  <h2>HR@10 and NDCG@10 over the timeline</h2>
  <p class="note">Tested events binned by event time, ${windowLabel(windowMs)} per window (UTC). Thin lines: each window's own
    rate; dashed: every tested event up to the window's end (its last value is the total in the table).</p>
  <div class="card"><div id="chart-hr10" class="chart"></div></div>
  <div class="card" style="margin-top:12px"><div id="chart-ndcg10" class="chart"></div></div>

  <h2>Coverage</h2>
  <p class="note">Share of the data set's distinct items shown in at least one top 10.</p>
  <div class="card">${coverageBars(r)}</div>
</main>
<script type="application/json" id="report-data">${scriptJson(r)}</script>
<script>${js}</script>
<script>${CHART_SCRIPT}</script>
</body>
</html>
`;
}
