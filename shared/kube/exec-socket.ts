// The WebSocket side of exec, handed to client-node's `Exec` as its WebSocketInterface.
// client-node's own handler loses what we need: a refused upgrade (400 "container is not
// running", 403, 404) surfaces only as "Unexpected server response: 400" without the Status
// message, the socket is unreachable until it opens (so a timeout cannot close a hung
// connect), and nothing slows the socket down when our stdout is full. This one keeps the
// socket, reads the refusal's Status body (bounded), and exposes pause/resume.
import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import { createSecureContext, type SecureContext } from 'node:tls';
import { parseStatusBody } from './errors.js';
import { execSpares, spareTarget, type SpareTarget } from './exec-spares.js';

/** Offered in this order; v5 first like client-node (we never rely on v5 close frames). */
export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
const CLOSE_STREAM = 255;
const MAX_REFUSAL_BODY = 16 * 1024;

/** A refused exec upgrade: carries the HTTP status (classifyError reads `statusCode`) and the Status message. */
export class ExecUpgradeError extends Error {
  constructor(readonly statusCode: number, readonly statusMessage: string, readonly statusReason?: string, readonly retryAfterSeconds?: number) {
    super(`exec upgrade refused: HTTP ${statusCode}${statusReason ? ` ${statusReason}` : ''}: ${statusMessage}`);
    this.name = 'ExecUpgradeError';
  }
}

/** TLS options that shape a secure context; any other context-shaping option and the socket builds its own. */
const CONTEXT_FIELDS = ['ca', 'cert', 'key'] as const;
const OTHER_CONTEXT_FIELDS = ['pfx', 'passphrase', 'ciphers', 'crl', 'dhparam', 'ecdhCurve', 'honorCipherOrder', 'secureOptions', 'secureProtocol', 'sessionIdContext', 'minVersion', 'maxVersion', 'clientCertEngine', 'privateKeyEngine', 'privateKeyIdentifier', 'sigalgs'] as const;
type ContextMaterial = string | Buffer | (string | Buffer)[] | undefined;

function materialKey(v: ContextMaterial): string {
  if (v === undefined) return '';
  const parts = Array.isArray(v) ? v : [v];
  return parts.map((p) => (typeof p === 'string' ? `s:${p}` : `b:${p.toString('base64')}`)).join('\u0000');
}

/** One secure context per KubeConfig and (ca, cert, key): see sharedSecureContext(). */
const contexts = new WeakMap<KubeConfig, { key: string; context: SecureContext }>();

/**
 * Every exec opens its own TLS connection (a WebSocket upgrade is never pooled), and without a
 * `secureContext` tls.connect builds a new one from `ca`/`cert`/`key` each time: parsing the
 * CA bundle and the client key, ~2-3 ms of CPU per exec here and several execs per finding.
 * The context only depends on those three, so it is built once per KubeConfig and reused; a
 * changed CA or client certificate (a rotated kubeconfig) builds a new one. Server identity is
 * still checked per connection (rejectUnauthorized, servername stay in the options). Options
 * this does not cover (pfx, ciphers, ...) leave tls.connect to build its own, as before.
 */
export function sharedSecureContext(kc: KubeConfig, opts: WebSocket.ClientOptions): SecureContext | undefined {
  const o = opts as Record<string, unknown>;
  if (OTHER_CONTEXT_FIELDS.some((f) => o[f] !== undefined)) return undefined;
  if (CONTEXT_FIELDS.every((f) => o[f] === undefined)) return undefined;
  const key = CONTEXT_FIELDS.map((f) => materialKey(o[f] as ContextMaterial)).join('\u0001');
  const cached = contexts.get(kc);
  if (cached?.key === key) return cached.context;
  const material = Object.fromEntries(CONTEXT_FIELDS.filter((f) => o[f] !== undefined).map((f) => [f, o[f]]));
  const context = createSecureContext(material);
  contexts.set(kc, { key, context });
  return context;
}

export interface ExecConnection {
  uri: string;
  opts: WebSocket.ClientOptions & { secureContext?: SecureContext };
  /** Where a spare for this exec connects; undefined when spares must not be used. */
  target: SpareTarget | undefined;
}

