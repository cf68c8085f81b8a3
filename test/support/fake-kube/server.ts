// A fake Kubernetes API server speaking the real REST + WebSocket protocols over HTTPS with
// a self-signed CA and a bearer token, so @kubernetes/client-node runs unmodified against it.
// Contract: /tmp/team/FAKE-KUBE.md (copied in the types of ./types.ts). Every route passes
// through a FaultPlan first (key `${METHOD} ${path}`), then serves from in-memory state.
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { FaultPlan, sleep } from '../faults.js';
import { createExecHandler } from './exec.js';
import { eventJson, faultMessage, nodeJson, OWNER_RESOURCES, ownerJson, podJson, statusBody } from './objects.js';
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
  const openSockets = new Set<{ destroy(): void }>();
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
    execProtocol: 'v5.channel.k8s.io',
    execProtocols: [],
    networkPolicies,
    addPod(spec) {
      spec.uid ??= randomUUID();
      spec.creationTimestamp ??= new Date().toISOString();
      spec.resourceVersion = nextRv();
      pods.set(`${spec.namespace}/${spec.name}`, spec);
    },
    pod: (ns, name) => pods.get(`${ns}/${name}`),
    pods: (ns) => [...pods.values()].filter((p) => p.namespace === ns),
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

  // ------------------------------------------------------------------ controllers

  function replacementName(pod: FakePodSpec, ownerKind: string, ownerName: string): string {
    if (ownerKind === 'StatefulSet') return pod.name;
    return `${ownerName}-${randomBytes(3).toString('hex').slice(0, 5)}`;
  }

  function scheduleReplacement(pod: FakePodSpec): void {
    const owner = pod.ownerReferences?.find((o) => o.controller !== false && ['ReplicaSet', 'StatefulSet', 'DaemonSet'].includes(o.kind));
    if (!owner) return;
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
      later(grace * fake.graceMsPerSecond, () => removePod(pod));
      // A ReplicaSet/DaemonSet replaces a terminating pod right away (it no longer counts).
      if (!pod.ownerReferences?.some((o) => o.kind === 'StatefulSet')) scheduleReplacement(pod);
    }
    return podJson(pod);
  }

  // ------------------------------------------------------------------ routes

  const notFound = (resource: string, name: string, group = ''): HttpError =>
    new HttpError(404, `${resource}${group ? `.${group}` : ''} "${name}" not found`, 'NotFound', { name, ...(group ? { group } : {}), kind: resource });

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

    // /api/v1/namespaces/NS/pods[/P[/ephemeralcontainers]]
    if (s(0) === 'api' && s(1) === 'v1' && s(2) === 'namespaces' && s(4) === 'pods') {
      const ns = s(3);
      if (seg.length === 5 && method === 'GET') {
        const labelSel = query.get('labelSelector') ?? '';
        const fields = fieldSelector(query.get('fieldSelector') ?? '');
        const items = [...pods.values()]
          .filter((p) => p.namespace === ns && matchesLabelSelector(p.labels ?? {}, labelSel))
          .filter((p) => (fields['metadata.name'] === undefined || p.name === fields['metadata.name']) && (fields['spec.nodeName'] === undefined || p.nodeName === fields['spec.nodeName']))
          .map(podJson);
        return { code: 200, body: { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: String(rv) }, items } };
      }
      if (seg.length === 6) {
        const name = s(5);
        if (method === 'GET') return { code: 200, body: podJson(podOr404(ns, name)) };
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
          return { code: 200, body: podJson(pod) };
        }
      }
      if (seg.length === 7 && s(6) === 'ephemeralcontainers' && (method === 'PATCH' || method === 'GET')) {
        const pod = podOr404(ns, s(5));
        if (method === 'GET') return { code: 200, body: podJson(pod) };
        if (!PATCH_TYPES.has(contentType)) throw new HttpError(415, 'unsupported patch type');
        let added: Json[] = [];
        if (contentType === 'application/json-patch+json') {
          for (const op of asOps(body)) {
            if (op.op !== 'add' || !op.path.startsWith('/spec/ephemeralContainers')) continue;
            added = added.concat(Array.isArray(op.value) ? (op.value as Json[]) : [op.value as Json]);
          }
        } else {
          added = ((body as { spec?: { ephemeralContainers?: Json[] } } | undefined)?.spec?.ephemeralContainers ?? []) as Json[];
        }
        pod.ephemeralContainers ??= [];
        for (const ec of added) {
          const ecName = String(ec['name'] ?? '');
          if (pod.ephemeralContainers.some((e) => e.name === ecName)) continue; // already there: idempotent
          if (!ecName || pod.containers.some((c) => c.name === ecName)) {
            throw new HttpError(422, `Pod "${pod.name}" is invalid: spec.ephemeralContainers[0].name: Duplicate value: "${ecName}"`, 'Invalid');
          }
          const target = ec['targetContainerName'] as string | undefined;
          if (target !== undefined && !pod.containers.some((c) => c.name === target)) {
            throw new HttpError(422, `Pod "${pod.name}" is invalid: spec.ephemeralContainers[0].targetContainerName: Not found: "${target}"`, 'Invalid');
          }
          const e: FakeEphemeralContainer = {
            name: ecName,
            ...(typeof ec['image'] === 'string' ? { image: ec['image'] } : {}),
            ...(Array.isArray(ec['command']) ? { command: (ec['command'] as unknown[]).map(String) } : {}),
            ...(target !== undefined ? { targetContainerName: target } : {}),
            running: false,
            waitingReason: 'ContainerCreating',
          };
          pod.ephemeralContainers.push(e);
          later(fake.ephemeralStartMs, () => {
            if (fake.ephemeralStartFails) e.waitingReason = fake.ephemeralStartFails;
            else e.running = true;
            pod.resourceVersion = nextRv();
          });
        }
        pod.resourceVersion = nextRv();
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
        .map(({ e, i }) => eventJson(e, i));
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
        const created = { ...np, apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { ...np.metadata, namespace: ns, uid: randomUUID(), resourceVersion: nextRv(), creationTimestamp: new Date().toISOString() } };
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
    const key = `${method} ${path}`;
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
    try {
      const out = await route(method, path, url.searchParams, req, write);
      if (fault?.drop) {
        // Send the headers and part of the body, then cut the connection.
        const text = JSON.stringify(out.body);
        res.writeHead(out.code, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) });
        res.write(text.slice(0, Math.max(1, Math.min(fault.dropAfterBytes ?? Math.floor(text.length / 2), text.length - 1))));
        finished();
        setImmediate(() => res.socket?.destroy());
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
    negotiated: (p) => fake.execProtocols.push(p),
    findPod: (ns, name) => pods.get(`${ns}/${name}`),
    record: (method, path, query) => requests.push({ method, path, query, at: Date.now() }),
    track,
  });
  server.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => {
    socket.on('error', () => undefined);
    void exec.handleUpgrade(req, socket, head);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  fake.url = `${useTls ? 'https' : 'http'}://127.0.0.1:${port}`;
  return fake;
}
