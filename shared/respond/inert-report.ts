// A TriageReport for a finding nothing was run for (no rule applies, or --offline in the
// CLI before any adapter): the incident, the decision and the playbook artefacts, so a
// person still gets the full step-1..6 reading of the finding.
import { buildPlaybookArtefacts } from '../enrich/playbook.js';
import type { Envelope } from '../finding/decode.js';
import type { Incident } from '../finding/types.js';
import type { Decision } from '../policy/types.js';
import { REPORT_SCHEMA_VERSION, type TriageReport } from './report.js';
import { RESPONDER } from '../common/product.js';

export function inertReport(incident: Incident, decision: Decision, options: { runId: string; envelope?: Envelope; now?: Date }): TriageReport {
  const at = (options.now ?? new Date()).toISOString();
  const summary = decision.matched ? `not run: rule ${decision.rule} matched, nothing executed` : `ignored: ${decision.reason}`;
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    responder: RESPONDER,
    runId: options.runId,
    findingName: incident.findingName,
    receivedAt: at,
    completedAt: at,
    ...(options.envelope ? { envelope: options.envelope } : {}),
    incident,
    decision,
    playbook: buildPlaybookArtefacts(incident, {}),
    actions: [],
    steps: [],
    outcome: { verdict: 'ignored', action: decision.matched ? 'none' : 'no-rule', retry: false, summary, failedSteps: [] },
  };
}
