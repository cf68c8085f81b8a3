// handleMessage(): one delivered message, end to end, for both the function and the CLI.
//   decode -> toIncident -> decide -> (already handled? duplicate in flight?) -> respond
// approve mode: when SCC's confirmed copy is awaiting-approval and carries a person's
// approval mark, the decision goes to shared/respond/approval.ts instead of respond().
// Returns what to do with the message: ack (return) or retry (the function throws so
// Pub/Sub redelivers). Nothing here throws for bad input: every rejection is classified,
// logged once with a clear reason, and acked, so a poison message never loops.
import type { DecodeContext, Envelope } from '../finding/decode.js';
import type { ScreenedMessageDecision } from '../policy/decide-message.js';
import type { Incident } from '../finding/types.js';
import type { Decision, ResponsePlan } from '../policy/types.js';
import type { AuditLog, FindingAudit } from '../record/audit-log.js';
import { decidedClaimView, inProgressError, type Finish, type Idempotency } from '../record/idempotency.js';
import { isHandled } from '../record/marks.js';
import { findingFolder } from '../ledger/layout.js';
import { renderMarkdown } from './render.js';
import { REPORT_SCHEMA_VERSION, type TriageReport } from './report.js';
import type { PipelineAdapters, RespondContext } from './pipeline.js';
import { classifyError } from '../common/errors.js';
import { raceAbort, startDeadline } from '../common/time.js';
import { confirmationNote, type Confirmation } from './confirm.js';
import type { decideApproval as DecideApproval } from './approval.js';

export type Disposition =
  | 'rejected' // malformed message: acked with an ERROR entry
  | 'ignored' // valid, but no rule covers it (or not a GKE finding): acked with an INFO entry
  | 'already-handled' // our marks are on the finding (SCC re-notified after our own update)
  | 'not-confirmed' // SCC does not confirm the message (forged, stale, muted, inactive...): acked with a WARNING entry
  | 'approval-refused' // an approval mark that cannot apply (another run, no pending record, invalid): acked with a WARNING entry
  | 'duplicate' // the same finding is being handled right now in this instance
  | 'handled'
  | 'partial'
  | 'retry'
  | 'failed';

export interface HandleResult {
  disposition: Disposition;
  /** True when the caller must make the delivery fail (the function throws -> Pub/Sub retries). */
  retry: boolean;
  message: string;
  findingName?: string;
  incident?: Incident;
  decision?: Decision;
  /** This delivery's report or, for an already-handled finding, the stored report of the run that handled it. */
  report?: TriageReport;
  /** Where this run's report was stored (URIs), when it was. */
  stored?: { json: string; markdown?: string };
  envelope?: Envelope;
}

export interface HandlerRuntime {
  audit: AuditLog;
  /**
   * decode -> Incident -> decision. The function uses the screening fast path (a category
   * no rule covers is answered from the header alone); the CLI decodes fully so it can show
   * the whole reading of any finding.
   */
  screen(input: unknown, context: DecodeContext): ScreenedMessageDecision;
  /** Builds (once, lazily) the adapters: a non-matching message never loads a Google client. */
  adapters(): Promise<PipelineAdapters>;
  /** Everything respond() needs besides the adapters and the per-finding audit. */
  respondContext(): Promise<Omit<RespondContext, 'adapters' | 'audit' | 'envelope'>>;
  respond(incident: Incident, plan: ResponsePlan, ctx: RespondContext): Promise<TriageReport>;
  /**
   * Reads the finding from SCC and compares it with the message (shared/respond/confirm.ts).
   * Nothing touches a cluster, runs a log query or writes before it resolves; it may start
   * locating the cluster through the GKE API meanwhile.
   */
  confirm(incident: Incident, plan: ResponsePlan): Promise<Confirmation>;
  /** Duplicate safety (single flight + store claims); built with the evidence store. */
  idempotency(): Promise<Idempotency>;
  /** Take the store claim alongside the response's reads instead of before them (function: critical path). */
  claimConcurrently?: boolean;
  /**
   * The whole finding's deadline (SCC_RESPONDER_DEADLINE_SECONDS): past it the response is
   * abandoned, every step still running is aborted, and the delivery is retried.
   */
  deadlineMs?: number;
  /** Run again even when the finding was completed before (CLI --rerun). */
  rerun?: boolean;
  /** Clock of the confirmation window and of an approval's expiry (tests replaying fixed times). */
  now?: () => Date;
}

