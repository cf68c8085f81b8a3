// JSON renderings of the fake's stored objects in the shapes the Kubernetes API returns
// (what client-node deserialises), and the `Status` bodies of API errors.
import { createHash } from 'node:crypto';
import type { FakeEventSpec, FakeNodeSpec, FakeOwnerKind, FakeOwnerObject, FakePodSpec } from './types.js';

type Json = Record<string, unknown>;

const hex = (s: string): string => createHash('sha256').update(s).digest('hex');

export function containerId(pod: FakePodSpec, container: string): string {
  return `containerd://${hex(`${pod.uid ?? ''}/${container}`)}`;
}

export function podJson(pod: FakePodSpec): Json {
  const started = pod.creationTimestamp ?? new Date(0).toISOString();
  const containerStatuses = pod.containers.map((c) => {
    const running = c.running !== false;
    const image = c.image ?? `registry.example/${c.name}:latest`;
    return {
      name: c.name,
      image,
      imageID: c.imageID ?? `${image.split(':')[0] ?? image}@sha256:${hex(image)}`,
      containerID: containerId(pod, c.name),
      ready: running,
      started: running,
      restartCount: c.restartCount ?? 0,
      state: running
        ? { running: { startedAt: started } }
        : { terminated: { exitCode: 137, reason: 'Error', startedAt: started, finishedAt: started } },
    };
  });
  const eph = pod.ephemeralContainers ?? [];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      resourceVersion: pod.resourceVersion,
      creationTimestamp: pod.creationTimestamp,
      labels: pod.labels ?? {},
      annotations: pod.annotations ?? {},
      ...(pod.ownerReferences ? { ownerReferences: pod.ownerReferences } : {}),
      ...(pod.deletionTimestamp ? { deletionTimestamp: pod.deletionTimestamp, deletionGracePeriodSeconds: pod.deletionGracePeriodSeconds } : {}),
    },
    spec: {
      nodeName: pod.nodeName,
      serviceAccountName: pod.serviceAccountName ?? 'default',
      containers: pod.containers.map((c) => ({
        name: c.name,
        image: c.image ?? `registry.example/${c.name}:latest`,
        ...(c.uid !== undefined && c.runAsUserInSpec !== false ? { securityContext: { runAsUser: c.uid } } : {}),
      })),
      ...(eph.length > 0
        ? { ephemeralContainers: eph.map((e) => e.spec ?? { name: e.name, image: e.image, command: e.command, targetContainerName: e.targetContainerName }) }
        : {}),
    },
    status: {
      phase: pod.phase ?? 'Running',
      startTime: started,
      containerStatuses,
      ...(eph.length > 0
        ? {
            ephemeralContainerStatuses: eph.map((e) => ({
              name: e.name,
              image: e.image,
              imageID: '',
              ready: false,
              restartCount: 0,
              containerID: e.running ? containerId(pod, e.name) : undefined,
              state: e.running ? { running: { startedAt: new Date().toISOString() } } : { waiting: { reason: e.waitingReason ?? 'ContainerCreating' } },
            })),
          }
        : {}),
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
      creationTimestamp: new Date(0).toISOString(),
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
      spec = { parallelism: obj.replicas ?? 1, template };
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
      creationTimestamp: new Date(0).toISOString(),
      labels: obj.labels ?? {},
      ...(obj.ownerReferences ? { ownerReferences: obj.ownerReferences } : {}),
    },
    spec,
  };
}

export function eventJson(ev: FakeEventSpec, index: number): Json {
  const ts = ev.lastTimestamp ?? new Date().toISOString();
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
