/**
 * `attune eval --report`: the CLI writes a self-contained HTML report next to its JSON output; Chromium renders
 * it from the file alone (no server, no network), with a chart per metric holding a series per model, and the
 * results table shows exactly the figures of the JSON of the same run. A screenshot goes to the test artifacts.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { artifactsDir, launchBrowser } from '../support/browser.js';
import type { EvalReport } from '../../src/cli/commands/eval.js';
import { COLD_COLUMNS, REPORT_COLUMNS } from '../../src/eval/report-html.js';

const ROOT = join(import.meta.dirname, '../..');
const REPORT = join(artifactsDir(), 'eval-report.html');

let browser: { browser: Browser; close(): Promise<void> };
let json: EvalReport;

beforeAll(async () => {
  // The first 40,000 events of the bundled data set: several weeks of timeline, a few seconds of evaluation.
  const { stdout } = await promisify(execFile)(process.execPath,
    [join(ROOT, 'bin/attune.js'), 'eval', '--limit', '40000', '--no-progress', '--json', '--report', REPORT],
    { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  json = JSON.parse(stdout) as EvalReport;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

describe('attune eval --report', () => {
  it('renders charts over the timeline per model and the table of the same run', async () => {
    const html = readFileSync(REPORT, 'utf8');
    // self-contained: nothing fetched from elsewhere
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|@import/);
    expect(json.results.map((m) => m.model)).toEqual(['attune', 'popularity', 'item-knn']);
    expect(json.protocolName).toBe('repeat');
    expect(json.preset).toBe('retail');
    for (const m of json.results) expect(m.timeline.points.length).toBeGreaterThan(10);

    const page = await browser.browser.newPage({ viewport: { width: 1100, height: 900 } });
    const requests: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(REPORT).href);

    for (const id of ['chart-hr10', 'chart-ndcg10']) {
      const chart = page.locator(`#${id} .uplot`);
      await expect.poll(() => chart.count()).toBe(1);
      const box = await chart.locator('canvas').boundingBox();
      expect(box!.width).toBeGreaterThan(300);
      expect(box!.height).toBeGreaterThan(150);
      // legend: the x series, then a window and a cumulative series per model
      const labels = await chart.locator('.u-legend .u-series .u-label').allTextContents();
      expect(labels.slice(1)).toEqual(json.results.flatMap((m) => [`${m.model} (window)`, `${m.model} (cumulative)`]));
      expect(labels).toHaveLength(1 + 2 * 3);
    }

    // the table: every cell's value is the JSON's, and its text the value rounded as the header says
    for (const m of json.results) {
      const row = page.locator(`#results tbody tr[data-model="${m.model}"]`);
      const cells = await row.locator('td').evaluateAll((tds) => tds.map((td) => ({ value: td.getAttribute('data-value'), text: td.textContent })));
      expect(cells).toHaveLength(REPORT_COLUMNS.length);
      REPORT_COLUMNS.forEach((c, i) => {
        const v = m[c.field];
        expect(Number(cells[i].value)).toBe(v);
        expect(cells[i].text).toBe(c.digits === 0 ? Math.round(v).toLocaleString('en-US') : v.toFixed(c.digits));
      });
      // the cold slice's table likewise
      const coldCells = await page.locator(`#cold tbody tr[data-model="${m.model}"] td`).evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-value'))));
      expect(coldCells).toEqual(COLD_COLUMNS.map((c) => m.cold[c.field]));
      expect(m.cold.tested).toBeGreaterThan(0);
      expect(m.cold.tested).toBeLessThan(m.tested);
      // the cumulative series ends at the table's totals
      const last = m.timeline.points.at(-1)!;
      expect(last.cumulativeHr10).toBeCloseTo(m.hr10, 12);
      expect(last.cumulativeNdcg10).toBeCloseTo(m.ndcg10, 12);
      expect(m.timeline.points.reduce((n, p) => n + p.tested, 0)).toBe(m.tested);
    }
    expect(await page.locator('#protocol').textContent()).toContain('repeat');
    const coverage = await page.locator('#coverage .bar-row[data-model="attune"] .bar-value').textContent();
    expect(coverage).toBe(`${(json.results[0].coverage * 100).toFixed(2)}%`);

    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    await page.screenshot({ path: join(artifactsDir(), 'eval-report.png'), fullPage: true });
    await page.close();
  }, 120_000);
});
