// Stage 5, record: what this attempt did to the cluster (effect records beside the evidence,
// so a retry can report it), then the SCC marks and the results topic. Marks and publishing
// belong to the final attempt: when a retry is coming they are skipped with that reason. The
// report object, the cross-delivery "completed" record, is written by the caller through the
// idempotency protocol (shared/record/idempotency.ts).
import { runStep, skipped, type StepResult } from '../../common/step.js';
import { raceAbort } from '../../common/time.js';
import type { ActionOutcome } from '../../contain/types.js';
import { approvalMarks, MARK_KEYS, marksFor, type MarkState } from '../../record/marks.js';
import { actionEntry } from '../../policy/actions.js';
import { resultMessage } from '../../record/result-publisher.js';
import { signalOf, type RespondContext } from '../context.js';
import { markHash } from '../outcome.js';
import { mergeStatuses, storeEffects } from '../prior-effects.js';
import { notifySteps } from './notify.js';
import type { TriageReport } from '../report.js';
import { resultSummary } from '../result-summary.js';

/** Stores this attempt's effects (best effort: a failure only makes a retry under-report). */
export async function recordEffectsTaken(folder: string, actions: readonly ActionOutcome[], ctx: RespondContext, now: Date): Promise<void> {
  const store = ctx.adapters.evidence;
  if (!store || actions.length === 0) return;
  await storeEffects(store, folder, ctx.audit.runId, actions, now, ctx.signal).catch((err: unknown) => {
    ctx.audit.warning(`effect record not stored (a retry may under-report this attempt's effects): ${err instanceof Error ? err.message : String(err)}`);
  });
}

/** Marks of a decision on pending actions: only state, action, mode, run, time (the first run's evidence marks stay). */
function decisionMarks(report: TriageReport, ctx: RespondContext): Record<string, string> {
  const approval = report.approval;
  const status = approval?.status ?? 'approved';
  const statuses = mergeStatuses(report.actions, report.priorEffects ?? []);
  const executed = marksFor({ runId: ctx.audit.runId, rule: 'x', mode: 'enforce', actions: statuses, failed: report.steps.some((s) => s.status === 'failed' && s.failure === 'permanent' && s.name.startsWith('contain.')) });
  // Executed (approved, or refused by the guards on the live pod): what the actions did.
  if (status !== 'denied' && status !== 'expired') return approvalMarks(ctx.audit.runId, executed[MARK_KEYS.state] as MarkState, executed[MARK_KEYS.action] ?? 'none');
  const words = (approval?.actions ?? []).map((a) => `${actionEntry(a.type)?.words.noun ?? a.type}-${status}`).join(',') || 'none';
  return approvalMarks(ctx.audit.runId, status, words);
}

function marksStep(report: TriageReport, ctx: RespondContext): Promise<StepResult> {
  const marks = ctx.adapters.marks;
  if (!marks) return Promise.resolve(skipped('record.marks', 'SCC marks write-back is off (SCC_RESPONDER_MARKS)'));
  if (report.outcome.retry) return Promise.resolve(skipped('record.marks', 'a retry is coming: marks are written by the final attempt'));
  const plan = report.decision.matched ? report.decision : undefined;
  const evidenceUri = report.evidence && report.evidence.outcome !== 'failed' ? report.evidence.object.uri : undefined;
  const values = report.approval && report.approval.status !== 'pending' ? decisionMarks(report, ctx) : marksFor({
    // Pending: the run mark names the run the approval mark must name (a retry of the first
    // delivery keeps the first attempt's pending record, hence its run id).
    runId: report.approval?.pendingRunId ?? ctx.audit.runId,
    ...(report.approval ? { pending: report.approval.actions.map((a) => a.type) } : {}),
    ...(plan ? { rule: plan.rule, mode: ctx.forceDryRun ? 'dry-run' : plan.mode } : {}),
    actions: mergeStatuses(report.actions, report.priorEffects ?? []),
    ...(evidenceUri ? { evidenceUri } : {}),
    hash: markHash(report.evidence),
    ...(ctx.confirmation ? { confirmed: ctx.confirmation.confirmed } : {}),
    // A pod that is gone leaves nothing to copy: not a failure of the response.
    failed: report.steps.some(
      (s) => s.status === 'failed' && s.failure === 'permanent' && ((s.name === 'snapshot' && !(report.evidence?.outcome === 'failed' && report.evidence.failure === 'pod-gone')) || s.name.startsWith('contain.')),
    ),
  });
  return runStep('record.marks', async (signal) => {
    await marks.update(report.incident, values, signal);
    return values;
  }, { timeoutMs: ctx.settings.recordTimeoutMs, ...signalOf(ctx) });
}

function publishStep(report: TriageReport, ctx: RespondContext): Promise<StepResult> {
  const publisher = ctx.adapters.publisher;
  if (!publisher) return Promise.resolve(skipped('record.publish', 'no results topic configured (SCC_RESPONDER_RESULTS_TOPIC)'));
  if (report.outcome.retry) return Promise.resolve(skipped('record.publish', 'a retry is coming: the result is published by the final attempt'));
  const { incident } = report;
  const plan = report.decision.matched ? report.decision : undefined;
  const msg = resultMessage(resultSummary(report, ctx.settings.results ?? { includeArguments: false }), {
    findingName: incident.findingName,
    category: incident.category,
    severity: incident.severity,
    action: report.outcome.action,
    ...(incident.cluster ? { cluster: incident.cluster.name, project: incident.cluster.project } : {}),
    verdict: report.outcome.verdict,
    ...(plan ? { mode: plan.mode, rule: plan.rule } : {}),
  });
  return runStep('record.publish', async (signal) => ({ messageId: await publisher.publish(msg.payload, msg.attributes, msg.orderingKey, signal) }), {
    timeoutMs: ctx.settings.recordTimeoutMs,
    ...signalOf(ctx),
  });
}

/**
 * Marks and results topic, after the outcome is known; each is its own step and may turn the
 * verdict into a retry. Notifications run beside them as best-effort steps (never a retry).
 */
export async function recordResult(report: TriageReport, ctx: RespondContext): Promise<StepResult[]> {
  await ctx.admit?.();
  // Loading a client (marks, Pub/Sub: imported on first use, after containment) is not the
  // write: it must not eat the record steps' deadlines. A failed load fails the step below.
  const { marks, publisher } = ctx.adapters;
  await raceAbort(Promise.allSettled([marks?.ready?.(), publisher?.ready?.()]), ctx.signal);
  const [marksResult, publish, notify] = await Promise.all([marksStep(report, ctx), publishStep(report, ctx), notifySteps(report, ctx)]);
  return [marksResult, publish, ...notify];
}
