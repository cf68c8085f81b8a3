// The pod's owner chain (playbook step 3: "note its owner"): the controller, its controller,
// up to the top (Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob). Read by enrichment
// for the report and by containment for its guards; with the response's shared reads
// (shared/respond/shared-reads.ts) both get one set of API calls.
import { withTimeout } from '../common/time.js';
import type { OwnerRef, OwnerView, Workloads } from '../ports.js';

/** Pod -> ReplicaSet -> Deployment and Job -> CronJob are the deepest chains. */
export const MAX_OWNER_DEPTH = 3;

/** The controlling owner reference (or the only owner when none is marked controller). */
export function controllerRef(refs: readonly OwnerRef[]): OwnerRef | undefined {
  return refs.find((r) => r.controller === true) ?? (refs.length === 1 ? refs[0] : undefined);
}

/**
 * Reads the chain from `first` upwards, each read with its own time limit, appending to
 * `into` as it goes: a failed read rejects, and `into` keeps what was read before it.
 */
export async function readOwnerChain(w: Workloads, namespace: string, first: OwnerRef, callTimeoutMs: number, signal: AbortSignal | undefined, into: OwnerView[] = []): Promise<OwnerView[]> {
  let next: OwnerRef | undefined = first;
  for (let depth = 0; next && depth < MAX_OWNER_DEPTH; depth++) {
    const ref: OwnerRef = next;
    const owner = await withTimeout(`read ${ref.kind} ${namespace}/${ref.name}`, callTimeoutMs, signal, (s) => w.readOwner(namespace, ref, s));
    into.push(owner);
    next = controllerRef(owner.ownerReferences);
  }
  return into;
}
