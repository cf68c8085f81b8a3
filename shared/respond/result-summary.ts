// What the results topic carries: a summary of the TriageReport, not the report itself.
// Subscribers (ticketing, chat, SIEM) get what happened and where; the full report stays in
// the evidence store. Process arguments are left out unless the policy asks
// (`results.includeArguments`): they are attacker-chosen text that often carries credentials,
// and even redacted they are not needed to route an alert. Pure.
import { RESULT_SCHEMA } from '../record/result-publisher.js';
import type { TriageReport } from './report.js';

export interface ResultSummaryOptions {
  includeArguments: boolean;
}

export function resultSummary(report: TriageReport, options: ResultSummaryOptions): Record<string, unknown> {
  const i = report.incident;
  const e = report.evidence;
  const manifest = e && e.outcome !== 'failed' ? e.manifest : null;
  return {
    schema: RESULT_SCHEMA,
    responder: report.responder,
    runId: report.runId,
    findingName: report.findingName,
    receivedAt: report.receivedAt,
    completedAt: report.completedAt,
    ...(report.confirmation ? { confirmation: report.confirmation } : {}),
    // How the notification arrived (envelope kind, event type, message id): no finding data.
    ...(report.envelope ? { envelope: report.envelope } : {}),
    finding: {
      category: i.category,
      severity: i.severity,
      state: i.state,
      eventTime: i.eventTime,
      ...(i.cluster ? { cluster: { project: i.cluster.project, location: i.cluster.location, name: i.cluster.name } } : {}),
      namespace: i.namespace,
      pod: i.pod,
      container: i.container,
      imageUri: i.imageUri,
      imageId: i.imageId,
      node: i.node,
      binary: i.binary ? { path: i.binary.path, sha256: i.binary.sha256, size: i.binary.size } : undefined,
      ...(options.includeArguments ? { args: i.args } : { argsCount: i.args.length }),
      virusTotalUrl: i.virusTotalUrl,
      mitre: { tactic: i.mitre.tactic, techniques: i.mitre.techniques.map((t) => t.id ?? t.name) },
    },
    decision: report.decision.matched
      ? { matched: true, rule: report.decision.rule, mode: report.decision.mode, actions: report.decision.actions.map((a) => a.type) }
      : { matched: false, reason: report.decision.reason },
    evidence: e
      ? e.outcome === 'failed'
        ? { outcome: 'failed', reason: e.reason }
        : { outcome: e.outcome, uri: e.object.uri, hashVerdict: manifest?.verdict }
      : undefined,
    actions: report.actions.map((a) => ({ type: a.type, mode: a.mode, status: a.status, detail: a.detail })),
    steps: report.steps.map((s) => ({ name: s.name, status: s.status, ...(s.failure ? { failure: s.failure } : {}), ...(s.reason ? { reason: s.reason } : {}) })),
    outcome: report.outcome,
    // approve mode: what waits and the exact approve/deny commands, or the decision taken.
    ...(report.approval ? { approval: report.approval } : {}),
  };
}
