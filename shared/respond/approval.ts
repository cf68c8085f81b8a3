// approve mode, the decision: SCC re-notified a finding whose copy (read and confirmed by
// handle.ts, never the message's marks) is awaiting-approval and carries a person's
// `scc_responder_approval` mark. Refused (acked with a WARNING, marks unchanged, so the person
// can correct the mark): an invalid mark, no pending record, a mark naming another run. Acked
// as handled: a pending record already closed (approved, denied, expired: no second action).
// Otherwise one decision run, under the finding's claim protocol in its own folder
// (<folder>/approval/: concurrent deliveries execute once, a transient failure releases the
// claim for the redelivery):
//   expired  (past the record's expiresAt) -> marks `expired`, audit entry, nothing touched
//   deny                                   -> marks `denied`, audit entry, nothing touched
//   approve  -> the live pod read again; every guard of the pending actions re-evaluated on
//               it (scope, protected namespaces, owners, budgets), the evidence gate judged
//               from the stored record (nothing collected again), and the pod must be the
//               approved one (its UID); then exactly the pending actions, DELETE with the UID
//               precondition as always. Marks, results topic and notifications as any run.
// The decision's report is <folder>/approval/report.json: it closes the pending record.
// A record nobody decides is closed as expired by `scc-responder approvals --expire`
// (approval-sweep.ts) through the same decideUnderClaim() and closing code.
import { RESPONDER_NAME } from '../common/product.js';
import { classifyError } from '../common/errors.js';
import { runStep, type StepResult } from '../common/step.js';
import { raceAbort, withTimeout } from '../common/time.js';
import { buildPlaybookArtefacts } from '../enrich/playbook.js';
import type { Envelope } from '../finding/decode.js';
import type { Incident } from '../finding/types.js';
import { findingKeys } from '../ledger/layout.js';
import { approvedPlan } from '../policy/approval.js';
import type { ResponsePlan } from '../policy/types.js';
import type { EvidenceStore, Workloads } from '../ports.js';
import type { FindingAudit } from '../record/audit-log.js';
import { inProgressError, type ClaimRecord, type Finish, type Idempotency } from '../record/idempotency.js';
import type { ApprovalMark } from '../record/marks.js';
import { readReport } from '../record/report-object.js';
import { approvalSection, readPendingApproval, type PendingApproval } from './approval-record.js';
import { lookUpApprover, type ApprovedBy } from './approver.js';
import { signalOf, type RespondContext } from './context.js';
import type { HandleResult, HandlerRuntime } from './handle.js';
import { computeOutcome } from './outcome.js';
import { renderMarkdown } from './render.js';
import { REPORT_SCHEMA_VERSION, type ApprovalSection, type TriageReport } from './report.js';
import { containLate } from './stages/contain.js';
import { locate } from './stages/locate.js';
import { recordEffectsTaken, recordResult } from './stages/record.js';
import { prepareTarget, type TargetPod } from './stages/target-pod.js';

export interface ApprovalConfirmation {
  incident: Incident;
  plan: ResponsePlan;
  mark: ApprovalMark;
  warnings: string[];
}

export interface ApprovalDeps {
  envelope: Envelope;
  audit: FindingAudit;
  runtime: HandlerRuntime;
  signal?: AbortSignal;
}

type Decided = 'approved' | 'denied' | 'expired';

/** Whether (and how) the mark applies to the stored pending record. */
type Gate = { refuse: string } | { closed: string } | { record: PendingApproval; decided: Decided };

/** Reads the pending record and its decision (if any) and judges the mark against them. */
export async function approvalGate(mark: ApprovalMark, store: EvidenceStore | undefined, incident: Incident, now: Date, signal?: AbortSignal): Promise<Gate> {
  if ('invalid' in mark) return { refuse: mark.invalid };
  if (!store) return { refuse: 'no evidence store is configured: there is no pending record to approve' };
  const record = await readPendingApproval(store, incident, signal);
  if (record === null) return { refuse: 'no pending approval record is stored for this finding' };
  if (record.findingName !== incident.findingName) return { refuse: `the pending record belongs to another finding (${record.findingName})` };
  if (record.runId.toLowerCase() !== mark.runId) return { refuse: `the mark ${mark.verb}s run ${mark.runId}, but the pending actions were recorded by run ${record.runId}` };
  const closed = (await readReport(store, findingKeys(incident).approvalFolder, signal)) as Partial<TriageReport> | null;
  if (closed !== null) return { closed: `the pending actions of run ${record.runId} were already closed (${closed.approval?.status ?? 'decided'})` };
  const decided: Decided = now.getTime() >= Date.parse(record.expiresAt) ? 'expired' : mark.verb === 'deny' ? 'denied' : 'approved';
  return { record, decided };
}

