// A fake Kubernetes API server speaking the real REST + WebSocket protocols over HTTPS with
// a self-signed CA and a bearer token, so @kubernetes/client-node runs unmodified against it.
// Contract: /tmp/team/FAKE-KUBE.md (copied in the types of ./types.ts). Every route passes
// through a FaultPlan first (key `${METHOD} ${path}`), then serves from in-memory state.
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import { FaultPlan, sleep } from '../faults.js';
import { discovery } from './discovery.js';
import { patchEphemeralContainers, PatchError } from './ephemeral.js';
import { createExecHandler } from './exec.js';
import { initProcesses } from './proc.js';
import { apiTime, eventJson, faultMessage, nodeJson, OWNER_RESOURCES, ownerJson, podJson, statusBody } from './objects.js';
import { fakeTls } from './tls.js';
import type {
  FakeEphemeralContainer,
  FakeEventSpec,
  FakeKube,
  FakeNodeSpec,
  FakeOwnerKind,
  FakeOwnerObject,
  FakePodSpec,
  FakeRequest,
  FakeWrite,
  StartFakeKubeOptions,
} from './types.js';

type Json = Record<string, unknown>;

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rv: number;
  pod: FakePodSpec;
  object: Json;
}

class HttpError extends Error {
  constructor(readonly code: number, message: string, readonly reason?: string, readonly details?: Json) {
    super(message);
  }
}

const MAX_BODY = 4 * 1024 * 1024;
const PATCH_TYPES = new Set(['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json']);

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'request entity too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Label selector subset: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated (AND). */
export function matchesLabelSelector(labels: Record<string, string>, selector: string): boolean {
  if (!selector.trim()) return true;
  return selector.split(',').every((raw) => {
    const term = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([^!=\s]+)\s*!=\s*(.*)$/.exec(term))) return labels[m[1] ?? ''] !== m[2];
    if ((m = /^([^!=\s]+)\s*==?\s*(.*)$/.exec(term))) return labels[m[1] ?? ''] === m[2];
    if (term.startsWith('!')) return !(term.slice(1) in labels);
    return term in labels;
  });
}

/** List items carry no apiVersion/kind on the wire (the list's own do). */
function listItem(obj: Json): Json {
  const { apiVersion: _v, kind: _k, ...rest } = obj;
  return rest;
}

function fieldSelector(selector: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const term of selector.split(',')) {
    const m = /^([^=!]+)==?(.*)$/.exec(term.trim());
    if (m) out[m[1] ?? ''] = m[2] ?? '';
  }
  return out;
}

function applyMapPatch(target: Record<string, string>, patch: unknown): void {
  if (typeof patch !== 'object' || patch === null) return;
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete target[k];
    else target[k] = String(v);
  }
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

interface JsonPatchOp {
  op: string;
  path: string;
  value?: unknown;
}

function asOps(body: unknown): JsonPatchOp[] {
  if (!Array.isArray(body)) throw new HttpError(400, 'json patch body must be an array of operations');
  return body as JsonPatchOp[];
}

/** Applies metadata label/annotation changes from any of the three patch flavours. */
function patchMetadata(contentType: string, body: unknown, meta: { labels: Record<string, string>; annotations: Record<string, string> }): void {
  if (contentType === 'application/json-patch+json') {
    for (const op of asOps(body)) {
      const m = /^\/metadata\/(labels|annotations)(?:\/(.+))?$/.exec(op.path);
      if (!m) continue;
      const map = m[1] === 'labels' ? meta.labels : meta.annotations;
      if (m[2] === undefined) {
        if (op.op === 'add' || op.op === 'replace') {
          for (const k of Object.keys(map)) delete map[k];
          applyMapPatch(map, op.value);
        }
        continue;
      }
      const key = unescapePointer(m[2]);
      if (op.op === 'remove') delete map[key];
      else if (op.op === 'add' || op.op === 'replace') map[key] = String(op.value);
    }
    return;
  }
  const metadata = (body as { metadata?: { labels?: unknown; annotations?: unknown } } | null)?.metadata;
  applyMapPatch(meta.labels, metadata?.labels);
  applyMapPatch(meta.annotations, metadata?.annotations);
}

/**
 * What the real API server does with a UID in a pod PATCH: metadata.uid in a merge or
 * strategic patch must equal the object's (it is immutable: 422 Invalid otherwise, the answer
 * Kubernetes' controller_ref_manager.go relies on), and a JSON patch `test` op on
 * /metadata/uid that fails is a 422 as well.
 */
