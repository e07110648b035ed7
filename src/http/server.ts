/** /metrics, /healthz (process alive) and /readyz (consuming, stores reachable) on one small HTTP server. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Probe {
  ready(): { ok: boolean; reason?: string };
}

export async function startHttp(host: string, port: number, registry: Registry, probe: Probe): Promise<{ server: Server; port: number }> {
  const server = createServer(async (req, res) => {
    try {
      if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(await registry.metrics());
      } else if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok\n');
      } else if (req.url === '/readyz') {
        const r = probe.ready();
        res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(r.ok ? 'ready\n' : `not ready: ${r.reason ?? 'starting'}\n`);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found: try /metrics, /healthz or /readyz\n');
      }
    } catch (err) {
      res.writeHead(500);
      res.end(String(err));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
