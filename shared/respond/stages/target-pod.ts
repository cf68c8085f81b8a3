// The target pod as containment sees it: read once (shared with the snapshot and enrichment),
// its owner chain for the guards, and what deletePod will list, prefetched while the
// snapshot streams. Containment needs these and the stored evidence, not the logs or events.
import { classifyError } from '../../common/errors.js';
import { withTimeout } from '../../common/time.js';
import { replacementSelector } from '../../contain/replacement.js';
import { controllerRef, readOwnerChain } from '../../enrich/owners.js';
import type { Incident } from '../../finding/types.js';
import type { ResponsePlan } from '../../policy/types.js';
import type { OwnerView, PodView, Workloads } from '../../ports.js';
import { signalOf, type RespondContext } from '../context.js';

export interface TargetPod {
  pod?: PodView;
  /** The read answered 404: the pod is gone. */
  notFound?: boolean;
}

/** Reads the finding's pod with the per-call deadline (a hung API server must not hold the response). */
export function readTargetPod(incident: Incident, plan: ResponsePlan, w: Workloads | undefined, ctx: RespondContext): Promise<TargetPod> {
  const { namespace, pod } = incident;
  if (!w || !namespace || !pod || plan.actions.length === 0) return Promise.resolve({});
  const read = withTimeout(`read pod ${namespace}/${pod}`, ctx.settings.enrich.callTimeoutMs, ctx.signal, (signal) => w.readPod(namespace, pod, signal));
  return read.then(
    (p) => ({ pod: p }),
    (err: unknown) => ({ notFound: classifyError(err).code === 404 }),
  );
}

/**
 * The owner chain containment's guards judge (will a controller replace the pod?). What
 * could be read is returned; a failed read leaves the chain short, and the guards say so.
 */
export async function readTargetOwners(target: Promise<TargetPod>, w: Workloads, ctx: RespondContext): Promise<OwnerView[]> {
  const { pod } = await target;
  const first = pod ? controllerRef(pod.ownerReferences) : undefined;
  if (!pod || !first) return [];
  const owners: OwnerView[] = [];
  await readOwnerChain(w, pod.namespace, first, ctx.settings.enrich.callTimeoutMs, ctx.signal, owners).catch(() => undefined);
  return owners;
}

/**
 * deletePod lists the controller's pods just before deleting, to tell the replacement from
 * existing siblings: prefetched here while the snapshot streams (the list is shared).
 */
export function prefetchForDelete(target: Promise<TargetPod>, plan: ResponsePlan, w: Workloads | undefined, ctx: RespondContext): void {
  if (!w || !plan.actions.some((a) => a.type === 'deletePod')) return;
  void target.then(({ pod }) => {
    const controller = pod?.ownerReferences.find((r) => r.controller === true);
    if (pod && controller) w.listPods(pod.namespace, replacementSelector(pod, controller), signalOf(ctx).signal).catch(() => undefined);
  });
}
