/**
 * promtool, Prometheus' own checker (Debian's `prometheus` package, installed by `bash scripts/services.sh up
 * prometheus`, which scripts/test.sh runs). Tests that check metrics, rules or dashboards against it use these.
 * ATTUNE_PROMTOOL overrides where it is looked for.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const INSTALL_HINT = 'install it with: bash scripts/services.sh up prometheus (Debian\'s prometheus package; or set ATTUNE_PROMTOOL to its path)';

/** The promtool executable; throws naming the command that installs it when there is none. */
export function promtoolPath(): string {
  const explicit = process.env.ATTUNE_PROMTOOL;
  const candidates = explicit ? [explicit] : [...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'promtool')), '/usr/bin/promtool'];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch { /* next */ }
  }
  throw new Error(`promtool not found${explicit ? ` at ATTUNE_PROMTOOL=${explicit}` : ' on PATH'}: ${INSTALL_HINT}`);
}

export interface PromtoolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `promtool <args>` with `stdin` as its input (e.g. `check metrics`); never throws on a non-zero exit. */
export function runPromtool(args: string[], stdin?: string): PromtoolResult {
  const r = spawnSync(promtoolPath(), args, { input: stdin ?? '', encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`promtool ${args.join(' ')} could not run: ${r.error.message}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
