// The exec side of the fake API server: the WebSocket upgrade of
// GET /api/v1/namespaces/NS/pods/P/exec with the v5/v4 channel protocols, and a tiny
// "container runtime" that runs `cat` and `tar` against the in-memory filesystem.
// Files are streamed in 64 KiB frames and every frame waits for the socket to take it, so
// a slow reader slows the fake down instead of making it buffer a whole file.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Fault, FaultPlan } from '../faults.js';
import { sleep } from '../faults.js';
import { generatedStream } from './generated.js';
import { statusBody } from './objects.js';
import { DebugProc, type ProcChannel } from './proc.js';
import type { FakeContainerSpec, FakeFile, FakePodSpec, FakeTool } from './types.js';

export const FRAME = 64 * 1024;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'] as const;
const MTIME = new Date('2026-01-01T00:00:00Z');

export interface ExecHost {
  token: string;
  faults: FaultPlan;
  preferredProtocol(): string;
  notFoundShape(): NotFoundShape;
  negotiated(protocol: string): void;
  findPod(ns: string, name: string): FakePodSpec | undefined;
  record(method: string, path: string, query: string): void;
  /** Sockets/WebSockets to tear down on close. */
  track(closeable: { destroy(): void }): () => void;
}

/** What a command sees: its files and tools. */
interface ContainerView {
  lookup(path: string): FakeFile | undefined;
  tools: readonly FakeTool[];
  /** Members a lying tar sends first. */
  tarExtra?: readonly { name: string; file: FakeFile }[];
  /** A debug container runs every command through the process model (proc.ts). */
  run?: (argv: readonly string[], ch: Channel) => Promise<number>;
}

class Dropped extends Error {}

