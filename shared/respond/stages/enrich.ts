// Stage 2, enrich (alongside everything else): cluster, pod, owners, node, events and the
// playbook's log queries. Best effort: its transient failures (but the pod read's) never ask
// for a redelivery, and nothing on the path to containment waits for it.
import { skipped, type StepResult } from '../../common/step.js';
import { enrichIncident } from '../../enrich/enrich.js';
import type { EnrichmentData } from '../../enrich/types.js';
import type { Incident } from '../../finding/types.js';
import type { ResponsePlan } from '../../policy/types.js';
import type { ClusterDirectory, ClusterInfo, Workloads } from '../../ports.js';
import { afterCritical } from '../../common/turn.js';
import { signalOf, type RespondContext } from '../context.js';

export interface Enrichment {
  steps: StepResult[];
  data?: EnrichmentData;
}

/**
 * The workloads as enrichment sees them: the response's shared reads (an object of closures),
 * whose answers reach enrichment once the loop has polled after them (afterCritical). Enrichment only feeds the report: when the pod
 * (or node) answer arrives, the callbacks on the critical path (the collector PATCH) send
 * their request before enrichment's bookkeeping (playbook filters, owner chain) runs.
 */
function lateReads(w: Workloads): Workloads {
  return {
    ...w,
    readPod: (ns, name, signal) => afterCritical(w.readPod(ns, name, signal)),
    readNode: (name, signal) => afterCritical(w.readNode(name, signal)),
    readOwner: (ns, ref, signal) => afterCritical(w.readOwner(ns, ref, signal)),
    listPodEvents: (ns, pod, signal) => afterCritical(w.listPodEvents(ns, pod, signal)),
  };
}

export interface StartedEnrichment {
  /** Every step, once the log queries (which start after containment) are done. */
  result: Promise<Enrichment>;
  /**
   * The cluster description if the GKE API has answered (describe is enrichment's first call),
   * else undefined: quarantine can say whether NetworkPolicy is enforced without waiting for
   * the rest of enrichment (logs, owner chain), and containment never waits for it.
   */
  cluster(): ClusterInfo | undefined;
}

export function startEnrichment(incident: Incident, plan: ResponsePlan, workloads: Workloads | undefined, ctx: RespondContext, now: () => Date, logsAfter: Promise<unknown>): StartedEnrichment {
  const { directory, logs } = ctx.adapters;
  if (!plan.enrich || !directory || !incident.cluster || !workloads) {
    return { result: Promise.resolve({ steps: [skipped('enrich', plan.enrich ? 'no Kubernetes access' : `rule ${plan.rule} does not enrich`)] }), cluster: () => undefined };
  }
  let described: ClusterInfo | undefined;
  const seen: ClusterDirectory = {
    describe: (ref, signal) => directory.describe(ref, signal).then((c) => (described = c)),
    workloads: () => Promise.resolve(lateReads(workloads)),
  };
  const { enrich } = ctx.settings;
  const result = enrichIncident(incident, { directory: seen, ...(logs ? { logs } : {}), now }, { ...enrich, ...signalOf(ctx), logsAfter });
  return { result, cluster: () => described };
}
