// Stage 2, enrich (alongside everything else): cluster, pod, owners, node, events and the
// playbook's log queries. Best effort: its transient failures (but the pod read's) never ask
// for a redelivery, and nothing on the path to containment waits for it.
import { skipped, type StepResult } from '../../common/step.js';
import { enrichIncident } from '../../enrich/enrich.js';
import type { EnrichmentData } from '../../enrich/types.js';
import type { Incident } from '../../finding/types.js';
import type { ResponsePlan } from '../../policy/types.js';
import type { ClusterDirectory, ClusterInfo, Workloads } from '../../ports.js';
import { signalOf, type RespondContext } from '../context.js';

export interface Enrichment {
  steps: StepResult[];
  data?: EnrichmentData;
}

/** The directory as enrichment sees it: the same (shared-read) Workloads the other steps use. */
function withWorkloads(directory: ClusterDirectory, workloads: Workloads): ClusterDirectory {
  return { describe: (ref, signal) => directory.describe(ref, signal), workloads: () => Promise.resolve(workloads) };
}

export function startEnrichment(incident: Incident, plan: ResponsePlan, workloads: Workloads | undefined, ctx: RespondContext, now: () => Date, logsAfter: Promise<unknown>): Promise<Enrichment> {
  const { directory, logs } = ctx.adapters;
  if (!plan.enrich || !directory || !incident.cluster || !workloads) {
    return Promise.resolve({ steps: [skipped('enrich', plan.enrich ? 'no Kubernetes access' : `rule ${plan.rule} does not enrich`)] });
  }
  const { enrich } = ctx.settings;
  return enrichIncident(incident, { directory: withWorkloads(directory, workloads), ...(logs ? { logs } : {}), now }, { ...enrich, ...signalOf(ctx), logsAfter });
}

/**
 * The cluster description when enrichment already has it (it usually does: describe is the
 * first call), so quarantine can say whether NetworkPolicy is enforced without waiting for
 * the slower enrichment calls (logs, owner chain).
 */
export async function clusterInfoIfReady(enrichment: Promise<Enrichment>): Promise<ClusterInfo | undefined> {
  const pending = Symbol('pending');
  const r = await Promise.race([enrichment, new Promise<typeof pending>((resolve) => setImmediate(() => resolve(pending)))]);
  return r === pending ? undefined : r.data?.cluster;
}
