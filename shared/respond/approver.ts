// Who decided a pending approval: the principal of the UpdateSecurityMarks call that set the
// approval mark, from Cloud Audit Logs (shared/gcp findMarkAuthor), else where the audit log
// holds it. Started when the decision is taken and awaited only after its actions ran, so the
// lookup (a Data Access log query, eventually consistent) never delays containment.
import { approvalAuditLink } from '../finding/approval-commands.js';
import type { Incident } from '../finding/types.js';
import { APPROVAL_MARK_KEY } from '../record/marks.js';
import type { PendingApproval } from './approval-record.js';
import { signalOf, type RespondContext } from './context.js';
import type { ApprovalSection } from './report.js';

export type ApprovedBy = NonNullable<ApprovalSection['approvedBy']>;

/** The mark's value on SCC's confirmed copy (keys compare case-insensitively in SCC). */
function approvalMarkValue(incident: Incident): string | undefined {
  return Object.entries(incident.securityMarks ?? {}).find(([k]) => k.toLowerCase() === APPROVAL_MARK_KEY)?.[1];
}

export async function lookUpApprover(incident: Incident, record: PendingApproval, ctx: RespondContext): Promise<ApprovedBy> {
  const fallback = `see Cloud Audit Logs: ${approvalAuditLink(incident.findingName)}`;
  const lookup = ctx.adapters.markAuthors;
  const markValue = approvalMarkValue(incident);
  if (!lookup || markValue === undefined) return { lookup: fallback };
  const found = await lookup.findMarkAuthor({ findingName: incident.findingName, markKey: APPROVAL_MARK_KEY, markValue, since: record.createdAt, ...signalOf(ctx) });
  if (found.principal !== undefined) {
    return { principal: `${found.principal}${found.serviceAccount ? ' (a service account)' : ''}`, lookup: `Cloud Audit Logs entry of ${found.at}: ${found.logsExplorerUrl}` };
  }
  return { lookup: `${found.reason}; see Cloud Audit Logs: ${found.logsExplorerUrl ?? approvalAuditLink(incident.findingName)}` };
}