function refused(c: ApprovalConfirmation, deps: ApprovalDeps, reason: string): HandleResult {
  const message = `approval mark not applied: ${reason}`;
  deps.audit.summary({ verdict: 'approval-refused', action: 'none', outcome: 'completed', severity: 'WARNING', details: { reason } }, message);
  return { disposition: 'approval-refused', retry: false, message, findingName: c.incident.findingName, incident: c.incident, decision: c.plan, envelope: deps.envelope };
}

/** Entry point from handleMessage, after SCC confirmed the finding and its approval mark. */
export async function decideApproval(c: ApprovalConfirmation, deps: ApprovalDeps): Promise<HandleResult> {
  const { incident, plan } = c;
  const [adapters, base] = await Promise.all([deps.runtime.adapters(), deps.runtime.respondContext()]);
  const now = deps.runtime.now ?? base.now ?? (() => new Date());
  const gate = await approvalGate(c.mark, adapters.evidence, incident, now(), deps.signal);
  const common = { findingName: incident.findingName, incident, decision: plan, envelope: deps.envelope };
  if ('refuse' in gate) return refused(c, deps, gate.refuse);
  if ('closed' in gate) {
    deps.audit.summary({ verdict: 'duplicate', action: 'none', outcome: 'completed', details: { reason: gate.closed } }, `approval already handled: ${gate.closed}`);
    return { disposition: 'already-handled', retry: false, message: gate.closed, ...common };
  }
  const ctx: RespondContext = { ...base, adapters, audit: deps.audit, envelope: deps.envelope, confirmation: { confirmed: true, notes: c.warnings }, ...(deps.signal ? { signal: deps.signal } : {}) };
  const run = await decideUnderClaim({ incident, plan, record: gate.record, decided: gate.decided, by: 'mark', folder: findingKeys(incident).approvalFolder, idem: await deps.runtime.idempotency(), ctx });
  if (run.status === 'already-completed') return { disposition: 'already-handled', retry: false, message: 'approval already handled', ...common };
  if (run.status === 'in-progress') return { disposition: 'retry', retry: true, message: run.message, ...common };
  const report = run.report;
  if (run.shared) return { disposition: report.outcome.retry ? 'retry' : 'duplicate', retry: report.outcome.retry, message: `duplicate approval delivery handled by a concurrent run: ${report.outcome.summary}`, ...common, report };
  const stored = run.stored ? { stored: run.stored } : {};
  return { disposition: report.outcome.verdict, retry: report.outcome.retry, message: report.outcome.summary, ...common, report, ...stored };
}

/** Who closes the pending record: a person's mark (a delivery of the function) or the expiry sweep (`scc-responder approvals --expire`). */
export type DecidedBy = 'mark' | 'sweep';

export interface DecisionInput {
  incident: Incident;
  plan: ResponsePlan;
  record: PendingApproval;
  decided: Decided;
  by: DecidedBy;
  /** `<folder>/approval`: the decision's claims and its report.json (the record's closing). */
  folder: string;
  idem: Idempotency;
  ctx: RespondContext;
}

export type DecisionRun =
  /** The decision's report.json exists: closed by an earlier decision; nothing done. */
  | { status: 'already-completed' }
  /** Another run holds the approval claim (a delivery deciding, or a sweep): nothing done. */
  | { status: 'in-progress'; holder: ClaimRecord; message: string }
  | { status: 'decided'; report: TriageReport; shared: boolean; stored?: { json: string; markdown?: string } };

/**
 * One decision on the pending record under its claim protocol (<folder>/approval/): an
 * approval delivery and the expiry sweep both go through here, so a delivery racing the
 * sweep either executes or expires the record, never both. Writes the summary audit entry.
 */
