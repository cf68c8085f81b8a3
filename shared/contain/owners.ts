// The owner chain (playbook step 3, "note its owner"; containment judges a pod by it as
// ActionContext.owners): the pod's controller,
// then that object's controller, up to a few levels (ReplicaSet -> Deployment, Job -> CronJob).
// The pipeline reads it once the target pod is read and passes it to every action: the
// require-controller guard checks the chain against the pod's controller reference (same
// object, not scaled to zero), the per-workload budget counts by the chain's top, and
// deletePod reports the top controller.
import { classifyError } from '../common/errors.js';
import { withTimeout } from '../common/time.js';
import type { OwnerRef, OwnerView, PodView, Workloads } from '../ports.js';

/** Deep enough for every built-in chain (Pod <- ReplicaSet <- Deployment, Pod <- Job <- CronJob). */
export const MAX_OWNER_CHAIN = 3;

export interface OwnerChain {
  /** Controller first, top controller last; empty for a bare pod or when the first read failed. */
  owners: OwnerView[];
  /** Why the chain stops short (a read failed: the guards then judge by the reference alone). */
  incomplete?: string;
  /** The failed read's error, for callers that report it as a failure (enrichment). */
  error?: unknown;
}

function controllerRef(refs: readonly OwnerRef[]): OwnerRef | undefined {
  return refs.find((r) => r.controller === true);
}

/**
 * Reads the pod's owner chain, each read under `callTimeoutMs`. Never throws: a failed read
 * ends the chain with the reason (a kind the adapter cannot read, such as a ConfigMap posing
 * as a controller, ends it at once; the guards refuse such a controller by its kind anyway).
 */
export async function readOwnerChain(workloads: Pick<Workloads, 'readOwner'>, pod: PodView, options: { callTimeoutMs: number; signal?: AbortSignal }): Promise<OwnerChain> {
  const owners: OwnerView[] = [];
  let ref = controllerRef(pod.ownerReferences);
  while (ref !== undefined && owners.length < MAX_OWNER_CHAIN) {
    const r: OwnerRef = ref;
    try {
      const owner = await withTimeout(`read ${r.kind} ${pod.namespace}/${r.name}`, options.callTimeoutMs, options.signal, (s) => workloads.readOwner(pod.namespace, r, s));
      owners.push(owner);
      ref = controllerRef(owner.ownerReferences);
    } catch (err) {
      return { owners, incomplete: `could not read ${r.kind}/${r.name}: ${classifyError(err).reason}`, error: err };
    }
  }
  return { owners };
}
