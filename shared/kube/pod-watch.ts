// A watch of one pod (GET /api/v1/namespaces/NS/pods?watch=true&fieldSelector=metadata.name=N),
// the way the API server streams it: a chunked response of one JSON event per line,
// `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}`.
//
// The request goes through client-node's own HTTP layer (RequestContext, the KubeConfig's
// token and TLS, IsomorphicFetchHttpLibrary), like every generated call, on the dispatcher
// the caller picks (the watches' own Agent: client-node-workloads.ts reuseConnections). Not client-node's Watch class: it hands out its AbortController only once the response
// headers have arrived, so a watch could not be closed while the PATCH beside it fails first;
// here the AbortSignal is on the request from the start.
import { ApiException, HttpMethod, IsomorphicFetchHttpLibrary, RequestContext, type KubeConfig, type V1Pod } from '@kubernetes/client-node';

/** A watch event line longer than this is not a pod (the API server's objects are < 1.5 MB). */
export const MAX_WATCH_LINE = 4 * 1024 * 1024;

/** undici's Dispatcher, as client-node's RequestContext takes it. */
type Dispatcher = Parameters<RequestContext['setDispatcher']>[0];

export interface PodWatchTarget {
  namespace: string;
  name: string;
  /** Start after this version (a read made before): no change in between is missed. Unset: the current state comes first as ADDED. */
  resourceVersion?: string;
  /** The server ends the stream after this long. */
  timeoutSeconds: number;
}

/** How a watch ended: `decide` answered, or the stream ended or failed first (why, for the log). */
export type PodWatchResult<T> = { kind: 'decided'; value: T } | { kind: 'ended'; reason: string };

export interface PodWatch<T> {
  /** Never rejects. */
  readonly result: Promise<PodWatchResult<T>>;
  /** Aborts the request or the stream (idempotent); resolves once the watch has let go of it. */
  close(): Promise<void>;
}

/** The request URL: one pod by field selector, from a version, bounded by timeoutSeconds. */
export function podWatchUrl(server: string, t: PodWatchTarget): string {
  const url = new URL(`${server.replace(/\/+$/, '')}/api/v1/namespaces/${encodeURIComponent(t.namespace)}/pods`);
  url.searchParams.set('watch', 'true');
  url.searchParams.set('fieldSelector', `metadata.name=${t.name}`);
  if (t.resourceVersion !== undefined) url.searchParams.set('resourceVersion', t.resourceVersion);
  url.searchParams.set('timeoutSeconds', String(Math.max(1, Math.ceil(t.timeoutSeconds))));
  return url.toString();
}

/**
 * Sends the watch request (on `dispatcherFor`'s dispatcher when it gives one, else the
 * KubeConfig's); resolves with the event stream once the server answered 200.
 * Anything else throws client-node's ApiException (status code and Status body), which
 * toKubeError turns into a KubeApiError like any other call's refusal.
 */
export async function openPodWatch(kc: KubeConfig, t: PodWatchTarget, signal: AbortSignal, dispatcherFor?: (shared: Dispatcher | undefined) => Dispatcher | undefined): Promise<ReadableStream<Uint8Array>> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  const ctx = new RequestContext(podWatchUrl(server, t), HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  // The aborted watch's connection dies with it: kept off the pool other calls share.
  const own = dispatcherFor?.(ctx.getDispatcher());
  if (own) ctx.setDispatcher(own);
  ctx.setHeaderParam('Accept', 'application/json');
  ctx.setSignal(signal);
  const res = await new IsomorphicFetchHttpLibrary().send(ctx).toPromise();
  if (res.httpStatusCode !== 200) throw new ApiException(res.httpStatusCode, 'watch refused', await res.body.text(), res.headers);
  const stream = res.body.stream();
  if (!stream) throw new Error('the watch was answered without a body');
  return stream;
}

interface WatchEvent {
  type?: unknown;
  object?: { code?: unknown; reason?: unknown; message?: unknown } & V1Pod;
}

