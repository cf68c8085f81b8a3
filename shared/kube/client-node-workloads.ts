// The Workloads port (shared/ports.ts) over @kubernetes/client-node 2.x. Every method goes
// through `call(name, ...)` with a name from KUBE_API_CALLS, so no Kubernetes call exists
// without its row in the table that the RBAC manifests are derived from. Loaded lazily by
// the composition root (it pulls in client-node and undici).
import { Writable } from 'node:stream';
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  Exec,
  KubeConfig,
  NetworkingV1Api,
  Observable,
  PatchStrategy,
  type ConfigurationOptions,
  type RequestContext,
  type ResponseContext,
  type V1SecurityContext,
  type V1Status,
} from '@kubernetes/client-node';
import type {
  DebugContainerSpec,
  ExecRequest,
  ExecResult,
  KubeEvent,
  NetworkPolicyBody,
  NetworkPolicyView,
  NodeView,
  OwnerRef,
  OwnerView,
  PodView,
  PreparedDebugContainer,
  Workloads,
} from '../ports.js';
import { ResponderError, TimeoutError } from '../common/errors.js';
import { KUBE_API_CALLS, type KubeCallName } from './api-calls.js';
import type { CLIENT_NODE_METHODS, ClientNodeApi } from './client-node-methods.js';
import { KubeApiError, toKubeError } from './errors.js';
import { ExecSocket, ExecUpgradeError, execConnectOptions } from './exec-socket.js';
import { EXEC_SPARES, execSpares } from './exec-spares.js';
import { earlyPodWatch, openPodWatch, type EarlyPodWatch, type PodWatch, type PodWatchResult, type PodWatchTarget } from './pod-watch.js';
import { ephemeralState, eventView, nodeView, ownerView, podView, type ControllerObject } from './views.js';
import { redactString } from '../finding/redact.js';
import { waitForDrain } from '../common/streams.js';
import { sleep } from '../common/time.js';

/** Most stderr kept from an exec (enough to tell "no such file" from "permission denied"). */
export const EXEC_STDERR_LIMIT = 16 * 1024;
/** Most events returned for a pod (the newest). */
export const MAX_POD_EVENTS = 50;

export interface ClientNodeWorkloadsOptions {
  /** Called before every Kubernetes call (tests and metrics). */
  onCall?: (name: KubeCallName, target: string) => void;
  /**
   * Poll intervals while waiting for a debug container (ms): `first`/`max` for the poll
   * without a watch, `besideWatch` for the slow read kept beside an open watch (default 1000).
   */
  debugPollMs?: { first: number; max: number; besideWatch?: number };
  /**
   * Told once why a debug container's wait fell back from the watch to polling. Default: one
   * structured WARNING line on stderr (watchFallbackLine): no audit logger reaches this layer
   * (the adapters are built once per instance, before any finding, so there is no run id).
   */
  onWatchFallback?: (reason: string, context: WatchFallbackContext) => void;
  /** Pre-connected exec sockets opened with the debug container's PATCH (default EXEC_SPARES; 0: none). */
  execSpares?: number;
  /** Their idle limit (default SPARE_IDLE_MS). */
  execSpareIdleMs?: number;
}

/** What the watch was for, beside the reason (the fields of the default WARNING line). */
export interface WatchFallbackContext {
  /** The adapter operation that waited (its KUBE_API_CALLS row). */
  operation: 'addDebugContainer';
  namespace: string;
  pod: string;
  container: string;
}

/** Longest reason written by the default fallback line (a Status message is short; a proxy's page is not). */
export const WATCH_FALLBACK_REASON_LIMIT = 2048;

/**
 * The default fallback log line: Cloud Logging's structured JSON (severity WARNING, message)
 * with the operation and its target as fields, the reason bounded and passed through the
 * token redactor the audit log uses (a proxy's error page may echo a request header).
 */
export function watchFallbackLine(reason: string, context: WatchFallbackContext): string {
  const bounded = reason.length > WATCH_FALLBACK_REASON_LIMIT ? `${reason.slice(0, WATCH_FALLBACK_REASON_LIMIT)}... (${reason.length} chars)` : reason;
  return `${JSON.stringify({ severity: 'WARNING', message: redactString(bounded), ...context, call: 'watchPod' })}\n`;
}

type OwnerKind = 'ReplicaSet' | 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob';
const OWNER_RESOURCE: Record<OwnerKind, { group: string; resource: string }> = {
  ReplicaSet: { group: 'apps', resource: 'replicasets' },
  Deployment: { group: 'apps', resource: 'deployments' },
  StatefulSet: { group: 'apps', resource: 'statefulsets' },
  DaemonSet: { group: 'apps', resource: 'daemonsets' },
  Job: { group: 'batch', resource: 'jobs' },
  CronJob: { group: 'batch', resource: 'cronjobs' },
};

/** The critical calls' own Agent (see reuseConnections). */
interface CriticalLane {
  /**
   * Where a critical call to `origin` goes now: undefined keeps the shared Agent (it has an idle
   * connection); otherwise this Agent, after the next check phase when `wait` (its connection has
   * answered and undici hands it back then).
   */
  pick(origin: string): { dispatcher: unknown; wait: boolean } | undefined;
}

