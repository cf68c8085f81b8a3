// The Cloud Audit Logs query that finds who set a security mark on a finding (approval mode:
// "record who approved"), and the Logs Explorer link that runs the same query for a human.
//
// Every value that reaches the filter is validated first: the finding name against the
// schema's anchored pattern, the mark key against a strict identifier pattern (it becomes a
// field path, which cannot be quoted the way a value is), and the mark value is quoted as a
// string literal (quotes, backslashes and line breaks escaped) after refusing control
// characters and ill-formed UTF-16. Pure: no client library, no clock (callers pass times).
import { logsExplorerUrl, quoteLogValue, scopeOfParent, withTimeWindow, type LogsExplorerScope } from '../common/log-query.js';
import { FINDING_NAME_PATTERN } from './schema.js';

/**
 * Where SCC writes UpdateSecurityMarks: its permission (securitycenter.findingsecuritymarks.update)
 * is DATA_WRITE, so the call goes to the parent's **Data Access** audit log, not Admin Activity
 * (SCC's audit logging reference lists UpdateSecurityMarks, v1, v1beta1, v1p1beta1 and v2, under
 * DATA_WRITE). Data Access logs are written only when enabled for securitycenter.googleapis.com
 * (infra: var.scc_data_write_audit_logs), and reading them needs roles/logging.privateLogViewer.
 */
export const DATA_ACCESS_LOG_ID = 'cloudaudit.googleapis.com%2Fdata_access';
export const SCC_SERVICE_NAME = 'securitycenter.googleapis.com';
/**
 * Matched with `:` (has) so every API version is covered: v1, v2 and the betas all log
 * `google.cloud.securitycenter.<version>.SecurityCenter.UpdateSecurityMarks`. The lookup
 * re-checks the exact shape on each entry it reads (isUpdateSecurityMarksMethod).
 */
export const UPDATE_MARKS_METHOD_SUFFIX = 'SecurityCenter.UpdateSecurityMarks';
/** What the function's identity needs on the finding's parent to read Data Access audit logs. */
export const AUDIT_LOG_READER_ROLE = 'roles/logging.privateLogViewer';

/** A mark key becomes part of a field path: letters, digits and underscores only. */
export const MARK_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,127}$/;
const MAX_MARK_VALUE = 512;
// C0 and C1 controls and DEL: never part of a mark we ask humans to set, and a newline in a
// filter starts a new (implicitly ANDed) clause in Logs Explorer even where the API escapes it.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export interface MarkAuthorQueryInput {
  /** v1 `P/sources/S/findings/F` or v2 `P/sources/S/locations/L/findings/F`. */
  findingName: string;
  markKey: string;
  markValue: string;
  /** Earliest time the mark can have been set (e.g. when the run went pending). */
  since: string | Date;
  /** Latest time to search up to (the caller's "now", plus clock skew). */
  until: string | Date;
}

export interface MarkAuthorQuery {
  /** `organizations/O`, `folders/F` or `projects/P`: whose audit logs hold the call. */
  parent: string;
  /** Full filter for entries.list, including the timestamp window. */
  filter: string;
  /** The same filter without the window (the Logs Explorer link carries its window separately). */
  baseFilter: string;
  start: string;
  end: string;
  /** Logs Explorer, scoped to the parent, running this query over this window. */
  logsExplorerUrl: string;
  /** The finding in v1 spelling, for comparing with the resource name each entry carries. */
  findingV1: string;
}

interface ParsedFinding {
  parentKind: 'organizations' | 'folders' | 'projects';
  parentId: string;
  source: string;
  finding: string;
}

const FINDING_PARTS = /^(organizations|folders|projects)\/([^/]+)\/sources\/([^/]+)(?:\/locations\/[^/]+)?\/findings\/([^/]+)$/;

function parseFinding(name: string): ParsedFinding {
  const m = FINDING_NAME_PATTERN.test(name) ? FINDING_PARTS.exec(name) : null;
  if (!m?.[1] || !m[2] || !m[3] || !m[4]) {
    throw new RangeError(`mark author query: not an SCC finding name: ${JSON.stringify(name.slice(0, 200))}`);
  }
  return { parentKind: m[1] as ParsedFinding['parentKind'], parentId: m[2], source: m[3], finding: m[4] };
}