/** What one event line means: a pod state, the end of the watch (with why), or nothing (bookmark). */
function readEvent(line: string): { pod: V1Pod } | { end: string } | undefined {
  let e: WatchEvent;
  try {
    e = JSON.parse(line) as WatchEvent;
  } catch {
    return { end: `an unreadable watch event (${line.slice(0, 80)})` };
  }
  switch (e.type) {
    case 'ADDED':
    case 'MODIFIED':
      return e.object ? { pod: e.object } : { end: `a ${e.type} event without an object` };
    case 'BOOKMARK':
      return undefined;
    case 'DELETED':
      return { end: 'the pod was deleted' };
    case 'ERROR': {
      // A Status: 410 Expired (the version is older than the server's watch window), 500, ...
      const s = e.object ?? {};
      return { end: `the server ended the watch: ${String(s.code ?? '?')} ${String(s.reason ?? '')}: ${String(s.message ?? '')}`.trim() };
    }
    default:
      return { end: `an unknown watch event type ${JSON.stringify(e.type)}` };
  }
}

/** Reads event lines until `decide` answers, the stream ends or the signal aborts. */
async function readEvents<T>(stream: ReadableStream<Uint8Array>, decide: (pod: V1Pod) => T | undefined, signal: AbortSignal): Promise<PodWatchResult<T>> {
  const reader = stream.getReader();
  if (signal.aborted) {
    reader.cancel(signal.reason).catch(() => undefined);
    return { kind: 'ended', reason: 'closed' };
  }
  // The fetch body errors when its request is aborted; cancelling the reader as well ends a
  // pending read whatever the stream's source does, so close() never waits on the server.
  const onAbort = (): void => void reader.cancel(signal.reason).catch(() => undefined);
  signal.addEventListener('abort', onAbort, { once: true });
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (signal.aborted) return { kind: 'ended', reason: 'closed' };
      if (done) return { kind: 'ended', reason: buffered.trim() ? 'the stream ended inside an event' : 'the server closed the stream' };
      buffered += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line) continue;
        const ev = readEvent(line);
        if (ev === undefined) continue;
        if ('end' in ev) return { kind: 'ended', reason: ev.end };
        const value = decide(ev.pod);
        if (value !== undefined) return { kind: 'decided', value };
      }
      if (buffered.length > MAX_WATCH_LINE) return { kind: 'ended', reason: `a watch event longer than ${MAX_WATCH_LINE} bytes` };
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    // Lets go of the connection whatever ended the loop (a cancelled body is not reused).
    reader.cancel().catch(() => undefined);
  }
}

/** A watch opened before the question is known: decideWith asks it (once). */
export interface EarlyPodWatch {
  /**
   * From now on `decide` answers: first about the latest state the watch has already
   * received (every event carries the whole pod, so the latest one is all that counts), then
   * about every later one. Only once per watch.
   */
  decideWith<T>(decide: (pod: V1Pod) => T | undefined): PodWatch<T>;
  /** Aborts the request or the stream (idempotent); resolves once the watch has let go of it. */
  close(): Promise<void>;
}

/**
 * Starts watching now, before anyone asks anything of the pod's states: the request (and the
 * connection under it) is on its way while the caller still works out what to wait for.
 * Until decideWith, only the latest state is kept. A watch that ends (refused, dropped, an
 * ERROR event) before decideWith says so in the result decideWith returns.
 */
export function earlyPodWatch(open: (signal: AbortSignal) => Promise<ReadableStream<Uint8Array>>, signal?: AbortSignal): EarlyPodWatch {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  let latest: V1Pod | undefined;
  let decider: ((pod: V1Pod) => unknown) | undefined;
  const read = (async (): Promise<PodWatchResult<unknown>> => {
    try {
      return await readEvents(await open(controller.signal), (pod) => (decider ? decider(pod) : void (latest = pod)), controller.signal);
    } catch (err) {
      return { kind: 'ended', reason: err instanceof Error ? err.message : String(err) };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  })();
  const close = async (): Promise<void> => {
    controller.abort();
    await read;
  };
  return {
    decideWith<T>(decide: (pod: V1Pod) => T | undefined): PodWatch<T> {
      if (decider) throw new Error('decideWith was already called on this watch');
      decider = decide;
      // The state received before the question was asked may answer it already.
      const now = latest === undefined ? undefined : decide(latest);
      latest = undefined;
      const result = (now === undefined ? read : Promise.resolve({ kind: 'decided', value: now })) as Promise<PodWatchResult<T>>;
      return { result, close };
    },
    close,
  };
}
