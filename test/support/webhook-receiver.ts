// A local HTTPS receiver standing in for Slack, Google Chat and PagerDuty: loopback only,
// a certificate from the test CA (fake-kube/tls.ts), so the sender must be given the CA like
// a deployment behind a TLS proxy. It records every request (path, query, JSON body, and
// whatever `observe()` returns at arrival, for ordering assertions) and can fail on demand:
// a status (500) or a hang (never answers, until close()).
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { fakeTls } from './fake-kube/tls.js';

export interface ReceivedRequest<O = unknown> {
  path: string;
  search: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  raw: string;
  /** observe() at arrival. */
  seen: O;
}

export interface ReceiverFault {
  /** Path prefix the fault applies to. */
  path: string;
  status?: number;
  hang?: boolean;
}

export interface WebhookReceiver<O = unknown> {
  port: number;
  origin: string;
  caPem: string;
  requests: ReceivedRequest<O>[];
  fail(fault: ReceiverFault): void;
  clear(): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver<O = unknown>(observe: () => O = () => undefined as O): Promise<WebhookReceiver<O>> {
  const tls = await fakeTls();
  const requests: ReceivedRequest<O>[] = [];
  let faults: ReceiverFault[] = [];
  const server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const seen = observe();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      requests.push({ path: url.pathname, search: url.search, headers: req.headers, body, raw, seen });
      const fault = faults.find((f) => url.pathname.startsWith(f.path));
      if (fault?.hang) return;
      if (fault?.status) {
        res.writeHead(fault.status, { 'content-type': 'application/json' }).end('{"error":"injected"}');
        return;
      }
      // PagerDuty answers 202 with a status; Slack answers 200 "ok"; Chat answers the message.
      if (url.pathname === '/v2/enqueue') res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: (body as { dedup_key?: string } | undefined)?.dedup_key }));
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `https://127.0.0.1:${port}`,
    caPem: tls.caPem,
    requests,
    fail: (fault) => faults.push(fault),
    clear: () => {
      faults = [];
      requests.length = 0;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
