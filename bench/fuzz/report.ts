/** The fuzz run's figures and its table of kinds × count × DLQ code, as printed by `npm run fuzz` and the CI test. */
import type { FuzzResult } from './harness.js';

export function report(r: FuzzResult): string {
  const f = r.figures;
  const lines = [
    `fuzz seed ${r.seed} (--seed ${r.seed} repeats it): ${r.hostile} hostile records of ${r.kinds.length} kinds, ${r.validEvents} valid events, ${r.validItems} valid catalog records`,
    `  produced in ${f.produceSeconds.toFixed(1)} s (${Math.round(f.produceRate)} records/s); processed ${f.processSeconds.toFixed(1)} s after the first record `
      + `(${Math.round(f.processRate)} records/s overall; per 5 s window min ${Math.round(f.windowRates.min)}, median ${Math.round(f.windowRates.median)}, max ${Math.round(f.windowRates.max)})`,
    `  DLQ records ${f.dlqRecords}; state: ${f.keysCompared} keys (${f.fieldsCompared} fields) vs the reference run (${f.referenceSeconds.toFixed(1)} s), ${f.coocFieldsChecked} co-occurrence fields vs the input log; total ${f.totalSeconds.toFixed(1)} s; worker log ${f.logDir}/worker.log`,
    '',
    `| kind | topic | count | expected | in DLQ as expected | verdict |`,
    `|---|---|---:|---|---:|---|`,
  ];
  for (const k of r.kinds) {
    const wrong = [...Object.entries(k.wrongCode).map(([c, n]) => `${n}× ${c}`), ...Object.entries(k.wrongStage).map(([s, n]) => `${n}× stage ${s}`)];
    const bad = [k.missing ? `${k.missing} missing` : '', ...wrong, k.duplicates ? `${k.duplicates} twice` : '', k.altered ? `${k.altered} altered` : '', k.leaks ? `${k.leaks} leak the user id` : ''].filter(Boolean);
    const verdict = k.count === 0 ? 'not drawn' : bad.length ? `FAIL: ${bad.join(', ')}` : 'pass';
    lines.push(`| ${k.kind.name} | ${k.kind.topic} | ${k.count} | ${k.kind.stage}/${k.kind.code} | ${k.ok} | ${verdict} |`);
  }
  lines.push('');
  if (r.violations.length) lines.push(`FAILED: ${r.violations.length} violations`, ...r.violations.map((v) => `  - ${v}`));
  else lines.push('PASSED: no violation');
  return lines.join('\n');
}
