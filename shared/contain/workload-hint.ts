// The workload a finding's pod belongs to, as far as the finding tells it, for replaying the
// per-workload budget without a cluster. The limiter counts by the top of the live owner chain
// (executor.ts workloadOf: `namespace/Kind/name`); the finding carries no owner reference,
// but the labels controllers put on their pods give the controller away:
//   pod-template-hash h and a name `<name>-h-<suffix>`   -> Deployment <name> (via its ReplicaSet)
//   statefulset.kubernetes.io/pod-name = the pod's name  -> StatefulSet (the name without `-<ordinal>`)
//   batch.kubernetes.io/job-name (or job-name)           -> Job (a CronJob's Job counts as the Job here)
// Anything else counts as its own workload (the pod name), which is what the limiter does for
// a bare pod, and what the summary says it did. The key is within the cluster: the budget adds
// the finding's cluster (budget-scope.ts). The labels are the finding's copy: a
// prediction for a replay, never a basis for acting.
import type { Incident } from '../finding/types.js';

export type WorkloadSource = 'live owner chain' | 'finding labels' | 'pod name';

export interface WorkloadGuess {
  key: string;
  source: WorkloadSource;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function workloadFromFinding(incident: Pick<Incident, 'namespace' | 'pod' | 'podLabels'>): WorkloadGuess | undefined {
  const { namespace: ns, pod, podLabels: labels } = incident;
  if (ns === undefined || pod === undefined) return undefined;
  const label = (k: string): string | undefined => (Object.hasOwn(labels, k) ? labels[k] : undefined);
  const hash = label('pod-template-hash');
  const deployment = hash === undefined || hash === '' ? null : new RegExp(`^(.+)-${escape(hash)}-[a-z0-9]+$`).exec(pod);
  if (deployment?.[1] !== undefined) return { key: `${ns}/Deployment/${deployment[1]}`, source: 'finding labels' };
  const ordinal = label('statefulset.kubernetes.io/pod-name') === pod ? /^(.+)-\d+$/.exec(pod) : null;
  if (ordinal?.[1] !== undefined) return { key: `${ns}/StatefulSet/${ordinal[1]}`, source: 'finding labels' };
  const job = label('batch.kubernetes.io/job-name') ?? label('job-name');
  if (job !== undefined && job !== '') return { key: `${ns}/Job/${job}`, source: 'finding labels' };
  return { key: `${ns}/Pod/${pod}`, source: 'pod name' };
}
