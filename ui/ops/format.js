// Display formats. Times are UTC: event times are the data's own clock, not the viewer's.

export function time(ms) {
  if (ms === null || ms === undefined) return '–';
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '–';
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '–';
  const s = Math.abs(ms) / 1000;
  if (s < 1) return `${Math.round(Math.abs(ms))} ms`;
  if (s < 90) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${Math.round(s / 86_400)} days`;
}

export function seconds(v) {
  return v === null || v === undefined ? '–' : duration(v * 1000);
}

export function number(v, digits = 0) {
  if (v === null || v === undefined) return '–';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function score(v) {
  return v === null || v === undefined ? '–' : v.toFixed(3);
}

/** A rate as a percentage: 6.02%. */
export function pct(v, digits = 2) {
  return v === null || v === undefined ? '–' : `${(v * 100).toFixed(digits)}%`;
}

/** A p-value in a few characters, as `attune experiments report` prints it: 0.34, 0.041, 2.9e-6, <1e-300. */
export function pValue(p) {
  if (p === null || p === undefined) return '–';
  if (p === 0) return '<1e-300';
  return p >= 0.001 ? String(Number(p.toPrecision(2))) : p.toExponential(1);
}