/** The exec WebSocket's URI and options, as every exec (and every spare) gets them. */
export async function execConnectOptions(kc: KubeConfig, path: string): Promise<ExecConnection> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('exec: the kubeconfig has no current cluster');
  const server = cluster.server.replace(/\/+$/, '');
  const uri = `${server.startsWith('https://') ? 'wss://' : 'ws://'}${server.replace(/^https?:\/\//, '')}${path}`;
  // ws hands its options to https.request and so to tls.connect, which takes `secureContext`.
  const opts: WebSocket.ClientOptions & { secureContext?: SecureContext } = {};
  await kc.applyToHTTPSOptions(opts);
  const secureContext = uri.startsWith('wss://') ? sharedSecureContext(kc, opts) : undefined;
  if (secureContext !== undefined) opts.secureContext = secureContext;
  return { uri, opts, target: spareTarget(uri, opts, cluster.proxyUrl) };
}

/** A connection that ended before any HTTP answer ("socket hang up", reset, broken pipe). */
function isConnectionLost(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return !(err instanceof ExecUpgradeError) && (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED');
}

type BinaryHandler = (stream: number, buff: Buffer) => boolean;
type TextHandler = (text: string) => boolean;

export class ExecSocket {
  /** The socket once created (also while connecting), so callers can close it on timeout. */
  ws: WebSocket | undefined;
  private closedByUs = false;

  constructor(private readonly kc: KubeConfig) {}

  /** client-node's WebSocketInterface. */
  async connect(path: string, textHandler: TextHandler | null, binaryHandler: BinaryHandler | null): Promise<WebSocket> {
    const { uri, opts, target } = await execConnectOptions(this.kc, path);
    if (this.closedByUs) throw new Error('exec: closed before the connection was opened');
    const spare = target === undefined ? undefined : execSpares(this.kc)?.take(target.key);
    if (spare !== undefined) {
      // Without an agent, https.request asks `createConnection` for the socket: the spare,
      // already connected and verified with these very options (exec-spares.ts).
      const onSpare = { ...opts, agent: undefined, createConnection: (() => spare) as unknown as WebSocket.ClientOptions['createConnection'] };
      try {
        return await this.open(uri, onSpare, textHandler, binaryHandler);
      } catch (err) {
        // The server closed the spare as the request went out (its idle timeout): no answer
        // came, so the exec never ran; it connects afresh, as without spares.
        if (this.closedByUs || !isConnectionLost(err)) throw err;
      }
    }
    return this.open(uri, opts, textHandler, binaryHandler);
  }

  private open(uri: string, opts: WebSocket.ClientOptions, textHandler: TextHandler | null, binaryHandler: BinaryHandler | null): Promise<WebSocket> {
    return new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(uri, EXEC_PROTOCOLS, opts);
      this.ws = ws;
      let opened = false;
      ws.on('unexpected-response', (_req, res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_REFUSAL_BODY) chunks.push(c);
          size += c.length;
        });
        const finish = (): void => {
          const status = parseStatusBody(Buffer.concat(chunks).toString('utf8').slice(0, MAX_REFUSAL_BODY));
          const header = res.headers['retry-after'];
          const retry = status?.details?.retryAfterSeconds ?? (typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : undefined);
          reject(new ExecUpgradeError(res.statusCode ?? 0, status?.message ?? res.statusMessage ?? 'no body', status?.reason, retry));
          ws.terminate();
        };
        res.on('end', finish);
        res.on('error', finish);
      });
      ws.on('open', () => {
        opened = true;
        resolve(ws);
      });
      ws.on('error', (err) => {
        if (!opened) reject(err);
      });
      ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
        const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
        if (!isBinary) {
          if (textHandler && !textHandler(buf.toString('utf8'))) ws.close();
          return;
        }
        if (buf.length === 0) return;
        const stream = buf[0] ?? 0;
        // v5 close-stream frames only say "no more data on channel N": nothing to do for us.
        if (stream === CLOSE_STREAM) return;
        if (binaryHandler && !binaryHandler(stream, buf.subarray(1))) ws.close();
      });
    });
  }

  /** Closes the socket (also while connecting). */
  terminate(): void {
    this.closedByUs = true;
    this.ws?.terminate();
  }
}
