/**
 * The worker's read-only view of the schema registry: plain GET/lookup requests with a timeout and optional basic
 * auth, so that every failure is classified here and nowhere else. A 404 is an answer (the id or subject does not
 * exist); anything else that is not a 2xx — 5xx, 429, 401/403, a timeout, a refused connection — says nothing about
 * the record and is a RegistryUnavailableError (retriable: the partition waits, the record is not dead-lettered).
 * Registering schemas (write rights) is left to `attune topics`, through the registry client library.
 */
import { RegistryUnavailableError } from '../../errors.js';

export interface RegistryAuth {
  username: string;
  password: string;
}

export interface RegistryHttpOptions {
  auth?: RegistryAuth;
  /** Milliseconds before a request counts as failed. */
  timeoutMs?: number;
}

export class RegistryHttp {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(url: string, opts: RegistryHttpOptions = {}) {
    this.base = url.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.headers = { accept: 'application/vnd.schemaregistry.v1+json, application/json' };
    if (opts.auth) this.headers.authorization = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;
  }

  /** The JSON body, or null on 404; throws RegistryUnavailableError on anything else that is not a 2xx. */
  async get<T>(path: string): Promise<T | null> {
    return this.request<T>('GET', path);
  }

  /** POST with a JSON body (the read-only "is this schema registered under the subject" lookup). */
  async post<T>(path: string, body: unknown): Promise<T | null> {
    return this.request<T>('POST', path, body);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T | null> {
    const what = `${method} ${path}`;
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' || e.name === 'AbortError'
        ? `did not answer within ${this.timeoutMs} ms (ATTUNE_REGISTRY_TIMEOUT_MS)`
        : `is unreachable (${e.cause?.code ?? e.cause?.message ?? e.message})`;
      throw new RegistryUnavailableError(`the schema registry at ${this.base} ${why} for ${what}: check ATTUNE_REGISTRY_URL and that the registry runs`, err);
    }
    if (res.ok) return (await res.json().catch((err: unknown) => {
      throw new RegistryUnavailableError(`the schema registry at ${this.base} answered ${what} with a body that is not JSON: check ATTUNE_REGISTRY_URL points at the registry's Confluent-compatible API`, err);
    })) as T;
    const text = (await res.text().catch(() => '')).slice(0, 200);
    if (res.status === 404) return null;
    throw new RegistryUnavailableError(describeStatus(res.status, this.base, what, text));
  }
}

function describeStatus(status: number, base: string, what: string, text: string): string {
  const said = text ? `: ${text}` : '';
  if (status === 401 || status === 403) {
    return `the schema registry at ${base} refused ${what} with HTTP ${status}${said}. Check the registry credentials ` +
      '(basic auth) given to Attune and that its user may read subjects and schemas (the worker needs no write rights); ' +
      'check ATTUNE_REGISTRY_URL';
  }
  if (status === 429) return `the schema registry at ${base} is rate-limiting Attune (HTTP 429 for ${what}); waiting and retrying`;
  if (status >= 500) return `the schema registry at ${base} failed ${what} with HTTP ${status}${said}; waiting and retrying (check the registry's health and ATTUNE_REGISTRY_URL)`;
  return `the schema registry at ${base} answered ${what} with HTTP ${status}${said}: check ATTUNE_REGISTRY_URL points at its Confluent-compatible API (e.g. http://127.0.0.1:8081/apis/ccompat/v7)`;
}