function rawHttpError(socket: Duplex, code: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' }[code] ?? 'Error';
  const headers = Object.entries({ 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)), Connection: 'close', ...extraHeaders })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${code} ${reason}\r\n${headers}\r\n${text}`);
}

function viewOf(pod: FakePodSpec, containerName: string): { view: ContainerView; running: boolean } | undefined {
  const c = pod.containers.find((x) => x.name === containerName);
  if (c) {
    const lying = c.lyingCat;
    return { running: c.running !== false, view: { tools: c.tools ?? ['cat', 'tar'], lookup: (p) => (lying ? { content: lying } : c.files?.[p]), ...(c.tarExtra ? { tarExtra: c.tarExtra } : {}) } };
  }
  const e = pod.ephemeralContainers?.find((x) => x.name === containerName);
  if (!e) return undefined;
  // A debug container shares the target's process namespace: it sees the target through /proc.
  const target: FakeContainerSpec | undefined = pod.containers.find((x) => x.name === e.targetContainerName);
  const proc = target ? new DebugProc(target, e) : undefined;
  return {
    running: e.running,
    view: { tools: [], lookup: () => undefined, ...(proc ? { run: (argv, ch) => proc.run(argv, ch) } : {}) },
  };
}

function fileStream(f: FakeFile): Readable {
  if (f.generated) return generatedStream(f.generated.size, f.generated.seed, FRAME);
  const content = f.content ?? Buffer.alloc(0);
  let off = 0;
  // Literal content is sliced, not copied, into frames, one per read.
  return new Readable({
    read() {
      const chunk = off < content.length ? content.subarray(off, off + FRAME) : null;
      off += FRAME;
      this.push(chunk);
    },
  });
}

function sizeOf(f: FakeFile): number {
  return f.generated ? f.generated.size : (f.content?.length ?? 0);
}

type Channel = ProcChannel;

const OCI_NOT_FOUND = (tool: string): string =>
  `OCI runtime exec failed: exec failed: unable to start container process: exec: "${tool}": executable file not found in $PATH: unknown`;

/** How the runtime reports an executable that is not in the image. */
export type NotFoundShape = 'containerd' | 'dockershim';

/**
 * containerd (every current GKE node): the CRI exec fails before the process exists, so the
 * kubelet's stream server writes `apierrors.NewInternalError(err).Status()`: reason
 * InternalError, code 500, the error as the only cause, and no ExitCode cause.
 * dockershim (removed in Kubernetes 1.24): the failed exec surfaced as exit code 126.
 */
function notFoundStatus(shape: NotFoundShape, argv: string[], execId: string): unknown {
  const tool = argv[0] ?? '';
  if (shape === 'dockershim') {
    return { metadata: {}, status: 'Failure', message: OCI_NOT_FOUND(tool), reason: 'InternalError', details: { causes: [{ reason: 'ExitCode', message: '126' }] } };
  }
  const err = `error executing command in container: failed to exec in container: failed to start exec "${execId}": ${OCI_NOT_FOUND(tool)}`;
  return { metadata: {}, status: 'Failure', message: `Internal error occurred: ${err}`, reason: 'InternalError', details: { causes: [{ message: err }] }, code: 500 };
}

async function runCat(view: ContainerView, args: string[], ch: Channel): Promise<number> {
  const paths = args[0] === '--' ? args.slice(1) : args.filter((a) => a !== '--');
  let exit = 0;
  for (const p of paths) {
    const f = view.lookup(p);
    if (!f) {
      await ch.stderr(`cat: ${p}: No such file or directory\n`);
      exit = 1;
      continue;
    }
    if (f.unreadable) {
      await ch.stderr(`cat: ${p}: Permission denied\n`);
      exit = 1;
      continue;
    }
    for await (const chunk of fileStream(f)) await ch.stdout(chunk as Buffer);
  }
  return exit;
}

/** Parses `tar cf - PATH...` and `tar cf - -C DIR NAME...` into (fs path, member name) pairs. */
function parseTar(args: string[]): { items: { path: string; member: string; absolute: boolean }[] } | undefined {
  const a = [...args];
  const mode = a.shift();
  if (mode !== 'cf' && mode !== '-cf' && mode !== 'c') return undefined;
  if (mode !== 'c' && a.shift() !== '-') return undefined;
  let dir: string | undefined;
  const items: { path: string; member: string; absolute: boolean }[] = [];
  while (a.length > 0) {
    const x = a.shift() as string;
    if (x === '-C') {
      dir = a.shift();
      continue;
    }
    if (x === '--') continue;
    const path = dir !== undefined && !x.startsWith('/') ? `${dir.replace(/\/+$/, '')}/${x}` : x;
    items.push({ path, member: x.replace(/^\/+/, ''), absolute: x.startsWith('/') });
  }
  return { items };
}

async function runTar(view: ContainerView, args: string[], ch: Channel): Promise<number> {
  const parsed = parseTar(args);
  if (!parsed) {
    await ch.stderr(`tar: unsupported arguments in fake: ${args.join(' ')}\n`);
    return 2;
  }
  let exit = 0;
  if (parsed.items.some((i) => i.absolute)) await ch.stderr("tar: Removing leading `/' from member names\n");
  const pack = tar.pack();
  const producer = (async () => {
    for (const extra of view.tarExtra ?? []) {
      await pipeline(fileStream(extra.file), pack.entry({ name: extra.name, size: sizeOf(extra.file), mode: 0o755, mtime: MTIME, type: 'file' }));
    }
    for (const item of parsed.items) {
      const f = view.lookup(item.path);
      if (!f) {
        await ch.stderr(`tar: ${item.path}: Cannot stat: No such file or directory\n`);
        exit = 2;
        continue;
      }
      if (f.unreadable) {
        await ch.stderr(`tar: ${item.path}: Cannot open: Permission denied\n`);
        exit = 2;
        continue;
      }
      const entry = pack.entry({ name: item.member, size: sizeOf(f), mode: f.mode ?? 0o755, mtime: MTIME, type: 'file', uid: 0, gid: 0, uname: 'root', gname: 'root' });
      await pipeline(fileStream(f), entry);
    }
    pack.finalize();
  })();
  producer.catch((err: unknown) => pack.destroy(err as Error));
  try {
    for await (const chunk of pack) {
      const buf = chunk as Buffer;
      for (let off = 0; off < buf.length; off += FRAME) await ch.stdout(buf.subarray(off, off + FRAME));
    }
    await producer;
  } catch (err) {
    pack.destroy();
    throw err;
  }
  if (exit !== 0) await ch.stderr('tar: Exiting with failure status due to previous errors\n');
  return exit;
}

function failureStatus(argv: string[], exit: number): unknown {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${argv.join(' ')}], exit code ${exit}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exit) }] },
  };
}

function send(ws: WebSocket, channel: number, data: Buffer): Promise<void> {
  const frame = Buffer.allocUnsafe(data.length + 1);
  frame[0] = channel;
  data.copy(frame, 1);
  return new Promise((resolve, reject) => {
    if (ws.readyState !== ws.OPEN) {
      reject(new Dropped('client went away'));
      return;
    }
    // The callback fires once the frame is handed to the socket: waiting for it is the backpressure.
    ws.send(frame, { binary: true }, (err) => (err ? reject(new Dropped(err.message)) : resolve()));
  });
}