function checkPatchUid(contentType: string, body: unknown, kind: string, name: string, uid: string | undefined): void {
  if (contentType === 'application/json-patch+json') {
    for (const op of asOps(body)) {
      if (op.op === 'test' && op.path === '/metadata/uid' && op.value !== uid) throw new HttpError(422, 'testing value /metadata/uid failed: test failed', 'Invalid');
    }
    return;
  }
  const want = (body as { metadata?: { uid?: unknown } } | null)?.metadata?.uid;
  if (want !== undefined && want !== uid) {
    throw new HttpError(422, `${kind} "${name}" is invalid: metadata.uid: Invalid value: ${JSON.stringify(want)}: field is immutable`, 'Invalid', { name, kind });
  }
}

export async function startFakeKube(options: StartFakeKubeOptions = {}): Promise<FakeKube> {
  const useTls = options.tls !== false;
  const token = options.token ?? randomBytes(16).toString('hex');
  const faults = new FaultPlan();
  const writes: FakeWrite[] = [];
  const requests: FakeRequest[] = [];
  const pods = new Map<string, FakePodSpec>();
  const nodes = new Map<string, FakeNodeSpec>();
  const owners = new Map<string, FakeOwnerObject>(); // `${kind}/${ns}/${name}`
  const events: FakeEventSpec[] = [];
  const networkPolicies = new Map<string, unknown>();
  const timers = new Set<NodeJS.Timeout>();
  let seq = 0;
  const openSockets = new Set<{ destroy(): void }>();
  const pendingStart = new Set<FakeEphemeralContainer>();
  let rv = 1000;
  const nextRv = (): string => String(++rv);
  const tls = useTls ? await fakeTls() : undefined;

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const fake: FakeKube = {
    url: '',
    caData: tls ? Buffer.from(tls.caPem).toString('base64') : '',
    token,
    faults,
    writes,
    requests,
    replaceAfterMs: 50,
    graceMsPerSecond: 1,
    ephemeralStartMs: 20,
    ephemeralStart: 'next-read',
    podSecurity: new Map(),
    execProtocol: 'v5.channel.k8s.io',
    execNotFound: 'containerd',
    execProtocols: [],
    connectionLog: [],
    dropUpgradeOn: new Set<number>(),
    mark: () => ++seq,
    openConnections: () => [],
    dropIdleConnections: () => 0,
    networkPolicies,
    addPod(spec) {
      spec.uid ??= randomUUID();
      spec.creationTimestamp ??= new Date().toISOString();
      spec.resourceVersion = nextRv();
      initProcesses(spec);
      pods.set(`${spec.namespace}/${spec.name}`, spec);
      podChanged('ADDED', spec);
    },
    pod: (ns, name) => pods.get(`${ns}/${name}`),
    startEphemeral(ns, name, container) {
      const pod = pods.get(`${ns}/${name}`);
      const e = pod?.ephemeralContainers?.find((x) => x.name === container);
      if (!pod || !e) throw new Error(`fake-kube: no ephemeral container ${container} in ${ns}/${name}`);
      pendingStart.delete(e);
      startEphemeral(pod, e);
    },
    pods: (ns) => [...pods.values()].filter((p) => p.namespace === ns),
    openWatches: () => openWatches.size,
    compactWatchHistory() {
      watchHistoryFrom = rv;
      podLog.length = 0;
    },
    addNode(node) {
      node.uid ??= randomUUID();
      nodes.set(node.name, node);
    },
    node: (name) => nodes.get(name),
    addObject(kind, obj) {
      obj.uid ??= randomUUID();
      owners.set(`${kind}/${obj.namespace}/${obj.name}`, obj);
    },
    addEvent(ev) {
      events.push(ev);
    },
    kubeconfigYaml() {
      const clusterLines = useTls ? `    certificate-authority-data: ${fake.caData}` : '    insecure-skip-tls-verify: true';
      return [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: fake',
        '  cluster:',
        `    server: ${fake.url}`,
        clusterLines,
        'users:',
        '- name: fake',
        '  user:',
        `    token: ${token}`,
        'contexts:',
        '- name: fake',
        '  context:',
        '    cluster: fake',
        '    user: fake',
        '    namespace: default',
        'current-context: fake',
        '',
      ].join('\n');
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of openSockets) s.destroy();
      openSockets.clear();
      exec.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const track = (s: { destroy(): void }): (() => void) => {
    openSockets.add(s);
    return () => openSockets.delete(s);
  };

  // ------------------------------------------------------------------ watch

  /** Every change to a pod, in resourceVersion order, for watches that start from a version. */
  const podLog: WatchEvent[] = [];
  const watchers = new Set<(e: WatchEvent) => void>();
  const openWatches = new Set<http.ServerResponse>();
  /** The oldest version a watch may start from (etcd compaction / the watch cache's window). */
  let watchHistoryFrom = 0;

  function podChanged(type: WatchEvent['type'], pod: FakePodSpec): void {
    const e: WatchEvent = { type, rv: Number(pod.resourceVersion), pod, object: podJson(pod) };
    podLog.push(e);
    for (const w of watchers) w(e);
  }

  /**
   * GET .../pods?watch=true: a chunked stream of `{"type","object"}` lines, as the API server
   * sends them. From `resourceVersion` (newer changes replayed first), or from the current
   * state as ADDED events when none is given (or "0"); a version older than the kept history
   * (compactWatchHistory) gets 200 and one ERROR event with a 410 Expired Status, as the
   * watch cache answers; ends after `timeoutSeconds`. `cut` (a FaultPlan drop) destroys the
   * connection after that many bytes of events (`afterBytes`, a line may be cut), or after the
   * first whole event.
   */
  function streamWatch(ns: string, query: URLSearchParams, res: http.ServerResponse, cut?: { afterBytes?: number }): void {
    // The client went away while the request waited (its injected latency): nothing to stream to.
    if (res.destroyed || res.socket === null || res.socket.destroyed) return;
    const labelSel = query.get('labelSelector') ?? '';
    const fields = fieldSelector(query.get('fieldSelector') ?? '');
    const matches = (p: FakePodSpec): boolean =>
      p.namespace === ns && matchesLabelSelector(p.labels ?? {}, labelSel) && (fields['metadata.name'] === undefined || p.name === fields['metadata.name']);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    // The API server answers a watch at once: a client waiting for the headers cannot stop it
    // (client-go blocks in Watch() until they arrive), so unsent headers would hang kubectl.
    res.flushHeaders();
    let budget = cut?.afterBytes ?? Number.POSITIVE_INFINITY;
    let cutting = false;
    const drop = (): void => {
      cutting = true;
      const socket = res.socket; // the bytes written go out first, then the connection is cut
      setImmediate(() => socket?.destroy());
    };
    const write = (e: { type: string; object: Json }, pod?: FakePodSpec): void => {
      if (res.destroyed || cutting) return;
      const line = `${JSON.stringify({ type: e.type, object: e.object })}\n`;
      if (Buffer.byteLength(line) > budget) {
        res.write(Buffer.from(line).subarray(0, Math.max(0, budget)));
        drop();
        return;
      }
      budget -= Buffer.byteLength(line);
      res.write(line);
      if (cut && cut.afterBytes === undefined) drop();
      // 'next-read': a watch sending the pod is a read of it; its waiting containers start next.
      if (pod && fake.ephemeralStart === 'next-read' && pod.ephemeralContainers?.some((x) => pendingStart.has(x))) {
        later(0, () => {
          if (pods.get(`${pod.namespace}/${pod.name}`) === pod) readPod(pod);
        });
      }
    };
    const from = query.get('resourceVersion');
    if (from === null || from === '' || from === '0') {
      for (const p of pods.values()) if (matches(p)) write({ type: 'ADDED', object: podJson(p) }, p);
    } else if (Number(from) < watchHistoryFrom) {
      write({ type: 'ERROR', object: statusBody(410, `too old resource version: ${from} (${watchHistoryFrom})`, 'Expired') });
      res.end();
      return;
    } else {
      for (const e of podLog) if (e.rv > Number(from) && matches(e.pod)) write(e, e.pod);
    }
    const listener = (e: WatchEvent): void => {
      if (matches(e.pod)) write(e, e.pod);
    };
    watchers.add(listener);
    const untrack = track(res.socket ?? { destroy: () => undefined });
    const timeout = Number(query.get('timeoutSeconds') ?? '1800');
    const ends = setTimeout(() => res.end(), timeout * 1000);
    timers.add(ends);
    openWatches.add(res);
    res.on('close', () => {
      clearTimeout(ends);
      timers.delete(ends);
      openWatches.delete(res);
      watchers.delete(listener);
      untrack();
    });
  }

  /**
   * A watch answered 200 that never sends an event (a FaultPlan `stall`): what a client sees
   * behind a proxy that buffers chunked answers, or from a stalled watch cache. Open (and
   * counted by openWatches) until the client closes it or the fake closes.
   */
  function stallWatch(res: http.ServerResponse): void {
    if (res.destroyed || res.socket === null || res.socket.destroyed) return;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const untrack = track(res.socket);
    openWatches.add(res);
    res.on('close', () => {
      openWatches.delete(res);
      untrack();
    });
  }

  // ------------------------------------------------------------------ kubelet

  /** The kubelet starts an ephemeral container (or reports why it cannot). */
  function startEphemeral(pod: FakePodSpec, e: FakeEphemeralContainer): void {
    if (e.running || e.terminated) return;
    if (fake.ephemeralStartFails) e.waitingReason = fake.ephemeralStartFails;
    else if (fake.ephemeralStartExits) {
      e.terminated = { ...fake.ephemeralStartExits };
      e.startedAt = new Date().toISOString();
      delete e.waitingReason;
    } else {
      e.running = true;
      e.startedAt = new Date().toISOString();
      delete e.waitingReason;
    }
    pod.resourceVersion = nextRv();
    podChanged('MODIFIED', pod);
  }

  // ------------------------------------------------------------------ controllers

  function replacementName(pod: FakePodSpec, ownerKind: string, ownerName: string): string {
    if (ownerKind === 'StatefulSet') return pod.name;
    return `${ownerName}-${randomBytes(3).toString('hex').slice(0, 5)}`;
  }

  /**
   * The Job controller counts a pod deleted before it finished as failed (pod-failure
   * tracking) and replaces it while the failures stay within backoffLimit (default 6);
   * past it the Job has failed and nothing replaces the pod.
   */
  function jobReplaces(pod: FakePodSpec, jobName: string): boolean {
    if (pod.phase === 'Succeeded' || pod.phase === 'Failed') return false;
    const job = owners.get(`Job/${pod.namespace}/${jobName}`);
    if (!job) return false; // the Job itself is gone: its controller has nothing to reconcile
    job.failed = (job.failed ?? 0) + 1;
    return job.failed <= (job.backoffLimit ?? 6);
  }

  function scheduleReplacement(pod: FakePodSpec): void {
    const owner = pod.ownerReferences?.find((o) => o.controller !== false && ['ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job'].includes(o.kind));
    if (!owner) return;
    if (owner.kind === 'Job' && !jobReplaces(pod, owner.name)) return;
    later(fake.replaceAfterMs, () => {
      const name = replacementName(pod, owner.kind, owner.name);
      fake.addPod({
        namespace: pod.namespace,
        name,
        ...(pod.nodeName ? { nodeName: pod.nodeName } : {}),
        labels: { ...(pod.labels ?? {}) },
        annotations: { ...(pod.annotations ?? {}) },
        ownerReferences: pod.ownerReferences?.map((o) => ({ ...o })) ?? [],
        containers: pod.containers.map((c) => ({ ...c, restartCount: 0 })),
        ...(pod.serviceAccountName ? { serviceAccountName: pod.serviceAccountName } : {}),
        phase: 'Running',
      });
    });
  }

  function removePod(pod: FakePodSpec): void {
    const key = `${pod.namespace}/${pod.name}`;
    if (pods.get(key) !== pod) return;
    pods.delete(key);
    podChanged('DELETED', { ...pod, resourceVersion: nextRv() });
    // A StatefulSet recreates the same name only once the old pod is gone.
    if (pod.ownerReferences?.some((o) => o.kind === 'StatefulSet')) scheduleReplacement(pod);
  }

  function deletePod(pod: FakePodSpec, grace: number, dryRun: boolean): Json {
    if (dryRun) return podJson(pod);
    const wasTerminating = pod.deletionTimestamp !== undefined;
    for (const c of pod.containers) {
      events.push({ namespace: pod.namespace, involvedObject: { kind: 'Pod', name: pod.name, uid: pod.uid ?? '' }, reason: 'Killing', message: `Stopping container ${c.name}`, lastTimestamp: new Date().toISOString() });
    }
    if (grace === 0) {
      const body = podJson({ ...pod, deletionTimestamp: new Date().toISOString(), deletionGracePeriodSeconds: 0 });
      removePod(pod);
      if (!wasTerminating && !pod.ownerReferences?.some((o) => o.kind === 'StatefulSet')) scheduleReplacement(pod);
      return body;
    }
    if (!wasTerminating) {
      pod.deletionTimestamp = new Date().toISOString();
      pod.deletionGracePeriodSeconds = grace;
      pod.resourceVersion = nextRv();
      podChanged('MODIFIED', pod);
      later(grace * fake.graceMsPerSecond, () => removePod(pod));
      // A ReplicaSet/DaemonSet replaces a terminating pod right away (it no longer counts).
      if (!pod.ownerReferences?.some((o) => o.kind === 'StatefulSet')) scheduleReplacement(pod);
    }
    return podJson(pod);
  }

  // ------------------------------------------------------------------ routes

  const notFound = (resource: string, name: string, group = ''): HttpError =>
    new HttpError(404, `${resource}${group ? `.${group}` : ''} "${name}" not found`, 'NotFound', { name, ...(group ? { group } : {}), kind: resource });

  /**
   * A read of the pod: in 'next-read' mode its ephemeral containers waiting since a PATCH start
   * now (the kubelet had the time between the two calls). Deterministic, unlike a timer. A
   * watch sending the pod counts as a read (streamWatch).
   */
  function readPod(pod: FakePodSpec): FakePodSpec {
    if (fake.ephemeralStart !== 'next-read') return pod;
    for (const e of pod.ephemeralContainers ?? []) {
      if (!pendingStart.has(e)) continue;
      pendingStart.delete(e);
      startEphemeral(pod, e);
    }
    return pod;
  }

  function podOr404(ns: string, name: string): FakePodSpec {
    const pod = pods.get(`${ns}/${name}`);
    if (!pod) throw notFound('pods', name);
    return pod;
  }

  async function route(method: string, path: string, query: URLSearchParams, req: http.IncomingMessage, write: FakeWrite | undefined): Promise<{ code: number; body: unknown }> {
    const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
    const rawBody = method === 'GET' ? Buffer.alloc(0) : await readBody(req);
    let body: unknown;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody.toString('utf8'));
      } catch {
        throw new HttpError(400, `the request body could not be decoded as JSON (${contentType})`);
      }
    }
    if (write) write.body = body;
    const s = (i: number): string => seg[i] ?? '';

    if (method === 'GET') {
      const doc = discovery(path, new URL(fake.url).host);
      if (doc) return { code: 200, body: doc };
    }

    // /api/v1/namespaces/NS/pods[/P[/ephemeralcontainers]]
    if (s(0) === 'api' && s(1) === 'v1' && s(2) === 'namespaces' && s(4) === 'pods') {
      const ns = s(3);
      if (seg.length === 5 && method === 'GET') {
        const labelSel = query.get('labelSelector') ?? '';
        const fields = fieldSelector(query.get('fieldSelector') ?? '');
        const items = [...pods.values()]
          .filter((p) => p.namespace === ns && matchesLabelSelector(p.labels ?? {}, labelSel))
          .filter((p) => (fields['metadata.name'] === undefined || p.name === fields['metadata.name']) && (fields['spec.nodeName'] === undefined || p.nodeName === fields['spec.nodeName']))
          .map((p) => listItem(podJson(readPod(p))));
        return { code: 200, body: { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: String(rv) }, items } };
      }
      if (seg.length === 6) {
        const name = s(5);
        if (method === 'GET') return { code: 200, body: podJson(readPod(podOr404(ns, name))) };
        if (method === 'DELETE') {
          const pod = podOr404(ns, name);
          const opts = (body ?? {}) as { preconditions?: { uid?: string; resourceVersion?: string }; gracePeriodSeconds?: number; dryRun?: string[] };
          const wantUid = opts.preconditions?.uid;
          if (wantUid !== undefined && wantUid !== pod.uid) {
            throw new HttpError(409, `Operation cannot be fulfilled on Pod "${name}": Precondition failed: UID in precondition: ${wantUid}, UID in object meta: ${pod.uid ?? ''}`, 'Conflict', { name, kind: 'Pod' });
          }
          const wantRv = opts.preconditions?.resourceVersion;
          if (wantRv !== undefined && wantRv !== pod.resourceVersion) {
            throw new HttpError(409, `Operation cannot be fulfilled on Pod "${name}": Precondition failed: ResourceVersion in precondition: ${wantRv}, ResourceVersion in object meta: ${pod.resourceVersion ?? ''}`, 'Conflict', { name, kind: 'Pod' });
          }
          const q = query.get('gracePeriodSeconds');
          const grace = q !== null ? Number(q) : (opts.gracePeriodSeconds ?? 30);
          const dryRun = query.get('dryRun') === 'All' || (opts.dryRun ?? []).includes('All');
          return { code: 200, body: deletePod(pod, grace, dryRun) };
        }
        if (method === 'PATCH') {
          if (!PATCH_TYPES.has(contentType)) throw new HttpError(415, `the body of the request was in an unknown format - accepted media types include: ${[...PATCH_TYPES].join(', ')}`);
          const pod = podOr404(ns, name);
          checkPatchUid(contentType, body, 'Pod', name, pod.uid);
          const meta = { labels: { ...(pod.labels ?? {}) }, annotations: { ...(pod.annotations ?? {}) } };
          patchMetadata(contentType, body, meta);
          pod.labels = meta.labels;
          pod.annotations = meta.annotations;
          pod.resourceVersion = nextRv();
          podChanged('MODIFIED', pod);
          return { code: 200, body: podJson(pod) };
        }
      }
      if (seg.length === 7 && s(6) === 'ephemeralcontainers' && (method === 'PATCH' || method === 'GET')) {
        const pod = podOr404(ns, s(5));
        if (method === 'GET') return { code: 200, body: podJson(readPod(pod)) };
        if (!PATCH_TYPES.has(contentType)) throw new HttpError(415, 'unsupported patch type');
        let created: FakeEphemeralContainer[];
        try {
          created = patchEphemeralContainers(pod, contentType, body, fake.podSecurity.get(ns) ?? 'privileged');
        } catch (err) {
          if (err instanceof PatchError) throw new HttpError(err.code, err.message, err.reason);
          throw err;
        }
        for (const e of created) {
          if (fake.ephemeralStart !== 'timer') pendingStart.add(e);
          else {
            later(fake.ephemeralStartMs, () => {
              if (pods.get(`${pod.namespace}/${pod.name}`) === pod) startEphemeral(pod, e);
            });
          }
        }
        pod.resourceVersion = nextRv();
        podChanged('MODIFIED', pod);
        return { code: 200, body: podJson(pod) };
      }
    }

    // /api/v1/namespaces/NS/events
    if (s(0) === 'api' && s(1) === 'v1' && s(2) === 'namespaces' && s(4) === 'events' && seg.length === 5 && method === 'GET') {
      const ns = s(3);
      const f = fieldSelector(query.get('fieldSelector') ?? '');
      const items = events
        .map((e, i) => ({ e, i }))
        .filter(({ e }) => e.namespace === ns)
        .filter(({ e }) => f['involvedObject.name'] === undefined || e.involvedObject.name === f['involvedObject.name'])
        .filter(({ e }) => f['involvedObject.kind'] === undefined || e.involvedObject.kind === f['involvedObject.kind'])
        .filter(({ e }) => f['involvedObject.uid'] === undefined || e.involvedObject.uid === f['involvedObject.uid'])
        .map(({ e, i }) => listItem(eventJson(e, i)));
      return { code: 200, body: { apiVersion: 'v1', kind: 'EventList', metadata: { resourceVersion: String(rv) }, items } };
    }

    // /api/v1/nodes/N
    if (s(0) === 'api' && s(1) === 'v1' && s(2) === 'nodes' && seg.length === 4) {
      const node = nodes.get(s(3));
      if (!node) throw notFound('nodes', s(3));
      if (method === 'GET') return { code: 200, body: nodeJson(node, String(rv)) };
      if (method === 'PATCH') {
        if (!PATCH_TYPES.has(contentType)) throw new HttpError(415, 'unsupported patch type');
        const meta = { labels: { ...(node.labels ?? {}) }, annotations: { ...(node.annotations ?? {}) } };
        patchMetadata(contentType, body, meta);
        node.labels = meta.labels;
        node.annotations = meta.annotations;
        if (contentType === 'application/json-patch+json') {
          for (const op of asOps(body)) {
            if (op.path === '/spec/unschedulable') node.unschedulable = op.op === 'remove' ? false : Boolean(op.value);
          }
        } else {
          const u = (body as { spec?: { unschedulable?: boolean | null } } | undefined)?.spec?.unschedulable;
          if (u !== undefined) node.unschedulable = u === true;
        }
        rv += 1;
        return { code: 200, body: nodeJson(node, String(rv)) };
      }
    }

    // /apis/(apps|batch)/v1/namespaces/NS/RESOURCE/NAME
    if (s(0) === 'apis' && s(2) === 'v1' && s(3) === 'namespaces' && seg.length === 7 && method === 'GET') {
      const entry = Object.entries(OWNER_RESOURCES).find(([, r]) => r.group === s(1) && r.resource === s(5));
      if (entry) {
        const kind = entry[0] as FakeOwnerKind;
        const obj = owners.get(`${kind}/${s(4)}/${s(6)}`);
        if (!obj) throw notFound(entry[1].resource, s(6), entry[1].group);
        return { code: 200, body: ownerJson(kind, obj) };
      }
    }

    // /apis/networking.k8s.io/v1/namespaces/NS/networkpolicies[/NAME]
    if (s(0) === 'apis' && s(1) === 'networking.k8s.io' && s(2) === 'v1' && s(3) === 'namespaces' && s(5) === 'networkpolicies') {
      const ns = s(4);
      if (seg.length === 6 && method === 'POST') {
        const np = (body ?? {}) as { metadata?: { name?: string; namespace?: string } };
        const name = np.metadata?.name;
        if (!name) throw new HttpError(422, 'NetworkPolicy.networking.k8s.io "" is invalid: metadata.name: Required value: name or generateName is required', 'Invalid');
        const key = `${ns}/${name}`;
        if (networkPolicies.has(key)) {
          throw new HttpError(409, `networkpolicies.networking.k8s.io "${name}" already exists`, 'AlreadyExists', { name, group: 'networking.k8s.io', kind: 'networkpolicies' });
        }
        const created = { ...np, apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { ...np.metadata, namespace: ns, uid: randomUUID(), resourceVersion: nextRv(), creationTimestamp: apiTime(Date.now()) } };
        networkPolicies.set(key, created);
        return { code: 201, body: created };
      }
      if (seg.length === 7 && method === 'GET') {
        const np = networkPolicies.get(`${ns}/${s(6)}`);
        if (!np) throw notFound('networkpolicies', s(6), 'networking.k8s.io');
        return { code: 200, body: np };
      }
      if (seg.length === 7 && method === 'DELETE') {
        const key = `${ns}/${s(6)}`;
        const np = networkPolicies.get(key) as { metadata?: { uid?: string } } | undefined;
        if (!np) throw notFound('networkpolicies', s(6), 'networking.k8s.io');
        const wantUid = (body as { preconditions?: { uid?: string } } | undefined)?.preconditions?.uid;
        if (wantUid !== undefined && wantUid !== np.metadata?.uid) {
          throw new HttpError(409, `Operation cannot be fulfilled on networkpolicies.networking.k8s.io "${s(6)}": Precondition failed: UID in precondition: ${wantUid}, UID in object meta: ${np.metadata?.uid ?? ''}`, 'Conflict', { name: s(6), group: 'networking.k8s.io', kind: 'networkpolicies' });
        }
        networkPolicies.delete(key);
        return { code: 200, body: { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name: s(6), group: 'networking.k8s.io', kind: 'networkpolicies', uid: np.metadata?.uid } } };
      }
    }
    throw new HttpError(404, 'the server could not find the requested resource', 'NotFound');
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const query = url.search.replace(/^\?/, '');
    requests.push({ method, path, query, at: Date.now() });
    const watchNs = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/?$/.exec(path)?.[1];
    const watching = method === 'GET' && watchNs !== undefined && ['true', '1'].includes(url.searchParams.get('watch') ?? '');
    // A watch has its own key (RBAC's verb), so a fault meant for the list is not taken by a watch.
    const key = `${watching ? 'WATCH' : method} ${path}`;
    const mutating = method === 'DELETE' || method === 'PATCH' || method === 'POST' || method === 'PUT';
    const write: FakeWrite | undefined = mutating ? { method, path, query, at: Date.now() } : undefined;
    if (write) writes.push(write);
    const call: { finished?: () => void } = {};
    const send = (code: number, body: unknown, headers: Record<string, string> = {}): void => {
      if (write) write.status = code;
      call.finished?.();
      const text = JSON.stringify(body);
      res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
      res.end(text);
    };
    if (req.headers.authorization !== `Bearer ${token}`) {
      send(401, statusBody(401, 'Unauthorized'));
      return;
    }
    const fault = faults.take(key);
    const done = faults.record(key, fault);
    // The call ends when its answer is sent (or the connection goes), whichever is first.
    let ended = false;
    const finished = (): void => {
      if (!ended) done();
      ended = true;
    };
    call.finished = finished;
    res.on('close', finished);
    if (faults.latencyMs > 0) await sleep(faults.latencyMs);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.release) await fault.release.catch(() => undefined);
    if (fault?.hang) {
      const untrack = track(res.socket ?? { destroy: () => undefined });
      res.on('close', untrack);
      return;
    }
    if (fault?.status !== undefined) {
      const headers: Record<string, string> = fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {};
      const details = fault.retryAfter !== undefined ? { retryAfterSeconds: fault.retryAfter } : undefined;
      send(fault.status, statusBody(fault.status, fault.message ?? faultMessage(fault.status, method, path), undefined, details), headers);
      return;
    }
    if (watching && fault?.stall) {
      finished();
      stallWatch(res);
      return;
    }
    if (watching) {
      finished();
      streamWatch(decodeURIComponent(watchNs), url.searchParams, res, fault?.drop ? (fault.dropAfterBytes === undefined ? {} : { afterBytes: fault.dropAfterBytes }) : undefined);
      return;
    }
    try {
      const out = await route(method, path, url.searchParams, req, write);
      if (fault?.drop) {
        // Send the headers and part of the body, then cut the connection.
        const text = JSON.stringify(out.body);
        res.writeHead(out.code, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) });
        res.write(text.slice(0, Math.max(1, Math.min(fault.dropAfterBytes ?? Math.floor(text.length / 2), text.length - 1))));
        finished();
        const socket = req.socket; // captured now: res.socket may already be detached when setImmediate runs
        setImmediate(() => socket.destroy());
        return;
      }
      send(out.code, out.body);
    } catch (err) {
      if (err instanceof HttpError) send(err.code, statusBody(err.code, err.message, err.reason, err.details));
      else send(500, statusBody(500, `fake-kube internal error: ${String(err)}`));
    }
  }

  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    void handle(req, res);
  };
  const server = tls ? https.createServer({ cert: tls.certPem, key: tls.keyPem }, listener) : http.createServer(listener);
  const exec = createExecHandler({
    token,
    faults,
    preferredProtocol: () => fake.execProtocol,
    notFoundShape: () => fake.execNotFound,
    negotiated: (p) => fake.execProtocols.push(p),
    findPod: (ns, name) => pods.get(`${ns}/${name}`),
    record: (method, path, query) => requests.push({ method, path, query, at: Date.now() }),
    track,
  });
  // Every raw connection, so close() ends them all: closeAllConnections() misses sockets that
  // are still in the TLS handshake or were aborted mid-request, and server.close() waits for them.
  server.on('connection', (socket: Socket) => {
    const untrack = track(socket);
    socket.on('close', untrack);
  });
  // Which connection each request and upgrade came on (connectionLog).
  const connInfo = new WeakMap<object, { conn: number; requests: number; upgraded: boolean }>();
  const liveConnections = new Set<Socket>();
  let connCount = 0;
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    const conn = ++connCount;
    connInfo.set(socket, { conn, requests: 0, upgraded: false });
    liveConnections.add(socket);
    socket.on('close', () => {
      liveConnections.delete(socket);
      fake.connectionLog.push({ kind: 'closed', seq: ++seq, conn });
    });
    fake.connectionLog.push({ kind: 'connection', seq: ++seq, conn });
  });
  server.on('request', (req: http.IncomingMessage) => {
    const info = connInfo.get(req.socket);
    if (info) info.requests += 1;
    const url = new URL(req.url ?? '/', 'https://x');
    const watch = url.searchParams.get('watch') === 'true' ? ' (watch)' : '';
    fake.connectionLog.push({ kind: 'request', seq: ++seq, conn: info?.conn ?? 0, key: `${req.method ?? '?'} ${url.pathname}${watch}` });
  });
  fake.openConnections = () => [...liveConnections].map((s) => connInfo.get(s) ?? { conn: 0, requests: 0, upgraded: false }).map((i) => ({ ...i }));
  fake.dropIdleConnections = () => {
    let n = 0;
    for (const s of liveConnections) {
      const i = connInfo.get(s);
      if (i && i.requests === 0 && !i.upgraded) {
        s.destroy();
        n++;
      }
    }
    return n;
  };
  server.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => {
    const info = connInfo.get(socket);
    if (info) info.upgraded = true;
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec/.exec(req.url ?? '');
    const container = new URL(req.url ?? '/', 'https://x').searchParams.get('container') ?? '';
    fake.connectionLog.push({ kind: 'upgrade', seq: ++seq, conn: info?.conn ?? 0, key: `EXEC ${m?.[1] ?? ''}/${m?.[2] ?? ''}/${container}`, requestsBefore: info?.requests ?? 0 });
    socket.on('error', () => undefined);
    if (info && fake.dropUpgradeOn.has(info.conn)) {
      socket.destroy();
      return;
    }
    void exec.handleUpgrade(req, socket, head);
  });
  const listening = options.connectLatencyMs ? delayedFront(server, options.connectLatencyMs, track) : server;
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  const { port } = listening.address() as AddressInfo;
  fake.url = `${useTls ? 'https' : 'http'}://127.0.0.1:${port}`;
  if (listening !== server) {
    const closeServer = fake.close;
    fake.close = async () => {
      await closeServer();
      await new Promise<void>((resolve) => listening.close(() => resolve()));
    };
  }
  return fake;
}

/**
 * A listener that accepts connections paused and hands each to `server` `delayMs` later: the
 * client's ClientHello waits in the kernel meanwhile, so its TCP + TLS set-up takes that much
 * longer, as network round trips would make it. Requests on a kept-alive connection pay nothing.
 */
function delayedFront(server: http.Server, delayMs: number, track: (s: Socket) => () => void): net.Server {
  return net.createServer({ pauseOnConnect: true }, (socket) => {
    const untrack = track(socket);
    socket.once('close', untrack);
    const t = setTimeout(() => server.emit('connection', socket), delayMs);
    socket.once('close', () => clearTimeout(t));
  });
}
