/**
 * The ops page: the static folder ui/ops/ at /ui/, and the browser builds of its libraries straight from
 * node_modules at /ui/vendor/<package>/<path in the package> (no bundler, no CDN: the page works offline and the
 * versions are the lock file's), e.g. /ui/vendor/preact/dist/preact.mjs, /ui/vendor/preact/hooks/dist/hooks.mjs,
 * /ui/vendor/htm/dist/htm.module.js, /ui/vendor/uplot/dist/uPlot.esm.js and uPlot.min.css. Only these packages.
 * No key is needed for these files: the page asks the user for one and sends it with its /v1 calls.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

export interface UiFolders {
  /** The ops page's folder (ui/ops). */
  root: string;
  /** The node_modules folder the vendored packages come from. */
  nodeModules: string;
}

/**
 * The packages served under /ui/vendor/. Preact's hooks import the bare specifier `preact`: the page maps it with
 * an import map to /ui/vendor/preact/dist/preact.mjs (Preact 11 ships .mjs builds, not .module.js).
 */
export const VENDORED: readonly string[] = ['preact', 'htm', 'uplot'];

export async function registerUi(app: FastifyInstance, ui: UiFolders): Promise<void> {
  app.get('/', { schema: { hide: true } }, (_req, reply) => reply.redirect('/ui/'));
  await app.register(fastifyStatic, { root: ui.root, prefix: '/ui/', index: ['index.html'], schemaHide: true, cacheControl: true, maxAge: 0 });
  for (const name of VENDORED) {
    const root = join(ui.nodeModules, name);
    if (!existsSync(root)) throw new Error(`the ops page needs ${root}: run npm ci`);
    // The files of one installed version never change: let the browser keep them for a day.
    await app.register(fastifyStatic, { root, prefix: `/ui/vendor/${name}/`, decorateReply: false, schemaHide: true, maxAge: 86_400_000 });
  }
}
