// JSON renderings of the fake's stored objects in the shapes the Kubernetes API returns
// (what client-node deserialises), and the `Status` bodies of API errors.
import { createHash } from 'node:crypto';
import type { FakeContainerSpec, FakeEventSpec, FakeNodeSpec, FakeOwnerKind, FakeOwnerObject, FakePodSpec } from './types.js';

type Json = Record<string, unknown>;

const hex = (s: string): string => createHash('sha256').update(s).digest('hex');

export function containerId(pod: FakePodSpec, container: string): string {
  return `containerd://${hex(`${pod.uid ?? ''}/${container}`)}`;
}

/**
 * metav1.Time as the API server serialises it: RFC 3339 in whole seconds, UTC, no fraction
 * (`2026-01-01T00:00:00Z`). Stored times may carry milliseconds; the wire never does.
 */
export function apiTime(t: string | number | Date | undefined): string | undefined {
  if (t === undefined) return undefined;
  const ms = t instanceof Date ? t.getTime() : typeof t === 'number' ? t : Date.parse(t);
  if (!Number.isFinite(ms)) return undefined;
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A stable pseudo-random suffix for names the API server generates (volume names, IPs). */
function suffix(seed: string, n: number): string {
  return hex(seed).replace(/[^a-z]/g, '').slice(0, n).padEnd(n, 'x');
}

function podIp(pod: FakePodSpec): string {
  const h = createHash('sha256').update(pod.uid ?? pod.name).digest();
  return `10.${(h[0] ?? 0) % 64}.${h[1] ?? 0}.${((h[2] ?? 0) % 250) + 2}`;
}

const isJobPod = (pod: FakePodSpec): boolean => pod.ownerReferences?.some((o) => o.kind === 'Job') === true;

/** A container as the API server returns it after defaulting (admission adds the token mount). */
function containerJson(c: FakeContainerSpec, tokenVolume: string): Json {
  const image = c.image ?? `registry.example/${c.name}:latest`;
  return {
    name: c.name,
    image,
    imagePullPolicy: image.endsWith(':latest') || !/[:@]/.test(image.split('/').pop() ?? '') ? 'Always' : 'IfNotPresent',
    resources: {},
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    volumeMounts: [{ name: tokenVolume, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
  };
}

function containerStatusJson(pod: FakePodSpec, c: FakeContainerSpec, started: string | undefined): Json {
  const running = c.running !== false;
  const image = c.image ?? `registry.example/${c.name}:latest`;
  return {
    name: c.name,
    state: running
      ? { running: { startedAt: started } }
      : { terminated: { exitCode: 137, reason: 'Error', startedAt: started, finishedAt: started, containerID: containerId(pod, c.name) } },
    lastState: {},
    ready: running,
    restartCount: c.restartCount ?? 0,
    image,
    imageID: c.imageID ?? `${image.split(':')[0] ?? image}@sha256:${hex(image)}`,
    containerID: containerId(pod, c.name),
    started: running,
  };
}

function podConditions(pod: FakePodSpec, ready: boolean, at: string | undefined): Json[] {
  const cond = (type: string, ok: boolean, reason?: string): Json => ({
    type,
    status: ok ? 'True' : 'False',
    lastProbeTime: null,
    lastTransitionTime: at,
    ...(reason && !ok ? { reason } : {}),
  });
  return [
    cond('PodReadyToStartContainers', true),
    cond('Initialized', true),
    cond('Ready', ready, 'ContainersNotReady'),
    cond('ContainersReady', ready, 'ContainersNotReady'),
    cond('PodScheduled', pod.nodeName !== undefined, 'Unschedulable'),
  ];
}

function ephemeralJson(pod: FakePodSpec): { spec: Json; status: Json } {
  const eph = pod.ephemeralContainers ?? [];
  if (eph.length === 0) return { spec: {}, status: {} };
  return {
    spec: {
      // The spec as patched (ephemeral.ts compares later patches with it), else the basics.
      ephemeralContainers: eph.map((e) => ({
        ...(e.spec ?? { name: e.name, image: e.image, command: e.command, targetContainerName: e.targetContainerName }),
        resources: {},
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
        imagePullPolicy: 'IfNotPresent',
      })),
    },
    status: {
      ephemeralContainerStatuses: eph.map((e) => ({
        name: e.name,
        state: e.terminated
          ? { terminated: { exitCode: e.terminated.exitCode, reason: e.terminated.reason, ...(e.terminated.message ? { message: e.terminated.message } : {}), startedAt: apiTime(e.startedAt), finishedAt: apiTime(e.startedAt) } }
          : e.running
            ? { running: { startedAt: apiTime(e.startedAt) } }
            : { waiting: { reason: e.waitingReason ?? 'ContainerCreating' } },
        lastState: {},
        ready: false,
        restartCount: 0,
        image: e.image,
        imageID: '',
        ...(e.running ? { containerID: containerId(pod, e.name) } : {}),
        started: e.running,
      })),
    },
  };
}

/**
 * A pod as the API server returns it: the fields defaulting and admission add
 * (dnsPolicy, restartPolicy, schedulerName, securityContext {}, the service-account token
 * volume, tolerations, ...), conditions and IPs in the status, and every time in whole seconds.
 */
export function podJson(pod: FakePodSpec): Json {
  const created = apiTime(pod.creationTimestamp) ?? apiTime(0);
  const started = created;
  const tokenVolume = `kube-api-access-${suffix(pod.uid ?? pod.name, 5)}`;
  const ready = pod.containers.every((c) => c.running !== false);
  const eph = ephemeralJson(pod);
  const sa = pod.serviceAccountName ?? 'default';
  const ip = podIp(pod);
  const owner = pod.ownerReferences?.find((o) => o.controller !== false);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.name,
      ...(owner && owner.kind !== 'StatefulSet' ? { generateName: `${owner.name}-` } : {}),
      namespace: pod.namespace,
      uid: pod.uid,
      resourceVersion: pod.resourceVersion,
      creationTimestamp: created,
      ...(pod.deletionTimestamp ? { deletionTimestamp: apiTime(pod.deletionTimestamp), deletionGracePeriodSeconds: pod.deletionGracePeriodSeconds } : {}),
      ...(pod.labels && Object.keys(pod.labels).length > 0 ? { labels: pod.labels } : {}),
      ...(pod.annotations && Object.keys(pod.annotations).length > 0 ? { annotations: pod.annotations } : {}),
      ...(pod.ownerReferences ? { ownerReferences: pod.ownerReferences.map((o) => ({ ...o, blockOwnerDeletion: true })) } : {}),
    },
    spec: {
      volumes: [
        {
          name: tokenVolume,
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
            defaultMode: 420,
          },
        },
      ],
      containers: pod.containers.map((c) => ({
        ...containerJson(c, tokenVolume),
        ...(c.uid !== undefined && c.runAsUserInSpec !== false ? { securityContext: { runAsUser: c.uid } } : {}),
      })),
      restartPolicy: isJobPod(pod) ? 'Never' : 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: sa,
      serviceAccount: sa,
      ...(pod.nodeName ? { nodeName: pod.nodeName } : {}),
      securityContext: {},
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      ...eph.spec,
    },
    status: {
      phase: pod.phase ?? 'Running',
      conditions: podConditions(pod, ready, created),
      ...(pod.nodeName ? { hostIP: '10.128.0.2', hostIPs: [{ ip: '10.128.0.2' }], podIP: ip, podIPs: [{ ip }] } : {}),
      startTime: started,
      containerStatuses: pod.containers.map((c) => containerStatusJson(pod, c, started)),
      qosClass: 'BestEffort',
      ...eph.status,
    },
  };
}

