// Builders shared by the containment tests: an Incident shaped like the v1 fixture, a pod
// view, and a recording Workloads stub for unit tests (integration tests use the real
// client-node adapter against fake-kube instead).
import type { Incident } from '../../shared/finding/types.js';
import type { PlannedAction, ResponsePlan } from '../../shared/policy/types.js';
import type { NodeView, OwnerView, PodView, Workloads } from '../../shared/ports.js';
import type { ActionContext } from '../../shared/contain/types.js';

export const FINDING_NAME = 'organizations/123456789012/sources/7153827493721873246/findings/a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b';

export function incident(over: Partial<Incident> = {}): Incident {
  return {
    findingName: FINDING_NAME,
    findingId: 'a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b',
    apiVersion: 'v1',
    category: 'Execution: Modified Malicious Binary Executed',
    state: 'ACTIVE',
    severity: 'CRITICAL',
    eventTime: '2026-11-27T09:14:02.113Z',
    resourceName: '//container.googleapis.com/projects/acme-payments-prod/locations/us-central1/clusters/payments',
    cluster: {
      project: 'acme-payments-prod',
      location: 'us-central1',
      locationKind: 'region',
      name: 'payments',
      resourceName: '//container.googleapis.com/projects/acme-payments-prod/locations/us-central1/clusters/payments',
    },
    projectId: 'acme-payments-prod',
    namespace: 'payments',
    pod: 'checkout-7d9f8b6c5d-q2x8z',
    podLabels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d' },
    container: 'checkout',
    node: 'gke-payments-default-pool-1a2b3c4d-x7k9',
    binary: { path: '/usr/bin/curl', partiallyHashed: false },
    args: [],
    mitre: { techniques: [] },
    envVariables: [],
    securityMarks: {},
    provenance: {},
    ...over,
  };
}

export function podView(over: Partial<PodView> = {}): PodView {
  return {
    namespace: 'payments',
    name: 'checkout-7d9f8b6c5d-q2x8z',
    uid: '11111111-2222-3333-4444-555555555555',
    phase: 'Running',
    nodeName: 'gke-payments-default-pool-1a2b3c4d-x7k9',
    labels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d' },
    annotations: {},
    creationTimestamp: '2026-11-26T22:01:40Z',
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-7d9f8b6c5d', uid: 'rs-uid', controller: true }],
    containers: [{ name: 'checkout', state: 'running' }],
    ...over,
  };
}

export function nodeView(over: Partial<NodeView> = {}): NodeView {
  return { name: 'gke-payments-default-pool-1a2b3c4d-x7k9', labels: {}, annotations: {}, unschedulable: false, conditions: [], ...over };
}

export const OWNERS: OwnerView[] = [
  { kind: 'ReplicaSet', name: 'checkout-7d9f8b6c5d', namespace: 'payments', uid: 'rs-uid', ownerReferences: [{ kind: 'Deployment', name: 'checkout', controller: true }], labels: {} },
  { kind: 'Deployment', name: 'checkout', namespace: 'payments', uid: 'dep-uid', ownerReferences: [], replicas: 3, labels: {} },
];

export function plan(actions: PlannedAction[], over: Partial<ResponsePlan> = {}): ResponsePlan {
  return { matched: true, rule: 'delete-critical', mode: 'enforce', enrich: true, snapshot: true, requireEvidence: true, evidenceGate: 'attempted', actions, ...over };
}

export interface RecordedCall {
  method: keyof Workloads;
  args: unknown[];
}

/** A Workloads stub that records every call and answers from `answers` (or throws what it holds). */
export function recordingWorkloads(answers: Partial<Record<keyof Workloads, unknown>> = {}): Workloads & { calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  const answer = (method: keyof Workloads, args: unknown[]): Promise<never> => {
    calls.push({ method, args });
    const a = answers[method];
    if (a instanceof Error) return Promise.reject(a);
    if (typeof a === 'function') return Promise.resolve((a as (...x: unknown[]) => never)(...args));
    return Promise.resolve(a as never);
  };
  return {
    calls,
    readPod: (...a) => answer('readPod', a),
    readNode: (...a) => answer('readNode', a),
    readOwner: (...a) => answer('readOwner', a),
    listPodEvents: (...a) => answer('listPodEvents', a),
    listPods: (...a) => answer('listPods', a).then((v) => v ?? []),
    exec: (...a) => answer('exec', a),
    deletePod: (...a) => answer('deletePod', a).then((v) => v ?? 'deleted'),
    patchPodMetadata: (...a) => answer('patchPodMetadata', a),
    cordonNode: (...a) => answer('cordonNode', a),
    createNetworkPolicy: (...a) => answer('createNetworkPolicy', a).then((v) => v ?? 'created'),
    addDebugContainer: (...a) => answer('addDebugContainer', a),
    readNetworkPolicy: (...a) => answer('readNetworkPolicy', a).then((v) => v ?? null),
    deleteNetworkPolicy: (...a) => answer('deleteNetworkPolicy', a).then((v) => v ?? 'deleted'),
    removePodMetadata: (...a) => answer('removePodMetadata', a),
    uncordonNode: (...a) => answer('uncordonNode', a),
  };
}

export const WRITE_METHODS: ReadonlySet<keyof Workloads> = new Set(['deletePod', 'patchPodMetadata', 'cordonNode', 'createNetworkPolicy', 'addDebugContainer', 'deleteNetworkPolicy', 'removePodMetadata', 'uncordonNode']);

export function context(over: Partial<ActionContext> = {}): ActionContext {
  return {
    incident: incident(),
    plan: plan([{ type: 'deletePod', params: { gracePeriodSeconds: 0, requireController: true } }]),
    pod: podView(),
    owners: OWNERS,
    node: nodeView(),
    evidence: { stored: true, uri: 'gs://evidence/a6e3/curl' },
    workloads: recordingWorkloads(),
    mode: 'enforce',
    clusterEnforcesNetworkPolicy: true,
    observeReplacementMs: 0,
    ...over,
  };
}