/**
 * Whether a run changed anything outside the evidence store: cluster writes attempted in
 * enforce mode, marks or a published result, or effects of earlier attempts. A run that did
 * none of these does not complete the finding, so the next run (a new kubeconfig, a new
 * policy) reads everything again instead of being shown this report.
 */
export function tookEffects(r: TriageReport): boolean {
  if ((r.priorEffects?.length ?? 0) > 0) return true;
  if (r.actions.some((a) => a.mode === 'enforce' && a.writes.some((w) => w.attempted))) return true;
  return r.steps.some((s) => (s.name === 'record.marks' || s.name === 'record.publish') && s.status === 'ok');
}

export async function handleMessage(input: unknown, runtime: HandlerRuntime, decodeContext: DecodeContext = {}): Promise<HandleResult> {
  const screened = runtime.screen(input, decodeContext);
  if (screened.stage === 'decode') {
    const { error } = screened;
    runtime.audit.event(`message rejected: ${error.message}`, { reason: error.code, path: error.path, envelope: error.envelope }, { severity: 'ERROR' });
    return { disposition: 'rejected', retry: false, message: error.message };
  }
  const { envelope } = screened;
  if (screened.stage === 'screen') {
    // The fast path: a category no rule covers, answered from the finding's header alone.
    if (runtime.audit.enabled('INFO')) {
      runtime.audit.event(`finding not handled: ${screened.decision.reason}`, { category: screened.finding.category, messageId: envelope.messageId }, { severity: 'INFO', operationId: screened.finding.name });
    }
    return { disposition: 'ignored', retry: false, message: screened.decision.reason, findingName: screened.finding.name, decision: screened.decision, envelope };
  }
  if (screened.stage === 'incident') {
    runtime.audit.event(`message rejected: ${screened.error.message}`, { reason: screened.error.code, path: screened.error.path, messageId: envelope.messageId }, { severity: 'ERROR' });
    return { disposition: 'rejected', retry: false, message: screened.error.message, envelope };
  }
  const { incident, decision } = screened;
  if (!decision.matched) {
    if (runtime.audit.enabled('INFO')) {
      runtime.audit.event(`finding not handled: ${decision.reason}`, { category: incident.category, state: incident.state, messageId: envelope.messageId }, { severity: 'INFO', operationId: incident.findingName });
    }
    return { disposition: 'ignored', retry: false, message: decision.reason, findingName: incident.findingName, incident, decision, envelope };
  }
  if (isHandled(incident.securityMarks)) {
    runtime.audit.event('finding already handled (our security marks are on it): acknowledged without acting again', { marks: incident.securityMarks, messageId: envelope.messageId }, { severity: 'INFO', operationId: incident.findingName });
    return { disposition: 'already-handled', retry: false, message: 'already handled', findingName: incident.findingName, incident, decision, envelope };
  }

  return runMatched(incident, decision, envelope, runtime);
}

/**
 * What a confirmation means for this delivery: a result to return now (not confirmed, SCC
 * unavailable, already handled), or the incident and plan to act on (SCC's copy, re-decided).
 */
