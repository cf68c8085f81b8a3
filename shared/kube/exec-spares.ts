// Pre-connected TLS sockets to the API server for the collector's exec WebSockets ("spares").
// A WebSocket upgrade is never pooled, so every exec opens its own TCP + TLS connection: on a
// real control plane two or three network round trips, and the handshake's CPU on both sides,
// in front of every exec round. The collector knows when its execs will come (once its debug
// container runs), so the connections are opened while it waits for that anyway.
//
// Security: a spare is opened with the exec's own TLS options (the shared SecureContext built
// from the kubeconfig's CA and client certificate, servername, rejectUnauthorized) and taken
// only by an exec whose options give the same key (host, port, servername, rejectUnauthorized,
// that very SecureContext object): never by another cluster, user or rotated kubeconfig. The
// key is checked again when taken. Auth headers (the bearer token) are per request and are
// sent by the exec as before. Spares are opened only from ClientNodeWorkloads.addDebugContainer,
// which only the trusted collector calls, after SCC confirmed the finding.
import { isIP } from 'node:net';
import https from 'node:https';
import { connect, type ConnectionOptions, type SecureContext, type TLSSocket } from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';

/**
 * The collector's first round is 7 execs at once (`ls /proc`, the finds of exe links,
 * cmdlines, status, stat and fds, the net tables), then `cat /proc/<pid>/exe` with the
 * suspect's maps beside it: 9 covers the path to the DELETE. Later execs connect as before.
 */
export const EXEC_SPARES = 9;

/**
 * A spare not taken this long after it was opened is closed (and never handed out): the debug
 * container runs within a second or two from a cached image, and the first round and the cat
 * follow at once. A short limit keeps us clear of idle timeouts in front of the API server and
 * closes what was not needed even if nobody calls close().
 */
export const SPARE_IDLE_MS = 10_000;

/** Where and how a spare connects, and the key an exec must match to take it. */
export interface SpareTarget {
  key: string;
  options: ConnectionOptions & { host: string; port: number; servername: string; secureContext: SecureContext };
}

const contextIds = new WeakMap<SecureContext, number>();
let nextContextId = 1;
function contextId(c: SecureContext): number {
  let id = contextIds.get(c);
  if (id === undefined) {
    id = nextContextId++;
    contextIds.set(c, id);
  }
  return id;
}

/** What an exec's WebSocket options carry that decides its connection (ws options plus https/tls ones). */
export interface ExecConnectOptions {
  agent?: unknown;
  secureContext?: SecureContext;
  servername?: string;
  rejectUnauthorized?: boolean;
}

/**
 * The spare target for an exec to `uri` with these options, or undefined when spares must not
 * be used: not TLS, no shared SecureContext (options such as pfx or ciphers the context does
 * not cover), or a proxy (its agent is not the plain https.Agent, or the cluster names one).
 * servername is what tls.connect would get through the https.Agent: the host unless an IP.
 */
export function spareTarget(uri: string, opts: ExecConnectOptions, proxyUrl: string | undefined): SpareTarget | undefined {
  if (!uri.startsWith('wss://') || opts.secureContext === undefined || proxyUrl) return undefined;
  if (opts.agent === undefined || Object.getPrototypeOf(opts.agent) !== https.Agent.prototype) return undefined;
  const url = new URL(uri);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? 443 : Number(url.port);
  const servername = opts.servername ?? (isIP(host) ? '' : host);
  const options: SpareTarget['options'] = { host, port, servername, secureContext: opts.secureContext };
  if (opts.rejectUnauthorized !== undefined) options.rejectUnauthorized = opts.rejectUnauthorized;
  const key = JSON.stringify([host, port, servername, opts.rejectUnauthorized ?? 'default', contextId(opts.secureContext)]);
  return { key, options };
}

interface Spare {
  socket: TLSSocket;
  key: string;
  openedAt: number;
  ready: boolean;
  /** insecure-skip-tls-verify: the exec would not verify either. */
  unverifiedAllowed: boolean;
  timer: NodeJS.Timeout;
  /** Removes our listeners and the timer (on hand-over or discard). */
  detach: () => void;
}

export interface ExecSparesOptions {
  idleMs?: number;
}

/** The spares of one KubeConfig. */
export class ExecSpares {
  private readonly spares = new Set<Spare>();
  private readonly idleMs: number;

  constructor(options: ExecSparesOptions = {}) {
    this.idleMs = options.idleMs ?? SPARE_IDLE_MS;
  }

  /** Opens spares for `target` until `count` are open or opening; spares for another key are closed first. */
  fill(target: SpareTarget, count: number): void {
    for (const s of this.spares) if (s.key !== target.key) this.discard(s);
    for (let i = this.spares.size; i < count; i++) this.open(target);
  }

  /** A connected, verified, unused spare for this key, or undefined (the exec connects as before). Never hands one out twice. */
  take(key: string): TLSSocket | undefined {
    for (const s of this.spares) {
      if (s.key !== key || !s.ready) continue;
      this.spares.delete(s);
      s.detach();
      const socket = s.socket;
      // tls.connect already refused an unverified server unless the kubeconfig itself skips verification.
      const verified = socket.authorized || s.unverifiedAllowed;
      if (socket.destroyed || !socket.writable || socket.readableLength > 0 || Date.now() - s.openedAt >= this.idleMs || !verified) {
        socket.destroy();
        continue;
      }
      socket.ref(); // in use now: it holds the process like any exec socket
      return socket;
    }
    return undefined;
  }

  /** Spares open or opening. */
  get size(): number {
    return this.spares.size;
  }

  /** Spares connected and verified (what take() can hand out). */
  get ready(): number {
    let n = 0;
    for (const s of this.spares) if (s.ready) n++;
    return n;
  }

  /** Closes every unused spare. */
  close(): void {
    for (const s of this.spares) this.discard(s);
  }

  private open(target: SpareTarget): void {
    const socket = connect({ ...target.options });
    socket.unref(); // an idle spare never keeps the process (or a test run) alive
    const onSecure = (): void => {
      spare.ready = true;
    };
    // Nothing may arrive before a request: data, end or an error make the spare unusable.
    const onBad = (): void => this.discard(spare);
    const timer = setTimeout(onBad, this.idleMs);
    timer.unref();
    const spare: Spare = {
      socket,
      key: target.key,
      openedAt: Date.now(),
      ready: false,
      unverifiedAllowed: target.options.rejectUnauthorized === false,
      timer,
      detach: () => {
        clearTimeout(timer);
        socket.off('secureConnect', onSecure);
        socket.off('data', onBad);
        socket.off('end', onBad);
        socket.off('close', onBad);
        socket.off('error', onBad);
      },
    };
    socket.once('secureConnect', onSecure);
    socket.on('data', onBad);
    socket.on('end', onBad);
    socket.on('close', onBad);
    socket.on('error', onBad);
    this.spares.add(spare);
  }

  private discard(s: Spare): void {
    if (!this.spares.delete(s)) return;
    s.detach();
    s.socket.on('error', () => undefined);
    s.socket.destroy();
  }
}

const pools = new WeakMap<KubeConfig, ExecSpares>();

/** The spares of this KubeConfig, created on first use when `create` is given. */
export function execSpares(kc: KubeConfig, create?: ExecSparesOptions): ExecSpares | undefined {
  let pool = pools.get(kc);
  if (pool === undefined && create !== undefined) {
    pool = new ExecSpares(create);
    pools.set(kc, pool);
  }
  return pool;
}
