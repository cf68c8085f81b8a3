// Stage 3, snapshot: the modified binary streamed out of the container into the create-only
// store, hashed on the way. Its result is the evidence gate of the destructive actions.
import { runStep, skipped, type StepResult } from '../../common/step.js';
import type { EvidenceStatus } from '../../contain/types.js';
import { snapshotBinary, snapshotPolicyFor, type VerifiedEvidence } from '../../evidence/snapshot.js';
import type { EvidenceResult } from '../../evidence/types.js';
import type { Incident } from '../../finding/types.js';
import type { ResponsePlan } from '../../policy/types.js';
import type { Workloads } from '../../ports.js';
import { signalOf, type RespondContext } from '../context.js';

export type { VerifiedEvidence };

export interface Snapshot {
  step: StepResult;
  evidence?: EvidenceResult;
  /** The copy's manifest and byte count, written while containment runs; their warnings (settleSnapshot). */
  records?: Promise<string[]>;
}

/** `onVerified`: see SnapshotInput.onVerified (the gate judged while the copy commits: evidenceGate). */
export async function takeSnapshot(incident: Incident, plan: ResponsePlan, w: Workloads | undefined, ctx: RespondContext, onVerified?: (copy: VerifiedEvidence) => void): Promise<Snapshot> {
  if (!plan.snapshot) return { step: skipped('snapshot', `rule ${plan.rule} does not snapshot`) };
  if (!w) return { step: skipped('snapshot', 'no Kubernetes access to the cluster') };
  const store = ctx.adapters.evidence;
  if (!store) return { step: skipped('snapshot', 'no evidence store configured (SCC_RESPONDER_EVIDENCE)') };
  // The trusted collector (an irreversible write to the pod) only where this run may write.
  // approve mode collects as enforce does: the evidence stored now is what an approval acts on later.
  const policy = snapshotPolicyFor(ctx.settings.snapshot, ctx.forceDryRun ? 'cli-dry-run' : plan.mode === 'dry-run' ? 'dry-run' : 'enforce');
  let evidence: EvidenceResult | undefined;
  let records: Promise<void> | undefined;
  let logged = 0;
  const step: StepResult = await runStep<EvidenceResult>(
    'snapshot',
    async (signal) => {
      evidence = await snapshotBinary({ incident, workloads: w, store, policy, collector: ctx.collector, signal, afterStored: (r) => (records = r), ...(onVerified ? { onVerified } : {}), firstDelivery: () => ctx.claim?.firstNow() ?? ctx.claim?.first ?? false });
      // Non-fatal evidence problems (e.g. the manifest with the copy's hashes not written) are never silent.
      if (evidence.outcome !== 'failed') for (const warning of evidence.warnings) ctx.audit.warning(`snapshot: ${warning}`, { step: 'snapshot' });
      if (evidence.outcome !== 'failed') logged = evidence.warnings.length;
      // Under `attempted`, what the target withheld ends the attempt (recorded below) without
      // failing the step; under `stored` every failure keeps its retry/ack classification.
      const finished = evidence.outcome === 'failed' && evidence.blame === 'target' && plan.evidenceGate === 'attempted';
      if (evidence.outcome === 'failed' && !finished) throw Object.assign(new Error(evidence.reason), { code: evidence.code, kindHint: evidence.kind });
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
  if (evidence?.outcome === 'failed' && evidence.blame === 'target' && step.status === 'ok') step.reason = `evidence destroyed or withheld by the target: ${evidence.reason}`;
  for (const warning of evidence?.withheldByTarget ?? []) ctx.audit.warning(warning, { step: 'snapshot', significant: true });
  const late = records?.then(() => (evidence?.outcome === 'stored' ? evidence.warnings.slice(logged) : []));
  return { step, ...(evidence ? { evidence } : {}), ...(late ? { records: late } : {}) };
}

/** After containment: the copy's records are written, and what went wrong with them is logged. */
export async function settleSnapshot(snapshot: Snapshot, ctx: RespondContext): Promise<void> {
  for (const warning of (await snapshot.records) ?? []) ctx.audit.warning(`snapshot: ${warning}`, { step: 'snapshot' });
}

/** What the evidence gate of containment sees. */
export function evidenceStatus(snapshot: Snapshot): EvidenceStatus {
  const { evidence: result, step } = snapshot;
  const withheld = result && result.withheldByTarget.length > 0 ? { withheldByTarget: result.withheldByTarget } : {};
  if (result && (result.outcome === 'stored' || result.outcome === 'exists')) {
    // A copy that is not the evidence (a decoy, a cut flood, a lying tool) does not count as stored.
    const counts = result.outcome === 'stored' ? result.counts : result.manifest?.counts !== false;
    const uri = result.object.uri;
    return counts ? { stored: true, uri, attemptFinished: true, ...withheld } : { stored: false, uri, reason: `the stored copy is not the evidence: ${result.withheldByTarget.join('; ')}`, attemptFinished: true, ...withheld };
  }
  if (result && result.outcome === 'failed') return { stored: false, reason: `snapshot failed: ${result.reason}`, attemptFinished: result.blame === 'target', ...withheld };
  return { stored: false, reason: step.reason ? `snapshot ${step.status}: ${step.reason}` : 'no snapshot was taken' };
}

/** What containment starts with: the gate's evidence, and, while a verified copy commits, the commit's outcome. */
export interface EvidenceGate {
  evidence: EvidenceStatus;
  /** Present when `evidence` was judged before the commit ended (see evidenceGate). */
  evidenceFinal?: Promise<EvidenceStatus>;
}

/**
 * The evidence gate, as early as it can be judged: when the snapshot ends, or when a copy is
 * verified and its commit is in flight, whichever comes first. Then `evidence` is the copy's
 * verdict (a copy that counts is `committing`; one that does not is what the target withheld,
 * as evidenceStatus says once stored) and `evidenceFinal` the evidence once the commit ended:
 * the committed copy, or, when the commit failed or another writer's copy won, whatever the
 * snapshot finally reports (its failure is ours: the gate holds). Containment judges its guards
 * and takes its budget slots on `evidence` while the commit runs, and acts only on
 * `evidenceFinal` (contain/executor.ts): the DELETE still waits for durable evidence.
 */
export async function evidenceGate(run: Promise<Snapshot>, verified: Promise<VerifiedEvidence>): Promise<EvidenceGate> {
  const first = await Promise.race([run.then((snapshot) => ({ snapshot })), verified.then((copy) => ({ copy }))]);
  if ('snapshot' in first) return { evidence: evidenceStatus(first.snapshot) };
  const { copy } = first;
  const evidence: EvidenceStatus = copy.counts ? { stored: true, committing: true, attemptFinished: true } : { stored: false, reason: `the stored copy is not the evidence: ${copy.because ?? 'it does not count'}`, attemptFinished: true };
  // Only the copy's own commit settles a copy that counts; anything else is the snapshot's final word.
  const evidenceFinal = copy.committed.then(async (object): Promise<EvidenceStatus> => (object !== undefined && copy.counts ? { stored: true, uri: object.uri, attemptFinished: true } : evidenceStatus(await run)));
  evidenceFinal.catch(() => undefined); // awaited by the late wave; a plan without one must not leave it unhandled
  return { evidence, evidenceFinal };
}