function confirmationGate(c: Confirmation, incident: Incident, plan: ResponsePlan, envelope: Envelope, audit: FindingAudit): { result: HandleResult } | { incident: Incident; plan: ResponsePlan } | { approval: Extract<Confirmation, { status: 'approval' }> } {
  const base = { findingName: incident.findingName, incident, decision: plan, envelope };
  switch (c.status) {
    case 'refused': {
      const message = `finding not confirmed by SCC: ${c.reasons.join('; ')}`;
      audit.summary({ verdict: 'not-confirmed', action: 'none', outcome: 'completed', severity: 'WARNING', details: { reasons: c.reasons } }, message);
      return { result: { disposition: 'not-confirmed', retry: false, message, ...base } };
    }
    case 'unavailable': {
      const message = `SCC unavailable, the finding cannot be confirmed yet: ${c.reason}`;
      audit.summary({ verdict: 'retry', action: 'none', outcome: 'retry', details: { reason: c.reason } }, message);
      return { result: { disposition: 'retry', retry: true, message, ...base } };
    }
    case 'already-handled':
      audit.summary({ verdict: 'duplicate', action: 'none', outcome: 'completed', details: { reason: "SCC's copy carries our security marks" } }, 'finding already handled (our security marks are on SCC\'s copy): acknowledged without acting again');
      return { result: { disposition: 'already-handled', retry: false, message: 'already handled', ...base } };
    case 'unconfirmed':
      audit.warning(`finding NOT confirmed by SCC (proceeding on the file's copy): ${c.reason}`);
      for (const w of c.warnings) audit.warning(w);
      return { incident, plan };
    case 'approval':
      audit.info("finding confirmed by SCC: its copy carries a person's approval mark");
      return { approval: c };
    case 'confirmed':
      audit.info('finding confirmed by SCC: acting on SCC\'s copy');
      for (const w of c.warnings) audit.warning(w);
      return { incident: c.incident, plan: c.plan };
  }
}

/**
 * Approval mode's decision, imported when an approval arrives: it brings the pipeline's
 * stages, which start-up and a non-matching message must not load.
 */
async function approvalDecision(...args: Parameters<typeof DecideApproval>): ReturnType<typeof DecideApproval> {
  const { decideApproval } = await import('./approval.js');
  return decideApproval(...args);
}