export async function decideUnderClaim(d: DecisionInput): Promise<DecisionRun> {
  const { incident, plan, ctx } = d;
  const input = { findingName: incident.findingName, folder: d.folder, runId: ctx.audit.runId };
  const finish = (r: TriageReport): Finish => (r.outcome.retry ? { release: r.outcome.summary } : { complete: { report: r, markdown: renderMarkdown(r) } });
  const work = (): Promise<TriageReport> => {
    const p = runDecision(d);
    return ctx.signal ? raceAbort(p, ctx.signal) : p;
  };
  const result = await d.idem.run(input, work, finish);
  if (result.status === 'already-completed') {
    ctx.audit.summary({ verdict: 'duplicate', action: 'none', outcome: 'completed', details: { reason: 'the approval was decided by an earlier run' } }, 'approval already handled (its report object exists)');
    return { status: 'already-completed' };
  }
  if (result.status === 'in-progress') {
    const err = inProgressError(incident.findingName, result.holder);
    // The function asks for a redelivery; the sweep leaves the record to the holder (its next run looks again).
    const summary = d.by === 'sweep' ? { verdict: 'skipped', outcome: 'completed' as const } : { verdict: 'retry', outcome: 'retry' as const };
    ctx.audit.summary({ ...summary, action: 'none', details: { reason: err.message } }, err.message);
    return { status: 'in-progress', holder: result.holder, message: err.message };
  }
  const report = result.value;
  if (result.shared) return { status: 'decided', report, shared: true };
  const approval = report.approval;
  ctx.audit.summary({
    verdict: report.outcome.verdict, action: report.outcome.action, outcome: report.outcome.retry ? 'retry' : report.outcome.verdict === 'failed' ? 'failed' : 'completed',
    rule: plan.rule, mode: 'approve', durations: Object.fromEntries(report.steps.map((s) => [s.name, s.durationMs])),
    ...(approval?.status === 'expired' || approval?.status === 'refused' ? { severity: 'WARNING' as const } : {}),
    details: { approval: approval?.status, pendingRun: approval?.pendingRunId, approvedBy: approval?.approvedBy, failedSteps: report.outcome.failedSteps, closedBy: d.by },
  }, report.outcome.summary);
  const stored = result.stored ? { stored: { json: result.stored.json.uri, ...(result.stored.markdown ? { markdown: result.stored.markdown.uri } : {}) } } : {};
  return { status: 'decided', report, shared: false, ...stored };
}

/** Executes exactly the pending actions on the live pod (approve), with every guard again. */
async function executeApproved(incident: Incident, plan: ResponsePlan, record: PendingApproval, ctx: RespondContext, now: () => Date): Promise<{ steps: StepResult[]; actions: TriageReport['actions'] }> {
  const exec = approvedPlan(plan, record.actions);
  const located = await locate(incident, ctx);
  const w = located.workloads;
  if (!w) return { steps: [located.step], actions: [] };
  const read = await readLivePod(record, w, ctx);
  // A read that failed (not a 404) must not consume the approval: the step asks for a redelivery.
  if (read.step.status === 'failed') return { steps: [located.step, read.step], actions: [] };
  const target = Promise.resolve(read.target);
  const chain = await prepareTarget(target, exec, w, ctx);
  const facts = { target: read.target, owners: chain.owners, evidence: record.evidence, approvedPodUid: record.pod.uid, early: Promise.resolve({ outcomes: [], steps: [] }) };
  const contained = await containLate(incident, exec, w, facts, ctx, now);
  const actions = contained.result.outcomes;
  for (const o of actions) for (const warning of o.warnings) ctx.audit.warning(warning, { action: o.type });
  await recordEffectsTaken(findingKeys(incident).folder, actions, ctx, now());
  return { steps: [located.step, read.step, ...(contained.step ? [contained.step] : []), ...contained.result.steps], actions };
}

