// The WebSocket side of exec, handed to client-node's `Exec` as its WebSocketInterface.
// client-node's own handler loses what we need: a refused upgrade (400 "container is not
// running", 403, 404) surfaces only as "Unexpected server response: 400" without the Status
// message, the socket is unreachable until it opens (so a timeout cannot close a hung
// connect), and nothing slows the socket down when our stdout is full. This one keeps the
// socket, reads the refusal's Status body (bounded), and exposes pause/resume.
import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import { parseStatusBody } from './errors.js';

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

type BinaryHandler = (stream: number, buff: Buffer) => boolean;
type TextHandler = (text: string) => boolean;

export class ExecSocket {
  /** The socket once created (also while connecting), so callers can close it on timeout. */
  ws: WebSocket | undefined;
  private closedByUs = false;

  constructor(private readonly kc: KubeConfig) {}

  /** client-node's WebSocketInterface. */
  async connect(path: string, textHandler: TextHandler | null, binaryHandler: BinaryHandler | null): Promise<WebSocket> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('exec: the kubeconfig has no current cluster');
    const server = cluster.server.replace(/\/+$/, '');
    const uri = `${server.startsWith('https://') ? 'wss://' : 'ws://'}${server.replace(/^https?:\/\//, '')}${path}`;
    const opts: WebSocket.ClientOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    if (this.closedByUs) throw new Error('exec: closed before the connection was opened');
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
