// The exact commands a person runs to approve or deny an approve-mode finding's pending
// actions: `gcloud scc findings update-marks` with the finding id, its parent flag
// (--organization, --folder or --project), --source, --location for v2 names, and an update
// mask naming only the approval mark (an empty mask would replace every mark on the finding).
// Flags as documented for `gcloud scc findings update-marks` (FINDING positional;
// --organization | --folder | --project; --source; --location, default global;
// --security-marks KEY=VALUE; --update-mask marks.KEY). Pure; argv first, the shell text is
// only for display (every part is from a validated finding name: no quoting needed, but it is
// quoted anyway when a part is not plain).
import { ResponderError } from '../common/errors.js';
import { logsExplorerQueryUrl, scopeOfParent } from '../common/log-query.js';

/** Kept equal to shared/record/marks.ts APPROVAL_MARK_KEY by a unit test (this floor cannot import it). */
export const APPROVAL_MARK = 'scc_responder_approval';

const NAME = /^(organizations|folders|projects)\/([^/]+)\/sources\/([^/]+)(?:\/locations\/([^/]+))?\/findings\/([^/]+)$/;
const PARENT_FLAG = { organizations: '--organization', folders: '--folder', projects: '--project' } as const;
const PLAIN = /^[A-Za-z0-9_.:=,/@-]+$/;

export interface ApprovalCommands {
  approve: string;
  deny: string;
  approveArgv: string[];
  denyArgv: string[];
}

function shellWord(w: string): string {
  return PLAIN.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

/** argv of `gcloud scc findings update-marks` setting the approval mark to `<verb>:<runId>`. */
export function approvalArgv(findingName: string, verb: 'approve' | 'deny', runId: string): string[] {
  const m = NAME.exec(findingName);
  if (!m) throw new ResponderError(`not an SCC finding name: ${JSON.stringify(findingName.slice(0, 300))}`, 'permanent', { code: 'INVALID_FINDING_NAME' });
  if (!/^[A-Za-z0-9-]{1,100}$/.test(runId)) throw new ResponderError(`not a run id: ${JSON.stringify(runId.slice(0, 120))}`, 'permanent', { code: 'INVALID_RUN_ID' });
  const [, kind, parent, source, location, id] = m as unknown as [string, keyof typeof PARENT_FLAG, string, string, string | undefined, string];
  return [
    'gcloud', 'scc', 'findings', 'update-marks', id,
    `${PARENT_FLAG[kind]}=${parent}`,
    `--source=${source}`,
    ...(location === undefined ? [] : [`--location=${location}`]),
    `--security-marks=${APPROVAL_MARK}=${verb}:${runId}`,
    `--update-mask=marks.${APPROVAL_MARK}`,
  ];
}

/** Both commands, as argv and as one line to paste. */
export function approvalCommands(findingName: string, runId: string): ApprovalCommands {
  const approveArgv = approvalArgv(findingName, 'approve', runId);
  const denyArgv = approvalArgv(findingName, 'deny', runId);
  return { approve: approveArgv.map(shellWord).join(' '), deny: denyArgv.map(shellWord).join(' '), approveArgv, denyArgv };
}

/**
 * Logs Explorer query for who set the approval mark: the UpdateSecurityMarks call on this
 * finding in Cloud Audit Logs (its principal is the approver). The lookup itself lives in
 * shared/gcp (findMarkAuthor); this link is what the report shows when it is not wired.
 */
export function approvalAuditLink(findingName: string): string {
  const m = NAME.exec(findingName);
  const id = m?.[5] ?? findingName;
  const query = `protoPayload.methodName:"UpdateSecurityMarks"\nprotoPayload.resourceName:"findings/${id}"`;
  return logsExplorerQueryUrl(query, m ? scopeOfParent(m[1] ?? '', m[2] ?? '') : undefined);
}