function checkMark(key: string, value: string): void {
  if (!MARK_KEY_PATTERN.test(key)) throw new RangeError(`mark author query: mark key must match ${MARK_KEY_PATTERN.source}: ${JSON.stringify(key.slice(0, 200))}`);
  if (value.length === 0 || value.length > MAX_MARK_VALUE) throw new RangeError(`mark author query: mark value must be 1-${MAX_MARK_VALUE} characters (got ${value.length})`);
  if (CONTROL.test(value) || !value.isWellFormed()) throw new RangeError('mark author query: mark value holds control characters or ill-formed UTF-16');
}

function scopeOf(f: ParsedFinding): LogsExplorerScope {
  return scopeOfParent(f.parentKind, f.parentId);
}

/**
 * The query for "the UpdateSecurityMarks call that set markKey=markValue on this finding".
 * Throws RangeError (with what was wrong) on any input that is not what SCC and our own
 * approval marks produce; nothing unvalidated reaches the filter.
 */
export function markAuthorQuery(input: MarkAuthorQueryInput): MarkAuthorQuery {
  const f = parseFinding(input.findingName);
  checkMark(input.markKey, input.markValue);
  const parent = `${f.parentKind}/${f.parentId}`;
  // The ids were validated against FINDING_NAME_PATTERN ([A-Za-z0-9_.-] only), and are still
  // quoted like any value. The audit entry's resourceName may be the v1 or the v2 spelling
  // (`/locations/global/` between source and finding) and may end in `/securityMarks`, so
  // it is matched on its two fixed parts; the lookup then compares each entry exactly.
  const baseFilter = [
    `logName=${quoteLogValue(`${parent}/logs/${DATA_ACCESS_LOG_ID}`)}`,
    `protoPayload.serviceName=${quoteLogValue(SCC_SERVICE_NAME)}`,
    `protoPayload.methodName:${quoteLogValue(UPDATE_MARKS_METHOD_SUFFIX)}`,
    `protoPayload.resourceName:${quoteLogValue(`/sources/${f.source}/`)}`,
    `protoPayload.resourceName:${quoteLogValue(`/findings/${f.finding}`)}`,
    `protoPayload.request.securityMarks.marks.${input.markKey}=${quoteLogValue(input.markValue)}`,
  ].join('\n');
  const filter = withTimeWindow(baseFilter, input.since, input.until);
  const start = new Date(input.since).toISOString();
  const end = new Date(input.until).toISOString();
  return {
    parent,
    filter,
    baseFilter,
    start,
    end,
    logsExplorerUrl: logsExplorerUrl(baseFilter, scopeOf(f), start, end),
    findingV1: `${parent}/sources/${f.source}/findings/${f.finding}`,
  };
}

/** True for `google.cloud.securitycenter.<version>.SecurityCenter.UpdateSecurityMarks`. */
export function isUpdateSecurityMarksMethod(method: string | undefined): boolean {
  return method !== undefined && /^google\.cloud\.securitycenter\.v[0-9a-z]+\.SecurityCenter\.UpdateSecurityMarks$/.test(method);
}

/**
 * Whether an audit entry's resourceName names this finding's marks (or the finding):
 * v1 or v2 spelling, with or without a `//securitycenter.googleapis.com/` prefix and a
 * `/securityMarks` suffix. `:` in the filter is a substring match; this is the exact check.
 */
export function namesFindingMarks(resourceName: string | undefined, findingV1: string): boolean {
  if (resourceName === undefined) return false;
  const bare = resourceName
    .replace(/^\/\/securitycenter\.googleapis\.com\//, '')
    .replace(/\/securityMarks$/, '')
    .replace(/\/locations\/[A-Za-z0-9_-]{1,64}\/findings\//, '/findings/');
  return bare === findingV1;
}

/** Service account principals end in `gserviceaccount.com` (user-managed and Google-managed). */
export function isServiceAccountPrincipal(principal: string): boolean {
  return /@([a-z0-9-]+\.)*gserviceaccount\.com$/i.test(principal);
}