async function runMatched(incident: Incident, plan: ResponsePlan, envelope: Envelope, runtime: HandlerRuntime): Promise<HandleResult> {
  const audit = runtime.audit.forFinding(incident.findingName, {
    ...(incident.cluster ? { cluster: incident.cluster.name, project: incident.cluster.project } : {}),
    ...(incident.namespace ? { namespace: incident.namespace } : {}),
    ...(incident.pod ? { pod: incident.pod } : {}),
    category: incident.category,
    rule: plan.rule,
    mode: plan.mode,
  });
  audit.received({
    category: incident.category,
    severity: incident.severity,
    eventTime: incident.eventTime,
    apiVersion: incident.apiVersion,
    ...(envelope.messageId ? { messageId: envelope.messageId } : {}),
    ...(envelope.publishTime ? { publishTime: envelope.publishTime } : {}),
  });
  audit.decision({ matched: true, rule: plan.rule, mode: plan.mode, actions: plan.actions.map((a) => a.type), requireEvidence: plan.requireEvidence });
  const deadline = runtime.deadlineMs === undefined ? undefined : startDeadline(`finding ${incident.findingName}`, runtime.deadlineMs);
  try {
    // Trust nothing the message says until SCC confirms it: from here on, SCC's copy.
    const confirmation = await raceAbort(runtime.confirm(incident, plan), deadline?.signal);
    const gate = confirmationGate(confirmation, incident, plan, envelope, audit);
    if ('result' in gate) return gate.result;
    if ('approval' in gate) return await approvalDecision(gate.approval, { envelope, audit, runtime, ...(deadline ? { signal: deadline.signal } : {}) });
    ({ incident, plan } = gate);
    const note = confirmationNote(confirmation);
    const [adapters, base0] = await Promise.all([runtime.adapters(), runtime.respondContext()]);
    const base = note ? { ...base0, confirmation: note } : base0;
    // At most one execution per finding: single flight in this instance, a create-only claim
    // in the evidence store across instances; report.json is the "completed" record.
    const idem = await runtime.idempotency();
    const runInput = { findingName: incident.findingName, folder: findingFolder(incident), runId: audit.runId, ...(runtime.rerun ? { force: true } : {}) };
    const finish = (r: TriageReport): Finish => {
      if (r.outcome.retry) return { release: r.outcome.summary };
      const record = { report: r, markdown: renderMarkdown(r) };
      return tookEffects(r) ? { complete: record } : { keep: record, reason: 'the run took no effect (nothing written to the cluster, no marks, nothing published)' };
    };
    // The function claims concurrently (reads start at once, effects wait for the claim); the
    // CLI claims first, so triaging a handled finding again makes no call at all.
    // Within the deadline: a step that ignores its signal is abandoned, and the claim released.
    const within = (ctx: RespondContext): Promise<TriageReport> => (deadline ? raceAbort(runtime.respond(incident, plan, { ...ctx, signal: deadline.signal }), deadline.signal) : runtime.respond(incident, plan, ctx));
    const result = runtime.claimConcurrently
      ? await idem.runConcurrently(runInput, (admit, claim) => within({ ...base, adapters, audit, envelope, admit, claim }), finish)
      : await idem.run(runInput, (claim) => within({ ...base, adapters, audit, envelope, claim: decidedClaimView(claim) }), finish);
    if (result.status === 'already-completed') {
      audit.summary({ verdict: 'duplicate', action: 'none', outcome: 'completed', details: { reason: 'report.json exists: the finding was handled by an earlier delivery' } }, 'finding already handled (report object exists): acknowledged without acting again');
      const stored = result.report as Partial<TriageReport> | null;
      return {
        disposition: 'already-handled', retry: false, message: 'already handled (report object exists)', findingName: incident.findingName, incident, decision: plan, envelope,
        ...(stored && stored.schemaVersion === REPORT_SCHEMA_VERSION ? { report: stored as TriageReport } : {}),
      };
    }
    if (result.status === 'in-progress') {
      const err = inProgressError(incident.findingName, result.holder);
      audit.summary({ verdict: 'retry', action: 'none', outcome: 'retry', details: { reason: err.message } }, err.message);
      return { disposition: 'retry', retry: true, message: err.message, findingName: incident.findingName, incident, decision: plan, envelope };
    }
    const report = result.value;
    if (result.shared) {
      return { disposition: report.outcome.retry ? 'retry' : 'duplicate', retry: report.outcome.retry, message: `duplicate delivery handled by a concurrent run: ${report.outcome.summary}`, findingName: incident.findingName, incident, decision: plan, report, envelope };
    }
    audit.summary({
      verdict: report.outcome.verdict,
      action: report.outcome.action,
      outcome: report.outcome.retry ? 'retry' : report.outcome.verdict === 'failed' ? 'failed' : 'completed',
      rule: plan.rule,
      mode: plan.mode,
      durations: Object.fromEntries(report.steps.map((s) => [s.name, s.durationMs])),
      ...(report.evidence && report.evidence.outcome !== 'failed' ? { evidenceUri: report.evidence.object.uri } : {}),
      details: { failedSteps: report.outcome.failedSteps },
    }, report.outcome.summary);
    const disposition = report.outcome.verdict;
    const stored = result.stored ? { stored: { json: result.stored.json.uri, ...(result.stored.markdown ? { markdown: result.stored.markdown.uri } : {}) } } : {};
    return { disposition, retry: report.outcome.retry, message: report.outcome.summary, findingName: incident.findingName, incident, decision: plan, report, envelope, ...stored };
  } catch (err) {
    // Only a bug or a broken adapter construction gets here: classify, record, decide.
    const c = classifyError(err);
    audit.summary({ verdict: 'failed', action: 'none', outcome: c.kind === 'transient' ? 'retry' : 'failed', details: { error: c.reason, code: c.code } }, `response failed: ${c.reason}`);
    return { disposition: c.kind === 'transient' ? 'retry' : 'failed', retry: c.kind === 'transient', message: c.reason, findingName: incident.findingName, incident, decision: plan, envelope };
  } finally {
    deadline?.clear();
  }
}
