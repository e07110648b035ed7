/**
 * The schema registry behind HTTP basic auth, and the worker's HTTP server on loopback only.
 *
 * Apicurio's own authentication needs Keycloak (OIDC), which does not run here, so this test puts the real Apicurio
 * behind a small HTTPS reverse proxy that it starts itself: TLS with the local CA's server certificate
 * (scripts/lib/secure.sh), basic auth checked on every request, everything else passed through unchanged. The
 * worker registers and looks up its schemas through it with ATTUNE_REGISTRY_USERNAME/PASSWORD and
 * ATTUNE_REGISTRY_CA_FILE.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { request as httpRequest } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join, dirname } from 'node:path';
import { startWorker } from '../../src/topology/worker.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { Codec } from '../../src/stages/decode/codec.js';
import { loadConfig, topicNames } from '../../src/config/config.js';
import { registryTransport } from '../../src/security/transport.js';
import { testConfig } from '../support/env.js';
import { secureEnv } from './support.js';

const env = secureEnv();
const USER = 'attune-registry';
const PASSWORD = 'registry-secret-41';
let proxy: Server;
let proxyUrl: string;
const seen = { authorized: 0, refused: 0 };

beforeAll(async () => {
  const upstream = new URL(testConfig().registryUrl);
  const dir = dirname(env.CA_FILE);
  const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  proxy = createServer({ cert: readFileSync(join(dir, 'server.crt')), key: readFileSync(join(dir, 'server.key')) }, (req, res) => {
    if (req.headers.authorization !== expected) {
      seen.refused++;
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="registry"', 'Content-Type': 'application/json' });
      res.end('{"error_code":401,"message":"Unauthorized"}');
      return;
    }
    seen.authorized++;
    const { authorization: _drop, host: _host, ...headers } = req.headers;
    const up = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  // The registry path stays the same; only scheme, host and port change.
  proxyUrl = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}${upstream.pathname}`;
});

afterAll(async () => {
  await new Promise((r) => proxy?.close(r));
});

describe('registry over HTTPS with basic auth', () => {
  it('the codec registers and round-trips a record with the credentials and the CA', async () => {
    const cfg = testConfig({ registryUrl: proxyUrl, registryUsername: USER, registryPassword: PASSWORD, registryCaFile: env.CA_FILE });
    const codec = new Codec(cfg.registryUrl, topicNames(cfg), { transport: registryTransport(cfg) });
    const before = seen.authorized;
    await codec.registerAll();
    const e = { eventId: 'e1', userId: 'u1', type: 'view', eventTime: Date.UTC(2014, 0, 1), itemId: 'i1', quantity: null, price: null, rating: null, sessionId: null, context: null, properties: {} };
    expect(await codec.decode(await codec.encodeEvent(e as never), 1e6)).toMatchObject({ eventId: 'e1', userId: 'u1' });
    expect(seen.authorized).toBeGreaterThan(before);
  });

  it('without credentials the registry refuses the client (401), and no request passes the proxy', async () => {
    const cfg = testConfig({ registryUrl: proxyUrl, registryCaFile: env.CA_FILE });
    const before = { ...seen };
    const err = await new Codec(cfg.registryUrl, topicNames(cfg), { transport: registryTransport(cfg) }).registerAll().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/401|Unauthorized/);
    expect(seen.refused).toBeGreaterThan(before.refused);
    expect(seen.authorized).toBe(before.authorized);
  });

  it('a password file works like the variable, and half-set credentials are refused up front', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'attune-sec-')), 'registry-password');
    writeFileSync(file, `${PASSWORD}\n`, { mode: 0o600 });
    expect(registryTransport({ registryUsername: USER, registryPasswordFile: file }).auth).toEqual({ username: USER, password: PASSWORD });
    expect(() => registryTransport({ registryUsername: USER })).toThrow(/ATTUNE_REGISTRY_USERNAME is set without ATTUNE_REGISTRY_PASSWORD/);
    expect(() => registryTransport({ registryPassword: PASSWORD })).toThrow(/without ATTUNE_REGISTRY_USERNAME/);
  });
});

describe('worker with a secured registry; HTTP server on loopback', () => {
  it('starts through the authenticating registry, and serves /metrics on 127.0.0.1 only by default', async () => {
    expect(loadConfig({}).httpHost).toBe('127.0.0.1');
    const cfg = testConfig({ registryUrl: proxyUrl, registryUsername: USER, registryPassword: PASSWORD, registryCaFile: env.CA_FILE });
    expect(cfg.httpHost).toBe('127.0.0.1');
    // Registration needs write rights and is `attune topics`' job; the worker only looks the schemas up.
    await new Codec(cfg.registryUrl, topicNames(cfg), { transport: registryTransport(cfg) }).registerAll();
    const before = seen.authorized;
    const worker = await startWorker(cfg, new KafkajsClient(cfg.kafkaBrokers, 'attune-test'));
    try {
      // The worker looked its schemas up through the proxy, with the credentials.
      expect(seen.authorized).toBeGreaterThan(before);
      expect((await fetch(`http://127.0.0.1:${worker.httpPort}/healthz`)).status).toBe(200);
      // Another address of this machine does not reach the port: the server is bound to loopback, not 0.0.0.0.
      const others = Object.values(networkInterfaces()).flat().filter((a) => a && a.family === 'IPv4' && !a.internal).map((a) => a!.address);
      const reach = (host: string, port: number) => new Promise<string>((resolve) => {
        const s = connect({ host, port, timeout: 2_000 });
        s.once('connect', () => { s.destroy(); resolve('connected'); });
        s.once('timeout', () => { s.destroy(); resolve('timeout'); });
        s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      });
      // Control: a server on every address is reachable there, so a refusal below means "bound to loopback".
      const control = createNetServer().listen(0, '0.0.0.0');
      await new Promise((r) => control.once('listening', r));
      try {
        for (const addr of others) {
          expect(await reach(addr, (control.address() as AddressInfo).port), `control ${addr}`).toBe('connected');
          expect(await reach(addr, worker.httpPort), `${addr}:${worker.httpPort}`).toBe('ECONNREFUSED');
        }
      } finally {
        control.close();
      }
    } finally {
      await worker.stop();
    }
  });
});