async function runSession(ws: WebSocket, view: ContainerView, argv: string[], fault: Fault | undefined, shape: NotFoundShape, finish: () => void): Promise<void> {
  let sent = 0;
  const limit = fault?.drop ? (fault.dropAfterBytes ?? 0) : Number.POSITIVE_INFINITY;
  const ch: Channel = {
    stdout: async (buf) => {
      if (sent + buf.length >= limit) {
        const part = buf.subarray(0, Math.max(0, limit - sent));
        if (part.length > 0) await send(ws, STDOUT, part);
        sent += part.length;
        ws.terminate();
        throw new Dropped(`dropped after ${sent} bytes`);
      }
      await send(ws, STDOUT, buf);
      sent += buf.length;
    },
    stderr: (text) => send(ws, STDERR, Buffer.from(text)),
  };
  try {
    if (fault?.hang) {
      // The socket stays open and silent until the client (or close()) ends it; the call ends then.
      ws.once('close', finish);
      return;
    }
    const tool = (argv[0] ?? '').split('/').pop() ?? '';
    let status: unknown;
    if (view.run) {
      const exit = await view.run(argv, ch);
      status = exit === 0 ? { metadata: {}, status: 'Success' } : exit === 127 ? notFoundStatus(shape, argv, randomBytes(32).toString('hex')) : failureStatus(argv, exit);
    } else if ((tool !== 'cat' && tool !== 'tar') || !view.tools.includes(tool)) {
      status = notFoundStatus(shape, argv, randomBytes(32).toString('hex'));
    } else {
      const exit = tool === 'cat' ? await runCat(view, argv.slice(1), ch) : await runTar(view, argv.slice(1), ch);
      if (fault?.drop) {
        // Stream shorter than dropAfterBytes: drop before the status anyway, as asked.
        ws.terminate();
        return;
      }
      status = exit === 0 ? { metadata: {}, status: 'Success' } : failureStatus(argv, exit);
    }
    await send(ws, STATUS, Buffer.from(JSON.stringify(status)));
    // Like the API server: close after the status (a normal close, never a v5 255 frame).
    ws.close(1000);
  } catch (err) {
    if (!(err instanceof Dropped)) ws.terminate();
  } finally {
    if (!fault?.hang) finish();
  }
}

export function createExecHandler(host: ExecHost): {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void>;
  close(): void;
} {
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered: Set<string>) => {
      const preferred = host.preferredProtocol();
      if (offered.has(preferred)) return preferred;
      return PROTOCOLS.find((p) => offered.has(p)) ?? false;
    },
  });

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const untrack = host.track(socket);
    socket.on('close', untrack);
    const url = new URL(req.url ?? '/', 'http://fake');
    host.record('GET', url.pathname, url.search.replace(/^\?/, ''));
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    if (!m) {
      rawHttpError(socket, 404, statusBody(404, 'the server could not find the requested resource'));
      return;
    }
    if (req.headers.authorization !== `Bearer ${host.token}`) {
      rawHttpError(socket, 401, statusBody(401, 'Unauthorized'));
      return;
    }
    const ns = decodeURIComponent(m[1] ?? '');
    const podName = decodeURIComponent(m[2] ?? '');
    const pod = host.findPod(ns, podName);
    const argv = url.searchParams.getAll('command');
    let container = url.searchParams.get('container') ?? '';
    if (!container && pod?.containers.length === 1) container = pod.containers[0]?.name ?? '';
    const key = `EXEC ${ns}/${podName}/${container}`;
    const fault = host.faults.take(key, { argv });
    const done = host.faults.record(key, fault, { argv });
    if (host.faults.latencyMs > 0) await sleep(host.faults.latencyMs);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.status !== undefined) {
      rawHttpError(socket, fault.status, statusBody(fault.status, fault.message ?? `injected fault ${fault.status} on exec`), fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {});
      done();
      return;
    }
    if (!pod) {
      rawHttpError(socket, 404, statusBody(404, `pods "${podName}" not found`, 'NotFound', { name: podName, kind: 'pods' }));
      done();
      return;
    }
    if (!container) {
      rawHttpError(socket, 400, statusBody(400, `a container name must be specified for pod ${podName}, choose one of: [${pod.containers.map((c) => c.name).join(' ')}]`));
      done();
      return;
    }
    const found = viewOf(pod, container);
    if (!found) {
      rawHttpError(socket, 400, statusBody(400, `container ${container} is not valid for pod ${podName}`));
      done();
      return;
    }
    if (!found.running) {
      rawHttpError(socket, 400, statusBody(400, `container ${container} is not running`));
      done();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      host.negotiated(ws.protocol);
      const untrackWs = host.track({ destroy: () => ws.terminate() });
      ws.on('close', untrackWs);
      ws.on('error', () => undefined);
      void runSession(ws, found.view, argv, fault, host.notFoundShape(), done);
    });
  }

  return { handleUpgrade, close: () => wss.close() };
}