export function nodeJson(node: FakeNodeSpec, resourceVersion: string): Json {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      uid: node.uid,
      resourceVersion,
      creationTimestamp: apiTime(0),
      labels: node.labels ?? {},
      annotations: node.annotations ?? {},
    },
    spec: { ...(node.unschedulable ? { unschedulable: true } : {}), ...(node.providerID ? { providerID: node.providerID } : {}) },
    status: { conditions: node.conditions ?? [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }] },
  };
}

export const OWNER_RESOURCES: Record<FakeOwnerKind, { group: 'apps' | 'batch'; resource: string }> = {
  ReplicaSet: { group: 'apps', resource: 'replicasets' },
  Deployment: { group: 'apps', resource: 'deployments' },
  StatefulSet: { group: 'apps', resource: 'statefulsets' },
  DaemonSet: { group: 'apps', resource: 'daemonsets' },
  Job: { group: 'batch', resource: 'jobs' },
  CronJob: { group: 'batch', resource: 'cronjobs' },
};

export function ownerJson(kind: FakeOwnerKind, obj: FakeOwnerObject): Json {
  const group = OWNER_RESOURCES[kind].group;
  const selector = { matchLabels: obj.selector ?? obj.labels ?? {} };
  const template = { metadata: { labels: obj.selector ?? obj.labels ?? {} }, spec: { containers: [] } };
  let spec: Json;
  switch (kind) {
    case 'CronJob':
      spec = { schedule: '*/5 * * * *', jobTemplate: { spec: { template } } };
      break;
    case 'Job':
      spec = { parallelism: obj.replicas ?? 1, backoffLimit: obj.backoffLimit ?? 6, template };
      break;
    case 'DaemonSet':
      spec = { selector, template };
      break;
    default:
      spec = { replicas: obj.replicas ?? 1, selector, template };
  }
  return {
    apiVersion: `${group}/v1`,
    kind,
    metadata: {
      name: obj.name,
      namespace: obj.namespace,
      uid: obj.uid,
      creationTimestamp: apiTime(0),
      labels: obj.labels ?? {},
      ...(obj.ownerReferences ? { ownerReferences: obj.ownerReferences } : {}),
    },
    spec,
    ...(kind === 'Job' ? { status: { active: 1, ...(obj.failed ? { failed: obj.failed } : {}) } } : {}),
  };
}