/** Per-call options: the AbortSignal, for patches the content type, for critical calls their lane. */
function callOptions(signal: AbortSignal | undefined, contentType?: string, lane?: (shared: unknown) => CriticalLane | undefined): ConfigurationOptions | undefined {
  if (!signal && !contentType && !lane) return undefined;
  return {
    middleware: [
      {
        // Runs after client-node's applySecurityAuthentication has set the shared Agent.
        pre: (ctx: RequestContext) => {
          if (signal) ctx.setSignal(signal);
          if (contentType) ctx.setHeaderParam('Content-Type', contentType);
          const pick = lane?.(ctx.getDispatcher())?.pick(new URL(ctx.getUrl()).origin);
          if (pick === undefined) return new Observable(Promise.resolve(ctx));
          ctx.setDispatcher(pick.dispatcher as Parameters<RequestContext['setDispatcher']>[0]);
          // undici's setImmediate that frees it was queued when the answer ended, before this one.
          if (pick.wait) return new Observable(new Promise<RequestContext>((resolve) => setImmediate(() => resolve(ctx))));
          return new Observable(Promise.resolve(ctx));
        },
        post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

function statusCodeOf(err: unknown): number | undefined {
  if (err instanceof KubeApiError) return err.statusCode;
  return undefined;
}

/** Exit code from the exec status channel's `details.causes[reason=ExitCode]`. */
export function exitCodeOf(status: V1Status): number | null {
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const n = cause?.message === undefined ? NaN : Number(cause.message);
  return Number.isInteger(n) ? n : null;
}


/**
 * Forwards exec stdout to the caller's Writable. client-node writes every frame without
 * looking at the return value and ends the stream when the status arrives; this sink keeps
 * the caller's stream open (the caller decides whether the bytes become evidence) and pauses
 * the socket while the caller's stream is full, so memory stays bounded.
 */
class StdoutSink extends Writable {
  constructor(private readonly target: NodeJS.WritableStream, private readonly socket: ExecSocket) {
    super({ highWaterMark: 256 * 1024 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    const target = this.target as NodeJS.WritableStream & { destroyed?: boolean };
    if (target.destroyed === true) {
      callback(new Error('exec stdout target was destroyed'));
      return;
    }
    if (target.write(chunk)) {
      callback();
      return;
    }
    this.socket.ws?.pause();
    waitForDrain(target, 'exec stdout target closed while the command was still writing').then(() => {
      this.socket.ws?.resume();
      callback();
    }, callback);
  }
}

class BoundedText extends Writable {
  text = '';
  constructor(private readonly limit: number) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: () => void): void {
    if (this.text.length < this.limit) this.text += chunk.toString('utf8').slice(0, this.limit - this.text.length);
    callback();
  }
}

function waitFinished(w: Writable): Promise<void> {
  if (w.writableFinished) return Promise.resolve();
  return new Promise((resolve, reject) => {
    w.once('finish', resolve);
    w.once('error', reject);
  });
}

const REUSING = Symbol('scc-responder.reusesConnections');
const WATCH_DISPATCHER = Symbol('scc-responder.watchDispatcher');
const CRITICAL_DISPATCHER = Symbol('scc-responder.criticalDispatcher');

type ReusingKubeConfig = {
  createDispatcher?: (cluster: { name?: string; server?: string } | null, agentOptions: unknown) => unknown;
  [REUSING]?: true;
  [WATCH_DISPATCHER]?: (shared: unknown) => unknown;
  [CRITICAL_DISPATCHER]?: (shared: unknown) => CriticalLane | undefined;
};

/**
 * client-node 2.0.1 builds a new undici Agent for every REST call (KubeConfig's private
 * createDispatcher, from applySecurityAuthentication), so every call opened its own TCP + TLS
 * connection to the API server: two extra network round trips per call against a real control
 * plane, and ~10 ms of handshake CPU per call even on loopback. One Agent per cluster + user
 * (the key client-node's own WebSocket agent cache uses) keeps connections alive between
 * calls. The bearer token is a header, not part of the Agent, so a refreshed token still
 * applies. When a client-node version no longer has createDispatcher, nothing is changed.
 *
 * Beside each shared Agent, one for watches (watchDispatcher): a watch ends by being aborted,
 * and an aborted HTTP/1.1 response takes its connection with it. undici's pool keeps that
 * client and hands it to whichever request next finds it first in line, which then pays a
 * new TCP + TLS connection (measured: the next finding's watch, sent just before its PATCH;
 * with the watch sent first, the next finding's DELETE). On their own
 * Agent, watches lose only their own connections.
 *
 * And one for the critical calls (criticalDispatcher: the pod read, the collector PATCH, the
 * DELETE), each needing the one before. undici hands a connection back to its pool a full
 * event-loop cycle after the answer (HTTP/1.1, setImmediate), and the PATCH follows the pod
 * read's answer at once: on a new instance the pool had no other connection, so the PATCH paid
 * a new TCP + TLS connection on the critical path (measured with the fake API server's
 * connection log), or, on the shared pool, enrichment's reads started beside it took the one
 * freed. A critical call takes an idle connection of either Agent; with none, it waits for
 * that cycle when its own Agent's connection is being handed back (CriticalLane).
 */
export function reuseConnections(kc: KubeConfig): KubeConfig {
  const k = kc as unknown as ReusingKubeConfig;
  const create = k.createDispatcher;
  if (typeof create !== 'function' || k[REUSING]) return kc;
  const agents = new Map<string, unknown>();
  const siblings = new WeakMap<object, { watches: () => unknown; critical: () => CriticalLane }>();
  k.createDispatcher = (cluster, agentOptions) => {
    const key = JSON.stringify([cluster?.name, cluster?.server, kc.getCurrentUser()?.name]);
    if (!agents.has(key)) {
      const raw = create.call(kc, cluster, agentOptions);
      const agent = keepAliveAfterDelete(raw);
      agents.set(key, agent);
      let watches: unknown;
      let critical: CriticalLane | undefined;
      if (typeof agent === 'object' && agent !== null) {
        siblings.set(agent, {
          watches: () => (watches ??= create.call(kc, cluster, agentOptions)),
          critical: () => (critical ??= criticalLane(create.call(kc, cluster, agentOptions), raw)),
        });
      }
    }
    return agents.get(key);
  };
  const sibling = (shared: unknown): { watches: () => unknown; critical: () => CriticalLane } | undefined => (typeof shared === 'object' && shared !== null ? siblings.get(shared) : undefined);
  k[WATCH_DISPATCHER] = (shared) => sibling(shared)?.watches();
  k[CRITICAL_DISPATCHER] = (shared) => sibling(shared)?.critical();
  k[REUSING] = true;
  return kc;
}

type DispatchOptions = { method?: string; reset?: boolean };
type Dispatch = (opts: DispatchOptions, handler: unknown) => boolean;
type Composable = { compose?: (interceptor: (dispatch: Dispatch) => Dispatch) => unknown };

/**
 * undici closes a connection after a request whose method expects no payload but that sent
 * one (its `reset`, for servers that mishandle such a body), and a pod DELETE carries its UID
 * precondition in the body: every DELETE cost its connection, so the next finding's first call
 * paid a new TCP + TLS connection (measured with the fake API server's connection log). The
 * Kubernetes API server reads DELETE bodies by design (DeleteOptions), so a DELETE keeps its
 * connection. Other requests are passed on unchanged; an Agent without compose is kept as is.
 */
function keepAliveAfterDelete(agent: unknown): unknown {
  const compose = (agent as Composable | null)?.compose;
  if (typeof compose !== 'function') return agent;
  return compose.call(agent, (dispatch) => (opts, handler) => dispatch(opts.method === 'DELETE' && opts.reset === undefined ? { ...opts, reset: false } : opts, handler));
}

/** The Agent for watches beside `shared` (an Agent reuseConnections made); undefined otherwise. */
export function watchDispatcher<D>(kc: KubeConfig, shared: D | undefined): D | undefined {
  return (kc as unknown as ReusingKubeConfig)[WATCH_DISPATCHER]?.(shared) as D | undefined;
}

/** The critical calls' lane beside `shared` (an Agent reuseConnections made); undefined otherwise. */
function criticalLaneOf(kc: KubeConfig, shared: unknown): CriticalLane | undefined {
  return (kc as unknown as ReusingKubeConfig)[CRITICAL_DISPATCHER]?.(shared);
}

type PoolStatsView = { connected?: number; free?: number; running?: number };

/** undici's per-origin pool stats of an Agent (`stats`); undefined for other dispatchers. */
function poolStats(agent: unknown, origin: string): PoolStatsView | undefined {
  return (agent as { stats?: Record<string, PoolStatsView> } | null)?.stats?.[origin];
}

/**
 * `own`'s lane beside the shared Agent `shared` (both raw undici Agents). A connection that is
 * connected, not free and running nothing has answered and waits for undici's next check phase
 * to be handed back (HTTP/1.1, pipelining 1). Dispatchers without pool stats never wait.
 */
function criticalLane(own: unknown, shared: unknown): CriticalLane {
  const dispatcher = keepAliveAfterDelete(own);
  return {
    pick: (origin) => {
      const mine = poolStats(own, origin);
      if ((mine?.free ?? 0) > 0) return { dispatcher, wait: false };
      if ((poolStats(shared, origin)?.free ?? 0) > 0) return undefined;
      const handingBack = mine !== undefined && (mine.connected ?? 0) > (mine.running ?? 0);
      return { dispatcher, wait: handingBack };
    },
  };
}

type Methods<A extends ClientNodeApi> = (typeof CLIENT_NODE_METHODS)[A][number];

export class ClientNodeWorkloads implements Workloads {
  // Only the listed methods: the bundle keeps no others (shared/kube/client-node-methods.ts).
  private readonly core: Pick<CoreV1Api, Methods<'CoreV1Api'>>;
  private readonly apps: Pick<AppsV1Api, Methods<'AppsV1Api'>>;
  private readonly batch: Pick<BatchV1Api, Methods<'BatchV1Api'>>;
  private readonly networking: Pick<NetworkingV1Api, Methods<'NetworkingV1Api'>>;
  /** Bumped by closeExecSpares, so spares still being set up for a closed wait are not opened. */
  private spareGeneration = 0;
  /** The critical calls' lane (reuseConnections): the pod read, the collector PATCH, the pod DELETE. */
  private readonly critical = (shared: unknown): CriticalLane | undefined => criticalLaneOf(this.kc, shared);
  /** The watches prepareDebugContainer opened, by the handle it gave out (taken: adopted by addDebugContainer). */
  private readonly preparedWatches = new WeakMap<PreparedDebugContainer, { namespace: string; pod: string; watch: EarlyPodWatch; taken: boolean }>();

  constructor(private readonly kc: KubeConfig, private readonly options: ClientNodeWorkloadsOptions = {}) {
    reuseConnections(kc);
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.batch = kc.makeApiClient(BatchV1Api);
    this.networking = kc.makeApiClient(NetworkingV1Api);
  }

  /** The one door for every Kubernetes call: the name must be a row of KUBE_API_CALLS. */
  private async call<T>(name: KubeCallName, target: string, fn: () => Promise<T>): Promise<T> {
    if (!(name in KUBE_API_CALLS)) throw new ResponderError(`kubernetes call ${name} is not in KUBE_API_CALLS`, 'permanent');
    this.options.onCall?.(name, target);
    try {
      return await fn();
    } catch (err) {
      throw toKubeError(name, target, err);
    }
  }

  readPod(namespace: string, name: string, signal?: AbortSignal): Promise<PodView> {
    return this.call('readPod', `pods ${namespace}/${name}`, async () => podView(await this.core.readNamespacedPod({ namespace, name }, callOptions(signal, undefined, this.critical))));
  }

  readNode(name: string, signal?: AbortSignal): Promise<NodeView> {
    return this.call('readNode', `nodes ${name}`, async () => nodeView(await this.core.readNode({ name }, callOptions(signal))));
  }

  readOwner(namespace: string, ref: OwnerRef, signal?: AbortSignal): Promise<OwnerView> {
    const kind = ref.kind as OwnerKind;
    const target = `${ref.kind} ${namespace}/${ref.name}`;
    return this.call('readOwner', target, async () => {
      const res = OWNER_RESOURCE[kind];
      // The table decides which owner kinds we may read; anything else is reported, not fetched.
      if (!res || !KUBE_API_CALLS.readOwner.some((r) => r.group === res.group && r.resource === res.resource)) {
        throw new ResponderError(`owner kind ${ref.kind} is not readable (not in KUBE_API_CALLS.readOwner)`, 'permanent');
      }
      const p = { namespace, name: ref.name };
      const o = callOptions(signal);
      let obj: ControllerObject;
      switch (kind) {
        case 'ReplicaSet': obj = await this.apps.readNamespacedReplicaSet(p, o); break;
        case 'Deployment': obj = await this.apps.readNamespacedDeployment(p, o); break;
        case 'StatefulSet': obj = await this.apps.readNamespacedStatefulSet(p, o); break;
        case 'DaemonSet': obj = await this.apps.readNamespacedDaemonSet(p, o); break;
        case 'Job': obj = await this.batch.readNamespacedJob(p, o); break;
        case 'CronJob': obj = await this.batch.readNamespacedCronJob(p, o); break;
      }
      return ownerView(kind, obj);
    });
  }

  listPodEvents(namespace: string, podName: string, signal?: AbortSignal): Promise<KubeEvent[]> {
    return this.call('listPodEvents', `events for pod ${namespace}/${podName}`, async () => {
      const list = await this.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${podName}`, limit: 500 }, callOptions(signal));
      const events = list.items.map(eventView);
      events.sort((a, b) => (a.lastTimestamp ?? '').localeCompare(b.lastTimestamp ?? ''));
      return events.slice(-MAX_POD_EVENTS);
    });
  }

  listPods(namespace: string, labelSelector: string, signal?: AbortSignal): Promise<PodView[]> {
    return this.call('listPods', `pods in ${namespace} (${labelSelector})`, async () => {
      const list = await this.core.listNamespacedPod({ namespace, labelSelector }, callOptions(signal));
      return list.items.map(podView);
    });
  }

  async deletePod(namespace: string, name: string, options: { uid: string; gracePeriodSeconds?: number }, signal?: AbortSignal): Promise<'deleted' | 'not-found'> {
    try {
      return await this.call('deletePod', `pods ${namespace}/${name} (uid ${options.uid})`, async () => {
        await this.core.deleteNamespacedPod(
          {
            namespace,
            name,
            ...(options.gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds: options.gracePeriodSeconds }),
            body: { preconditions: { uid: options.uid }, ...(options.gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds: options.gracePeriodSeconds }) },
          },
          callOptions(signal, undefined, this.critical),
        );
        return 'deleted' as const;
      });
    } catch (err) {
      // Already gone is what we wanted (idempotent on redelivery).
      if (statusCodeOf(err) === 404) return 'not-found';
      throw err;
    }
  }

  async patchPodMetadata(namespace: string, name: string, patch: { uid: string; labels?: Record<string, string>; annotations?: Record<string, string> }, signal?: AbortSignal): Promise<void> {
    // metadata.uid is immutable: the API server refuses this patch (422) on a same-named replacement pod.
    const metadata = { uid: patch.uid, ...(patch.labels ? { labels: patch.labels } : {}), ...(patch.annotations ? { annotations: patch.annotations } : {}) };
    await this.call('patchPodMetadata', `pods ${namespace}/${name} (uid ${patch.uid})`, () =>
      this.core.patchNamespacedPod({ namespace, name, body: { metadata } }, callOptions(signal, PatchStrategy.MergePatch)),
    );
  }

  async cordonNode(name: string, signal?: AbortSignal): Promise<void> {
    await this.call('cordonNode', `nodes ${name}`, () => this.core.patchNode({ name, body: { spec: { unschedulable: true } } }, callOptions(signal, PatchStrategy.MergePatch)));
  }

  async createNetworkPolicy(body: NetworkPolicyBody, signal?: AbortSignal): Promise<'created' | 'exists'> {
    try {
      return await this.call('createNetworkPolicy', `networkpolicies ${body.namespace}/${body.name}`, async () => {
        await this.networking.createNamespacedNetworkPolicy(
          {
            namespace: body.namespace,
            body: {
              apiVersion: 'networking.k8s.io/v1',
              kind: 'NetworkPolicy',
              metadata: { name: body.name, namespace: body.namespace, labels: body.labels },
              // Both directions listed with no rules: deny all traffic to and from the selected pod.
              spec: { podSelector: { matchLabels: body.podSelector }, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] },
            },
          },
          callOptions(signal),
        );
        return 'created' as const;
      });
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 409 && err.statusReason === 'AlreadyExists') return 'exists';
      throw err;
    }
  }

  async readNetworkPolicy(namespace: string, name: string, signal?: AbortSignal): Promise<NetworkPolicyView | null> {
    try {
      return await this.call('readNetworkPolicy', `networkpolicies ${namespace}/${name}`, async () => {
        const np = await this.networking.readNamespacedNetworkPolicy({ namespace, name }, callOptions(signal));
        return {
          name: np.metadata?.name ?? name,
          namespace: np.metadata?.namespace ?? namespace,
          uid: np.metadata?.uid ?? '',
          labels: { ...(np.metadata?.labels ?? {}) },
          podSelector: { ...(np.spec?.podSelector?.matchLabels ?? {}) },
        };
      });
    } catch (err) {
      if (statusCodeOf(err) === 404) return null;
      throw err;
    }
  }

  async deleteNetworkPolicy(namespace: string, name: string, options: { uid: string }, signal?: AbortSignal): Promise<'deleted' | 'not-found'> {
    try {
      return await this.call('deleteNetworkPolicy', `networkpolicies ${namespace}/${name} (uid ${options.uid})`, async () => {
        await this.networking.deleteNamespacedNetworkPolicy({ namespace, name, body: { preconditions: { uid: options.uid } } }, callOptions(signal));
        return 'deleted' as const;
      });
    } catch (err) {
      if (statusCodeOf(err) === 404) return 'not-found';
      throw err;
    }
  }

  async removePodMetadata(namespace: string, name: string, patch: { uid: string; labels?: readonly string[]; annotations?: readonly string[] }, signal?: AbortSignal): Promise<void> {
    // null deletes a key in a JSON merge patch; metadata.uid makes the patch fail (422) on a replacement pod.
    const nulls = (keys: readonly string[] | undefined): Record<string, null> | undefined => (keys && keys.length > 0 ? Object.fromEntries(keys.map((k) => [k, null])) : undefined);
    const labels = nulls(patch.labels);
    const annotations = nulls(patch.annotations);
    const metadata = { uid: patch.uid, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) };
    await this.call('removePodMetadata', `pods ${namespace}/${name} (uid ${patch.uid})`, () =>
      this.core.patchNamespacedPod({ namespace, name, body: { metadata } }, callOptions(signal, PatchStrategy.MergePatch)),
    );
  }

  async uncordonNode(name: string, signal?: AbortSignal): Promise<void> {
    await this.call('uncordonNode', `nodes ${name}`, () => this.core.patchNode({ name, body: { spec: { unschedulable: false } } }, callOptions(signal, PatchStrategy.MergePatch)));
  }

  exec(request: ExecRequest): Promise<ExecResult> {
    const { namespace, pod, container, command } = request;
    const target = `pods/exec ${namespace}/${pod} -c ${container} -- ${command[0] ?? ''}`;
    return this.call('exec', target, () => this.runExec(request));
  }

  private runExec(request: ExecRequest): Promise<ExecResult> {
    const { namespace, pod, container, command } = request;
    const socket = new ExecSocket(this.kc);
    const sink = new StdoutSink(request.stdout, socket);
    const stderr = new BoundedText(EXEC_STDERR_LIMIT);
    let status: V1Status | undefined;
    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const fail = (err: unknown): void => {
        socket.terminate();
        settle(() => reject(err));
      };
      const timer = setTimeout(() => fail(new TimeoutError(`exec ${command[0] ?? ''} in ${namespace}/${pod}/${container}`, request.timeoutMs)), request.timeoutMs);
      const onAbort = (): void => fail(request.signal?.reason ?? new Error('exec aborted'));
      if (request.signal?.aborted) {
        onAbort();
        return;
      }
      request.signal?.addEventListener('abort', onAbort, { once: true });
      sink.on('error', fail);

      const onClose = async (): Promise<void> => {
        try {
          if (!status) {
            // Closed without a status: the stream was cut (API server restart, dropped connection).
            sink.end();
            await waitFinished(sink);
            settle(() => resolve({ exitCode: null, status: 'Unknown', message: 'the exec stream closed without an exit status', stderr: stderr.text }));
            return;
          }
          // client-node ended the sink when the status came: wait until every byte reached the caller.
          await waitFinished(sink);
          const s = status;
          const result: ExecResult = { exitCode: exitCodeOf(s), status: s.status === 'Success' ? 'Success' : 'Failure', stderr: stderr.text };
          if (s.reason) result.reason = s.reason;
          if (s.message) result.message = s.message;
          settle(() => resolve(result));
        } catch (err) {
          fail(err);
        }
      };

      new Exec(this.kc, socket)
        .exec(namespace, pod, container, request.command, sink, stderr, null, false, (s) => {
          status = s;
        })
        .then(
          (ws) => {
            if (settled) {
              ws.terminate();
              return;
            }
            ws.on('close', () => void onClose());
          },
          (err: unknown) => fail(err instanceof ExecUpgradeError ? err : err instanceof Error ? err : new Error(describeWsError(err))),
        );
    });
  }

  /**
   * Adds the collector and waits (bounded) until the kubelet reports it running. A watch of
   * the pod, opened by prepareDebugContainer beside the pod read (spec.prepared) or else just
   * before the PATCH, makes "running" arrive as an event: no read after the PATCH, no poll
   * interval after the kubelet reports it. A watch accepted but silent (a proxy buffering the
   * chunked answer, a stalled watch cache) would otherwise hold the wait to its deadline: a slow read of the
   * pod beside it (the first `besideWatch` after the PATCH, then every `besideWatch`) bounds
   * that to about one interval, and whichever of the two sees running/terminated first wins.
   * A watch that cannot be opened or breaks (403 from an RBAC without `watch`, 410 for a
   * version past the server's window, a dropped stream, an ERROR event) leaves the wait to
   * the bounded poll of before, said once in the log. The watch and the slow read are
   * stopped in every outcome, a failed PATCH (thrown as before) included.
   */
  async addDebugContainer(spec: DebugContainerSpec, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + spec.timeoutMs;
    const seen: { last: string } = { last: 'no status yet' };
    const watch = this.watchDebugContainer(spec, deadline, seen, signal);
    const beside = new AbortController();
    try {
      const patched = this.patchDebugContainer(spec, signal);
      // The spares' handshakes start once the PATCH is on its way (setImmediate: after the
      // request's promise chain), so they overlap its round trip rather than delay it.
      const generation = this.spareGeneration;
      setImmediate(() => this.openExecSpares(generation));
      await patched;
      const read = this.readBesideWatch(spec, deadline, seen, signal ? AbortSignal.any([beside.signal, signal]) : beside.signal);
      // Gives up as early as the poll would (its last read could come `max` before the
      // deadline), so the TimeoutError naming the last state reaches the caller before the
      // caller's own deadline (the same instant) replaces it with a bare "did not finish".
      const r = await untilDeadline(firstDecision(watch.result, read), deadline - this.pollMs().max, signal);
      if (r === 'deadline') throw debugTimeout(spec, seen.last);
      if (r.kind === 'decided') {
        if (r.value.state === 'running') return;
        throw debugTerminated(spec, r.value.reason);
      }
      this.watchFallback(`watching pod ${spec.namespace}/${spec.pod} for the debug container ${spec.name} ended before it ran (${r.reason}): reading the pod instead`, {
        operation: 'addDebugContainer',
        namespace: spec.namespace,
        pod: spec.pod,
        container: spec.name,
      });
    } catch (err) {
      this.closeExecSpares(); // no exec follows a collector that did not start
      throw err;
    } finally {
      beside.abort();
      await watch.close();
    }
    try {
      await this.pollDebugContainer(spec, deadline, signal);
    } catch (err) {
      this.closeExecSpares();
      throw err;
    }
  }

  /**
   * Opens the exec spares (exec-spares.ts) while the PATCH and the wait for the debug container
   * run: the collector's first exec round follows its "running" event at once. Only this
   * method opens them, and only the trusted collector calls it, after SCC confirmed the
   * finding. Best effort: a failure here leaves the execs to connect as before.
   */
  private openExecSpares(generation: number): void {
    const count = this.options.execSpares ?? EXEC_SPARES;
    if (count <= 0 || generation !== this.spareGeneration) return;
    const idle = this.options.execSpareIdleMs;
    execConnectOptions(this.kc, '/').then(
      ({ target }) => {
        // Closed meanwhile (the PATCH failed at once): open nothing.
        if (target !== undefined && generation === this.spareGeneration) execSpares(this.kc, idle === undefined ? {} : { idleMs: idle })?.fill(target, count);
      },
      () => undefined,
    );
  }

  /** Workloads.collectorDone: the collector's execs are over, its unused spares go. */
  collectorDone(): void {
    this.closeExecSpares();
  }

  /** Closes the unused exec spares (they also close themselves after their idle limit). */
  closeExecSpares(): void {
    this.spareGeneration++;
    execSpares(this.kc)?.close();
  }

  /**
   * Workloads.prepareDebugContainer: addDebugContainer's watch, opened now, from the pod's
   * current state (no resourceVersion: the server sends that state as ADDED first, then every
   * change after it, so nothing the PATCH causes can be missed whenever the PATCH lands). Sent
   * beside the pod read, the watch's request, and the connection it needs (watches have an
   * Agent of their own, see reuseConnections), travel while that read's round trip runs
   * rather than after the PATCH's request, on the critical path.
   */
  prepareDebugContainer(target: { namespace: string; pod: string; timeoutMs: number }, signal?: AbortSignal): PreparedDebugContainer {
    const watch = this.openDebugWatch({ namespace: target.namespace, name: target.pod, timeoutSeconds: target.timeoutMs / 1000 }, signal);
    const handle: PreparedDebugContainer = { close: () => void watch.close() };
    this.preparedWatches.set(handle, { namespace: target.namespace, pod: target.pod, watch, taken: false });
    return handle;
  }

  private openDebugWatch(target: PodWatchTarget, signal?: AbortSignal): EarlyPodWatch {
    return earlyPodWatch((s) => this.call('watchPod', `pods ${target.namespace}/${target.name} (watch)`, () => openPodWatch(this.kc, target, s, (shared) => watchDispatcher(this.kc, shared))), signal);
  }

  /** The prepared watch of this pod (once), else a new one from the read version. */
  private watchDebugContainer(spec: DebugContainerSpec, deadline: number, seen: { last: string }, signal?: AbortSignal): PodWatch<DebugDecision> {
    const prepared = spec.prepared && this.preparedWatches.get(spec.prepared);
    const ours = prepared && !prepared.taken && prepared.namespace === spec.namespace && prepared.pod === spec.pod ? prepared : undefined;
    if (ours) ours.taken = true;
    const target: PodWatchTarget = { namespace: spec.namespace, name: spec.pod, timeoutSeconds: (deadline - Date.now()) / 1000, ...(spec.resourceVersion === undefined ? {} : { resourceVersion: spec.resourceVersion }) };
    const watch = ours?.watch ?? this.openDebugWatch(target, signal);
    return watch.decideWith((pod) => {
      const st = ephemeralState(pod, spec.name);
      if (st.state === 'running' || st.state === 'terminated') return { state: st.state, ...(st.reason === undefined ? {} : { reason: st.reason }) };
      seen.last = lastState(st);
      return undefined;
    });
  }

  /**
   * The slow read beside an open watch: the collector's state once the watch has said
   * nothing for `besideWatch` ms, then every `besideWatch` ms. Undefined when stopped (the
   * signal, or no room left before the deadline). A failed read is not the wait's failure:
   * the watch, the next read or the deadline decides (a gone pod ends the watch, whose
   * fallback poll reports it).
   */
  private async readBesideWatch(spec: DebugContainerSpec, deadline: number, seen: { last: string }, signal: AbortSignal): Promise<DebugDecision | undefined> {
    const every = this.pollMs().besideWatch ?? 1000;
    while (Date.now() + every <= deadline) {
      try {
        await sleep(every, signal);
        const pod = await this.call('readPod', `pods ${spec.namespace}/${spec.pod}`, () =>
          this.core.readNamespacedPod({ namespace: spec.namespace, name: spec.pod }, callOptions(signal)),
        );
        const st = ephemeralState(pod, spec.name);
        if (st.state === 'running' || st.state === 'terminated') return { state: st.state, ...(st.reason === undefined ? {} : { reason: st.reason }) };
        seen.last = lastState(st);
      } catch {
        if (signal.aborted) return undefined;
      }
    }
    return undefined;
  }

  private pollMs(): { first: number; max: number; besideWatch?: number } {
    return this.options.debugPollMs ?? { first: 100, max: 250 };
  }

  private watchFallback(reason: string, context: WatchFallbackContext): void {
    if (this.options.onWatchFallback) this.options.onWatchFallback(reason, context);
    else process.stderr.write(watchFallbackLine(reason, context));
  }

  private async patchDebugContainer(spec: DebugContainerSpec, signal?: AbortSignal): Promise<void> {
    const target = `pods/ephemeralcontainers ${spec.namespace}/${spec.pod} (${spec.name})`;
    await this.call('addDebugContainer', target, () =>
      this.core.patchNamespacedPodEphemeralcontainers(
        {
          namespace: spec.namespace,
          name: spec.pod,
          body: {
            spec: {
              ephemeralContainers: [
                {
                  name: spec.name,
                  image: spec.image,
                  command: spec.command,
                  targetContainerName: spec.targetContainer,
                  imagePullPolicy: 'IfNotPresent',
                  stdin: false,
                  tty: false,
                  securityContext: debugSecurityContext(spec),
                },
              ],
            },
          },
        },
        callOptions(signal, PatchStrategy.StrategicMergePatch, this.critical),
      ),
    );
  }

  /**
   * The wait without a watch: the first read follows at once; then every 100 ms, 200 ms, then
   * 250 ms: the kubelet starts the container from a cached image in about a second, and a 1 s
   * cap could add up to a second of attacker time after it runs, for at most 4 reads of one
   * pod a second.
   */
  private async pollDebugContainer(spec: DebugContainerSpec, deadline: number, signal?: AbortSignal): Promise<void> {
    const poll = this.pollMs();
    let wait = poll.first;
    for (;;) {
      const pod = await this.call('readPod', `pods ${spec.namespace}/${spec.pod}`, () =>
        this.core.readNamespacedPod({ namespace: spec.namespace, name: spec.pod }, callOptions(signal)),
      );
      const st = ephemeralState(pod, spec.name);
      if (st.state === 'running') return;
      if (st.state === 'terminated') throw debugTerminated(spec, st.reason);
      if (Date.now() + wait > deadline) throw debugTimeout(spec, lastState(st));
      await sleep(wait, signal);
      wait = Math.min(poll.max, wait * 2);
    }
  }
}

/** What ends the wait for a debug container: it runs, or it stopped before it could be used. */
interface DebugDecision {
  state: 'running' | 'terminated';
  reason?: string;
}

/**
 * The watch's result, or the slow read's decision when it comes first. The read ending
 * without one (stopped, out of time) leaves it to the watch (or the caller's deadline).
 */
function firstDecision(watch: Promise<PodWatchResult<DebugDecision>>, read: Promise<DebugDecision | undefined>): Promise<PodWatchResult<DebugDecision>> {
  return new Promise((resolve) => {
    void watch.then(resolve);
    void read.then((value) => {
      if (value !== undefined) resolve({ kind: 'decided', value });
    });
  });
}

function lastState(st: { state: string; reason?: string }): string {
  return st.state === 'waiting' ? `waiting: ${st.reason ?? 'no reason'}` : 'no status yet';
}

function debugTerminated(spec: DebugContainerSpec, reason: string | undefined): ResponderError {
  return new ResponderError(`debug container ${spec.name} terminated before it could be used (${reason ?? 'no reason'})`, 'permanent');
}

function debugTimeout(spec: DebugContainerSpec, last: string): TimeoutError {
  return new TimeoutError(`debug container ${spec.name} in ${spec.namespace}/${spec.pod} did not start (last state ${last});`, spec.timeoutMs);
}

/** The promise's value, or 'deadline' once the deadline passes first; rejects when the signal aborts first. */
function untilDeadline<T>(p: Promise<T>, deadline: number, signal?: AbortSignal): Promise<T | 'deadline'> {
  return new Promise<T | 'deadline'>((resolve, reject) => {
    const onAbort = (): void => finish(() => reject(signal?.reason));
    const timer = setTimeout(() => finish(() => resolve('deadline')), Math.max(0, deadline - Date.now()));
    const finish = (fn: () => void): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    p.then((v) => finish(() => resolve(v)), (err: unknown) => finish(() => reject(err)));
  });
}

/**
 * The collector's securityContext: no privilege beyond reading another process of the same
 * uid (the ptrace rule), which passes Pod Security "restricted" when that uid is not root.
 * CAP_SYS_PTRACE only when asked (Pod Security "baseline" refuses it).
 */
function debugSecurityContext(spec: DebugContainerSpec): V1SecurityContext {
  const nonRoot = spec.runAsUser !== undefined && spec.runAsUser !== 0;
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'], ...(spec.ptrace ? { add: ['SYS_PTRACE'] } : {}) },
    seccompProfile: { type: 'RuntimeDefault' },
    ...(spec.runAsUser === undefined ? {} : { runAsUser: spec.runAsUser }),
    ...(nonRoot ? { runAsNonRoot: true } : {}),
  };
}

/** ws errors may arrive as ErrorEvent-like objects (not Errors). */
function describeWsError(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}

/** Workloads for the current (or given) context of a kubeconfig. */
export function workloadsFromKubeConfig(kc: KubeConfig, options?: ClientNodeWorkloadsOptions): ClientNodeWorkloads {
  return new ClientNodeWorkloads(kc, options);
}

export interface EndpointAccess {
  /** `https://host[:port]`, or a bare GKE endpoint (IP or host), which gets `https://`. */
  server: string;
  /** Base64 PEM of the cluster CA (GKE `masterAuth.clusterCaCertificate`). */
  caData?: string;
  /** Bearer token (a Google access token for GKE). */
  token: string;
}

export function kubeConfigForEndpoint(access: EndpointAccess): KubeConfig {
  const server = /^https?:\/\//.test(access.server) ? access.server : `https://${access.server}`;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'cluster', server, ...(access.caData ? { caData: access.caData } : {}), skipTLSVerify: server.startsWith('http://') }],
    users: [{ name: 'responder', token: access.token }],
    contexts: [{ name: 'responder', cluster: 'cluster', user: 'responder' }],
    currentContext: 'responder',
  });
  return kc;
}

/** Workloads for a cluster reached by endpoint + CA + bearer token (GKE). */
export function workloadsFromEndpoint(access: EndpointAccess, options?: ClientNodeWorkloadsOptions): ClientNodeWorkloads {
  return new ClientNodeWorkloads(kubeConfigForEndpoint(access), options);
}
