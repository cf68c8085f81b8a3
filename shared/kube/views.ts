// Maps client-node's objects to our small views (shared/ports.ts). Pure: client-node is
// imported for types only, so this module loads without the library and is unit-testable.
import type { CoreV1Event, V1ContainerStatus, V1Node, V1ObjectMeta, V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import type { ContainerView, KubeEvent, NodeView, OwnerRef, OwnerView, PodView } from '../ports.js';
import { allowedAnnotations } from './annotation-allowlist.js';

export const INSTANCE_ID_ANNOTATION = 'container.googleapis.com/instance_id';

const iso = (d: Date | string | undefined): string | undefined => (d === undefined ? undefined : d instanceof Date ? d.toISOString() : String(d));

function withDefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

export function ownerRefView(o: V1OwnerReference): OwnerRef {
  return withDefined({ apiVersion: o.apiVersion, kind: o.kind, name: o.name, uid: o.uid, controller: o.controller });
}

function containerView(name: string, image: string | undefined, s: V1ContainerStatus | undefined, runAsUser?: number): ContainerView {
  let state: ContainerView['state'] = 'unknown';
  let stateReason: string | undefined;
  let startedAt: string | undefined;
  if (s?.state?.running) {
    state = 'running';
    startedAt = iso(s.state.running.startedAt);
  } else if (s?.state?.waiting) {
    state = 'waiting';
    stateReason = s.state.waiting.reason;
  } else if (s?.state?.terminated) {
    state = 'terminated';
    stateReason = s.state.terminated.reason ?? `exit ${s.state.terminated.exitCode}`;
    startedAt = iso(s.state.terminated.startedAt);
  }
  return withDefined({
    name,
    image: s?.image ?? image,
    imageID: s?.imageID || undefined,
    containerID: s?.containerID || undefined,
    ready: s?.ready,
    restartCount: s?.restartCount,
    state,
    stateReason,
    startedAt,
    runAsUser,
  });
}

/** Labels whole; annotations by allowlist only (shared/kube/annotation-allowlist.ts: no last-applied-configuration). */
function metaMaps(m: V1ObjectMeta | undefined): { labels: Record<string, string>; annotations: Record<string, string> } {
  return { labels: { ...(m?.labels ?? {}) }, annotations: allowedAnnotations(m?.annotations) };
}

export function podView(pod: V1Pod): PodView {
  const m = pod.metadata;
  const statuses = new Map((pod.status?.containerStatuses ?? []).map((s) => [s.name, s]));
  // The uid the container runs as when the spec says (the container's, else the pod's): the
  // trusted collector runs as the same uid, which the kernel's ptrace rule needs.
  const podUser = pod.spec?.securityContext?.runAsUser;
  const containers = (pod.spec?.containers ?? []).map((c) => containerView(c.name, c.image, statuses.get(c.name), c.securityContext?.runAsUser ?? podUser));
  // Statuses without a spec entry (should not happen) are still worth showing.
  for (const s of pod.status?.containerStatuses ?? []) if (!containers.some((c) => c.name === s.name)) containers.push(containerView(s.name, s.image, s));
  return withDefined({
    namespace: m?.namespace ?? '',
    name: m?.name ?? '',
    uid: m?.uid ?? '',
    resourceVersion: m?.resourceVersion,
    phase: pod.status?.phase,
    nodeName: pod.spec?.nodeName,
    serviceAccountName: pod.spec?.serviceAccountName,
    ...metaMaps(m),
    creationTimestamp: iso(m?.creationTimestamp),
    deletionTimestamp: iso(m?.deletionTimestamp),
    ownerReferences: (m?.ownerReferences ?? []).map(ownerRefView),
    containers,
  });
}

/** State of an ephemeral container, for the debug-container wait loop. */
export function ephemeralState(pod: V1Pod, name: string): { state: ContainerView['state']; reason?: string } {
  const s = pod.status?.ephemeralContainerStatuses?.find((x) => x.name === name);
  const v = containerView(name, undefined, s);
  return withDefined({ state: v.state, reason: v.stateReason });
}

export function nodeView(node: V1Node): NodeView {
  const m = node.metadata;
  const maps = metaMaps(m);
  return withDefined({
    name: m?.name ?? '',
    uid: m?.uid,
    ...maps,
    instanceId: maps.annotations[INSTANCE_ID_ANNOTATION],
    providerID: node.spec?.providerID,
    unschedulable: node.spec?.unschedulable === true,
    conditions: (node.status?.conditions ?? []).map((c) => withDefined({ type: c.type, status: c.status, reason: c.reason })),
  });
}

/** Any workload controller object (ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, CronJob). */
export interface ControllerObject {
  kind?: string;
  metadata?: V1ObjectMeta;
  spec?: object;
}

export function ownerView(kind: string, obj: ControllerObject): OwnerView {
  const m = obj.metadata;
  const spec = (obj.spec ?? {}) as { replicas?: number; parallelism?: number };
  const replicas = spec.replicas ?? (kind === 'Job' ? spec.parallelism : undefined);
  return withDefined({
    kind: obj.kind ?? kind,
    name: m?.name ?? '',
    namespace: m?.namespace,
    uid: m?.uid,
    ownerReferences: (m?.ownerReferences ?? []).map(ownerRefView),
    replicas,
    labels: { ...(m?.labels ?? {}) },
  });
}

export function eventView(e: CoreV1Event): KubeEvent {
  return withDefined({
    type: e.type,
    reason: e.reason,
    message: e.message,
    count: e.count,
    firstTimestamp: iso(e.firstTimestamp ?? e.eventTime),
    lastTimestamp: iso(e.lastTimestamp ?? e.eventTime),
    source: e.source?.component ?? e.reportingComponent,
  });
}
