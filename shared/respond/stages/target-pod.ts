// The target pod as containment sees it: read once (shared with the snapshot and enrichment),
// its owner chain for the guards, and the actions' prefetches while the snapshot streams.
// Containment needs these and the stored evidence, not the logs or events.
import { classifyError } from '../../common/errors.js';
import { withTimeout } from '../../common/time.js';
import type { OwnerChain } from '../../contain/owners.js';
import { prepareContainment } from '../../contain/prepare.js';
import type { Incident } from '../../finding/types.js';
import type { ResponsePlan } from '../../policy/types.js';
import type { PodView, Workloads } from '../../ports.js';
import { signalOf, type RespondContext } from '../context.js';

export interface TargetPod {
  pod?: PodView;
  /** The read answered 404: the pod is gone. */
  notFound?: boolean;
  /** Why the read failed otherwise (timeout, 5xx, ...): the guards say it, not just "not read". */
  readError?: string;
}

/** Reads the finding's pod with the per-call deadline (a hung API server must not hold the response). */
export function readTargetPod(incident: Incident, plan: ResponsePlan, w: Workloads | undefined, ctx: RespondContext): Promise<TargetPod> {
  const { namespace, pod } = incident;
  if (!w || !namespace || !pod || plan.actions.length === 0) return Promise.resolve({});
  const read = withTimeout(`read pod ${namespace}/${pod}`, ctx.settings.enrich.callTimeoutMs, ctx.signal, (signal) => w.readPod(namespace, pod, signal));
  return read.then(
    (p) => ({ pod: p }),
    (err: unknown) => {
      const c = classifyError(err);
      if (c.code === 404) return { notFound: true };
      ctx.audit.warning(`could not read pod ${namespace}/${pod}: ${c.reason}`);
      return { notFound: false, readError: c.reason };
    },
  );
}

/**
 * Once the pod is read: the owner chain containment's guards judge (will a controller replace
 * the pod?) and the actions' prefetch hooks (deletePod lists the controller's pods), started
 * together so neither is a round trip in front of the writes. Never rejects.
 */
export async function prepareTarget(target: Promise<TargetPod>, plan: ResponsePlan, w: Workloads, ctx: RespondContext): Promise<OwnerChain> {
  const { pod } = await target;
  if (!pod) return { owners: [] };
  return prepareContainment(plan.actions, pod, w, { callTimeoutMs: ctx.settings.enrich.callTimeoutMs, ...signalOf(ctx) });
}
