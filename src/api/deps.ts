/** What the API's app is built from (server.ts), and the OpenAPI parts every /v1 route shares. */
import type { ApiReaders } from './readers.js';
import type { ApiKey } from './auth.js';
import type { UiFolders } from './routes/ui.js';

export interface ApiDeps {
  readers: ApiReaders;
  keys: readonly ApiKey[];
  /** ATTUNE_MAX_ID_LENGTH: the longest id the validate stage accepts, and so the longest worth looking up. */
  maxIdLength: number;
  /** The ops page and the vendored browser modules; absent: no /ui/. */
  ui?: UiFolders;
  /** Requests a minute from one address without a valid key before 429 (default REFUSED_PER_MINUTE, server.ts). */
  refusedPerMinute?: number;
  /** Hears of unexpected errors (route pattern only, never the URL). */
  onInternalError?: (err: Error, route: string) => void;
}

/** The security requirement and error responses every /v1 route documents. */
export function v1Doc(tags: string[], summary: string, ok: object, statuses: number[] = [400, 401, 429]) {
  const response: Record<string, object> = { 200: ok };
  for (const s of statuses) response[s] = s === 304 ? { description: 'Not modified: the If-None-Match tag is the current one', type: 'null' } : { $ref: 'Error#' };
  const security: Array<Record<string, string[]>> = [{ bearer: [] }, { apiKey: [] }];
  return { tags, summary, security, response };
}

