// Stage 3, snapshot: the modified binary streamed out of the container into the create-only
// store, hashed on the way. Its result is the evidence gate of the destructive actions.
import { runStep, skipped, type StepResult } from '../../common/step.js';
import type { EvidenceStatus } from '../../contain/types.js';
import { snapshotBinary } from '../../evidence/snapshot.js';
import type { EvidenceResult } from '../../evidence/types.js';
import type { Incident } from '../../finding/types.js';
import type { ResponsePlan } from '../../policy/types.js';
import type { Workloads } from '../../ports.js';
import { signalOf, type RespondContext } from '../context.js';

export interface Snapshot {
  step: StepResult;
  evidence?: EvidenceResult;
}

export async function takeSnapshot(incident: Incident, plan: ResponsePlan, w: Workloads | undefined, ctx: RespondContext): Promise<Snapshot> {
  if (!plan.snapshot) return { step: skipped('snapshot', `rule ${plan.rule} does not snapshot`) };
  if (!w) return { step: skipped('snapshot', 'no Kubernetes access to the cluster') };
  const store = ctx.adapters.evidence;
  if (!store) return { step: skipped('snapshot', 'no evidence store configured (SCC_RESPONDER_EVIDENCE)') };
  const policy = ctx.settings.snapshot;
  let evidence: EvidenceResult | undefined;
  const step: StepResult = await runStep<EvidenceResult>(
    'snapshot',
    async (signal) => {
      evidence = await snapshotBinary({ incident, workloads: w, store, policy, collector: ctx.collector, signal });
      if (evidence.outcome === 'failed') throw Object.assign(new Error(evidence.reason), { code: evidence.code, kindHint: evidence.kind });
      return evidence;
    },
    // The snapshot enforces its own deadline; this outer one only catches a hung store.
    { timeoutMs: policy.timeoutMs + 5_000, ...signalOf(ctx) },
  );
  if (step.status === 'failed' && evidence?.outcome === 'failed') {
    // Keep the snapshot's own classification (e.g. file missing = permanent, dropped stream = transient).
    step.failure = evidence.kind;
    if (evidence.code !== undefined) step.code = evidence.code;
    step.data = evidence;
  }
  return evidence ? { step, evidence } : { step };
}

/** What the evidence gate of containment sees. */
export function evidenceStatus(snapshot: Snapshot): EvidenceStatus {
  const { evidence: result, step } = snapshot;
  if (result && (result.outcome === 'stored' || result.outcome === 'exists')) return { stored: true, uri: result.object.uri };
  if (result && result.outcome === 'failed') return { stored: false, reason: `snapshot failed: ${result.reason}` };
  return { stored: false, reason: step.reason ? `snapshot ${step.status}: ${step.reason}` : 'no snapshot was taken' };
}
