// The one sender: POSTs a JSON body over HTTPS (node:https, so a test can hand it the CA of a
// loopback receiver) and reads a small answer. Its errors name the channel and the HTTP status
// or errno, NEVER the URL: a webhook URL is a secret (its path is the credential), and error
// messages end up in audit entries and reports.
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { ResponderError } from '../common/errors.js';
import type { WebhookPoster, WebhookResponse } from '../ports.js';

const MAX_ANSWER = 4096;
const LOOPBACK_HOST = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost)$/;

export interface WebhookPosterOptions {
  /** Extra CA certificates (PEM) trusted besides the public roots (a test receiver, a TLS proxy). */
  extraCaPem?: string;
}

/** Parses a secret URL without ever echoing it: https anywhere, plain http only on loopback. */
export function parseWebhookUrl(value: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ResponderError(`${what}: the secret does not hold a valid URL`, 'permanent', { code: 'BAD_WEBHOOK_URL' });
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOST.test(url.hostname))) return url;
  throw new ResponderError(`${what}: the secret's URL must use https (plain http only on loopback)`, 'permanent', { code: 'BAD_WEBHOOK_URL' });
}

function statusError(what: string, status: number): ResponderError {
  // 429 and 5xx may pass; other 4xx (bad payload, revoked webhook) will not.
  const kind = status === 429 || status >= 500 ? 'transient' : 'permanent';
  return new ResponderError(`${what}: HTTP ${status}`, kind, { code: status });
}

export function createWebhookPoster(options: WebhookPosterOptions = {}): WebhookPoster {
  const ca = options.extraCaPem ? [...rootCertificates, options.extraCaPem] : undefined;
  return {
    postJson: (url, body, what, signal) =>
      new Promise<WebhookResponse>((resolve, reject) => {
        const data = Buffer.from(JSON.stringify(body));
        const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(data.length) };
        const onResponse = (res: http.IncomingMessage): void => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            if (size < MAX_ANSWER) chunks.push(c.subarray(0, MAX_ANSWER - size));
            size += c.length;
          });
          res.on('error', () => reject(new ResponderError(`${what}: the answer broke off`, 'transient', { code: 'ECONNRESET' })));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) reject(statusError(what, status));
            else resolve({ status, body: Buffer.concat(chunks).toString('utf8') });
          });
        };
        const req =
          url.protocol === 'https:'
            ? https.request(url, { method: 'POST', headers, signal, ...(ca ? { ca } : {}) }, onResponse)
            : http.request(url, { method: 'POST', headers, signal }, onResponse);
        req.on('error', (err: NodeJS.ErrnoException) => {
          // The errno only: node's messages may carry the host and path.
          const code = signal.aborted ? 'ABORTED' : (err.code ?? 'ERROR');
          reject(new ResponderError(`${what}: request failed (${code})`, 'transient', { code }));
        });
        req.end(data);
      }),
  };
}