/** The live pod by the recorded name (404: gone); its own step, so a failed read is classified. */
async function readLivePod(record: PendingApproval, w: Workloads, ctx: RespondContext): Promise<{ step: StepResult; target: TargetPod }> {
  const { namespace, name } = record.pod;
  let target: TargetPod = {};
  const step = await runStep('approval.pod', async (signal) => {
    try {
      const pod = await withTimeout(`read pod ${namespace}/${name}`, ctx.settings.enrich.callTimeoutMs, signal, (s) => w.readPod(namespace, name, s));
      target = { pod };
      return { uid: pod.uid, approvedUid: record.pod.uid };
    } catch (err) {
      if (classifyError(err).code !== 404) throw err;
      target = { notFound: true };
      return { gone: true };
    }
  }, { timeoutMs: ctx.settings.enrich.callTimeoutMs + 1_000, ...signalOf(ctx) });
  return { step, target };
}

/** approved, unless the live pod was not the approved one (refused, recorded). */
function executedStatus(actions: TriageReport['actions']): { status: ApprovalSection['status']; reason?: string } {
  const replaced = actions.flatMap((a) => a.guards).find((g) => g.name === 'approved-pod' && g.verdict === 'fail');
  return replaced ? { status: 'refused', reason: replaced.reason } : { status: 'approved' };
}

/** Why a denied or expired record was closed, in one line (report, audit, notification). */
function closingReason(record: PendingApproval, decided: Exclude<Decided, 'approved'>, by: DecidedBy): string {
  if (decided === 'denied') return 'a person denied the pending actions: nothing was done';
  if (by === 'sweep') return `no decision came before the pending record expired (${record.expiresAt}): closed by the expiry sweep (scc-responder approvals --expire), nothing was done`;
  return `the approval came after the pending record expired (${record.expiresAt}): nothing was done`;
}

/** Closes a record without acting (deny, expiry): the one place both the function and the sweep close it. */
async function closeUnacted(d: DecisionInput, decided: Exclude<Decided, 'approved'>, approver: Promise<ApprovedBy> | undefined): Promise<ApprovalSection> {
  const reason = closingReason(d.record, decided, d.by);
  d.ctx.audit.warning(reason, { pendingRun: d.record.runId });
  return approvalSection(d.record, decided, { reason, ...(approver ? { approvedBy: await approver } : {}) });
}

/** One decision: executed (approve) or closed (deny, expiry); then marks, results topic, notifications. */
async function runDecision(d: DecisionInput): Promise<TriageReport> {
  const { incident, plan, record, decided, ctx } = d;
  const now = ctx.now ?? (() => new Date());
  const receivedAt = now().toISOString();
  const steps: StepResult[] = [];
  const record1 = (...done: StepResult[]): void => {
    for (const s of done) {
      steps.push(s);
      ctx.audit.step(s);
    }
  };
  // Who set the mark: looked up while the actions run, awaited after them (approver.ts). The
  // sweep closes a record nobody marked: there is nobody to look up.
  const approver = d.by === 'mark' ? lookUpApprover(incident, record, ctx) : undefined;
  let actions: TriageReport['actions'] = [];
  let section: ApprovalSection;
  if (decided === 'approved') {
    const executed = await executeApproved(incident, plan, record, ctx, now);
    record1(...executed.steps);
    actions = executed.actions;
    const s = executedStatus(actions);
    section = approvalSection(record, s.status, { ...(approver ? { approvedBy: await approver } : {}), ...(s.reason ? { reason: s.reason } : {}) });
  } else {
    section = await closeUnacted(d, decided, approver);
  }
  const decision: ResponsePlan = { ...plan, actions: record.actions };
  const report: TriageReport = {
    schemaVersion: REPORT_SCHEMA_VERSION, responder: { name: RESPONDER_NAME, version: ctx.version }, runId: ctx.audit.runId, findingName: incident.findingName,
    receivedAt, completedAt: receivedAt, ...(ctx.envelope ? { envelope: ctx.envelope } : {}), ...(ctx.confirmation ? { confirmation: ctx.confirmation } : {}),
    incident, decision, playbook: buildPlaybookArtefacts(incident), actions, steps, outcome: computeOutcome(steps, actions, decision), approval: section,
  };
  record1(...(await recordResult(report, ctx)));
  report.outcome = computeOutcome(steps, actions, decision);
  if (decided !== 'approved') report.outcome = { ...report.outcome, action: section.status, summary: `${section.status}: ${section.reason ?? ''} (rule ${plan.rule}, run ${record.runId})` };
  report.completedAt = now().toISOString();
  return report;
}
