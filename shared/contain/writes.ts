// Planned writes as data. An action says WHAT it would write (a KubeWrite, a pure function of
// the context); this module alone sends one (applyWrite) and alone describes one for reports
// (describeWrite). Dry-run reports the very writes enforce sends: they cannot drift apart.
//
// Every write to a pod names the pod's UID. A DELETE carries it as `preconditions.uid` (the
// API server answers 409 on a mismatch). A PATCH carries it as `metadata.uid` inside the merge
// patch: metadata.uid is immutable, so against a same-named replacement pod the API server
// refuses the patch with 422 Invalid ("metadata.uid: field is immutable"). This is the idiom
// Kubernetes' own controllers use to release pods (controller_ref_manager.go sends
// {"metadata":{"ownerReferences":[...],"uid":"<pod uid>"}} and treats 422 as "the pod was
// deleted and recreated"). No resourceVersion: the kubelet updates pod status every few
// seconds, so a resourceVersion precondition would refuse most label patches for nothing.
import type { NetworkPolicyBody, Workloads } from '../ports.js';
import { classifyError } from '../common/errors.js';
import type { PlannedWrite } from './types.js';

export type KubeWrite =
  | { call: 'patchPodMetadata'; namespace: string; name: string; uid: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  | { call: 'deletePod'; namespace: string; name: string; uid: string; gracePeriodSeconds?: number }
  | { call: 'cordonNode'; name: string }
  | { call: 'createNetworkPolicy'; policy: NetworkPolicyBody };

/** What the API server said: `not-found` is a 404 on a pod write (the pod is gone: nothing left to do). */
export type WriteResult = 'patched' | 'deleted' | 'created' | 'exists' | 'not-found';

/** `namespace/name` for pods, `node/<name>`, `networkpolicy/<ns>/<name>`: the report's target. */
export function writeTarget(w: KubeWrite): string {
  switch (w.call) {
    case 'patchPodMetadata':
    case 'deletePod':
      return `${w.namespace}/${w.name}`;
    case 'cordonNode':
      return `node/${w.name}`;
    case 'createNetworkPolicy':
      return `networkpolicy/${w.policy.namespace}/${w.policy.name}`;
  }
}

/** What is sent, as the report shows it (the same data applyWrite sends). */
function writeBody(w: KubeWrite): Record<string, unknown> {
  switch (w.call) {
    case 'patchPodMetadata':
      return { metadata: { uid: w.uid, ...(w.labels ? { labels: w.labels } : {}), ...(w.annotations ? { annotations: w.annotations } : {}) } };
    case 'deletePod':
      return { preconditions: { uid: w.uid }, ...(w.gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds: w.gracePeriodSeconds }) };
    case 'cordonNode':
      return { spec: { unschedulable: true } };
    case 'createNetworkPolicy':
      return { podSelector: w.policy.podSelector, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] };
  }
}

/** The report form of a planned write (not yet sent). */
export function describeWrite(w: KubeWrite): PlannedWrite {
  return { call: w.call, target: writeTarget(w), body: writeBody(w), attempted: false };
}

/** The one place a containment write is sent. Throws API errors (the executor classifies them). */
export async function applyWrite(workloads: Workloads, w: KubeWrite, signal: AbortSignal): Promise<WriteResult> {
  switch (w.call) {
    case 'patchPodMetadata':
      try {
        await workloads.patchPodMetadata(w.namespace, w.name, { uid: w.uid, ...(w.labels ? { labels: w.labels } : {}), ...(w.annotations ? { annotations: w.annotations } : {}) }, signal);
        return 'patched';
      } catch (err) {
        if (classifyError(err).code === 404) return 'not-found';
        throw err;
      }
    case 'deletePod':
      return workloads.deletePod(w.namespace, w.name, w.gracePeriodSeconds === undefined ? { uid: w.uid } : { uid: w.uid, gracePeriodSeconds: w.gracePeriodSeconds }, signal);
    case 'cordonNode':
      await workloads.cordonNode(w.name, signal);
      return 'patched';
    case 'createNetworkPolicy':
      return workloads.createNetworkPolicy(w.policy, signal);
  }
}

/**
 * The API server refused a pod write because the name now belongs to another pod: 409 on a
 * DELETE with a UID precondition, 422 naming metadata.uid on a PATCH that carries it.
 */
export function isUidMismatch(err: unknown): boolean {
  const c = classifyError(err);
  if (c.code === 409) return true;
  return c.code === 422 && /uid/i.test(c.reason);
}