export function eventJson(ev: FakeEventSpec, index: number): Json {
  const ts = apiTime(ev.lastTimestamp ?? Date.now());
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${ev.involvedObject.name}.${index.toString(16)}`, namespace: ev.namespace },
    involvedObject: { kind: ev.involvedObject.kind, name: ev.involvedObject.name, namespace: ev.namespace, ...(ev.involvedObject.uid ? { uid: ev.involvedObject.uid } : {}) },
    reason: ev.reason,
    message: ev.message,
    type: ev.type ?? 'Normal',
    count: ev.count ?? 1,
    firstTimestamp: ts,
    lastTimestamp: ts,
    source: { component: 'kubelet' },
  };
}

const REASONS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  409: 'Conflict', 415: 'UnsupportedMediaType', 422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError',
  503: 'ServiceUnavailable', 504: 'Timeout',
};

/** A Kubernetes `Status` error body. */
export function statusBody(code: number, message: string, reason?: string, details?: Json): Json {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: reason ?? REASONS[code] ?? 'Unknown',
    ...(details ? { details } : {}),
    code,
  };
}

/** Default message for an injected fault, worded like the API server's. */
export function faultMessage(code: number, method: string, path: string): string {
  switch (code) {
    case 403:
      return `forbidden: User "system:serviceaccount:scc-responder:responder" cannot ${method.toLowerCase()} ${path}`;
    case 404:
      return `the server could not find the requested resource (${method} ${path})`;
    case 409:
      return `Operation cannot be fulfilled on ${path}: the object has been modified; please apply your changes to the latest version and try again`;
    case 429:
      return 'Too many requests, please try again later.';
    case 503:
      return 'the server is currently unable to handle the request';
    default:
      return `Internal error occurred: injected fault ${code}`;
  }
}
