/**
 * The worker's read-only view of the schema registry: plain GET/lookup requests with a timeout and optional basic
 * auth, so that every failure is classified here and nowhere else. A 404 is an answer (the id or subject does not
 * exist); anything else that is not a 2xx — 5xx, 429, 401/403, a timeout, a refused connection — says nothing about
 * the record and is a RegistryUnavailableError (retriable: the partition waits, the record is not dead-lettered).
 * Registering schemas (write rights) is left to `attune topics`, through the registry client library.
 */
import { request as httpRequest, type Agent as HttpAgent } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { RegistryUnavailableError } from '../../errors.js';

/** Registry answers are small JSON documents; a larger body is cut (it is then not JSON, and says so). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface RegistryAuth {
  username: string;
  password: string;
}

export interface RegistryHttpOptions {
  auth?: RegistryAuth;
  /** An http(s) agent, e.g. one trusting a private CA (security/transport.ts). node:http, not fetch: fetch ignores agents. */
  agent?: HttpAgent;
  /** Milliseconds before a request counts as failed (the whole exchange, not just a silent socket). */
  timeoutMs?: number;
}

export class RegistryHttp {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly agent?: HttpAgent;

  constructor(url: string, opts: RegistryHttpOptions = {}) {
    // Credentials in the URL go into the header, never into the messages that name the URL.
    const u = new URL(url);
    const fromUrl = u.username ? { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) } : undefined;
    u.username = '';
    u.password = '';
    this.base = u.toString().replace(/\/+$/, '');
    this.agent = opts.agent;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.headers = { accept: 'application/vnd.schemaregistry.v1+json, application/json' };
    const auth = opts.auth ?? fromUrl;
    if (auth) this.headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
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
    let res: { status: number; text: string };
    try {
      res = await this.exchange(method, path, body);
    } catch (err) {
      const e = err as Error & { code?: string };
      const why = e.name === 'TimeoutError'
        ? `did not answer within ${this.timeoutMs} ms (ATTUNE_REGISTRY_TIMEOUT_MS)`
        : `is unreachable (${e.code ?? e.message})`;
      throw new RegistryUnavailableError(`the schema registry at ${this.base} ${why} for ${what}: check ATTUNE_REGISTRY_URL and that the registry runs`, err);
    }
    if (res.status >= 200 && res.status < 300) {
      try {
        return JSON.parse(res.text) as T;
      } catch (err) {
        throw new RegistryUnavailableError(`the schema registry at ${this.base} answered ${what} with a body that is not JSON: check ATTUNE_REGISTRY_URL points at the registry's Confluent-compatible API`, err);
      }
    }
    if (res.status === 404) return null;
    throw new RegistryUnavailableError(describeStatus(res.status, this.base, what, res.text.slice(0, 200)));
  }

  /** One request, its status and body; rejects on a socket error or when the whole exchange outlasts the timeout. */
  private exchange(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const url = new URL(this.base + path);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers = payload
      ? { ...this.headers, 'content-type': 'application/vnd.schemaregistry.v1+json', 'content-length': String(payload.length) }
      : this.headers;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_BODY_BYTES) chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      });
      const timer = setTimeout(() => {
        const err = new Error(`no answer within ${this.timeoutMs} ms`);
        err.name = 'TimeoutError';
        req.destroy(err);
      }, this.timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.end(payload);
    });
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
