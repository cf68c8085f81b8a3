// Stage 1, locate: Kubernetes access to the finding's cluster (GKE API + token, or a
// kubeconfig context). Everything after it reads through one shared-reads wrapper, so the
// stages that read the same pod, owners or node share one API call.
import { runStep, skipped, type StepResult } from '../../common/step.js';
import type { Incident } from '../../finding/types.js';
import type { Workloads } from '../../ports.js';
import { signalOf, type RespondContext } from '../context.js';
import { sharedReads } from '../shared-reads.js';

export interface Located {
  step: StepResult;
  /** Absent when the cluster could not be reached (the step says why). */
  workloads?: Workloads;
}

export async function locate(incident: Incident, ctx: RespondContext): Promise<Located> {
  const cluster = incident.cluster;
  const directory = ctx.adapters.directory;
  if (!cluster) return { step: skipped('locate', 'the finding names no GKE cluster') };
  if (!directory) return { step: skipped('locate', ctx.adapters.noClusterAccessReason ?? 'no cluster access configured (SCC_RESPONDER_CLUSTER_ACCESS)') };
  const s = await runStep('locate', (signal) => directory.workloads(cluster, signal), { timeoutMs: ctx.settings.enrich.callTimeoutMs, ...signalOf(ctx) });
  // The step's data is the Kubernetes client itself: recorded without it (scrubbing and
  // logging the client's object graph cost ~10 ms of CPU before the first pod read and put
  // kubeconfig internals into the audit trail).
  const { data: client, ...step } = s;
  return s.status === 'ok' ? { step, workloads: sharedReads(client as Workloads) } : { step };
}
