// Who set a security mark on a finding, from Cloud Audit Logs: the newest Data Access
// (DATA_WRITE) entry of an UpdateSecurityMarks call that set markKey=markValue on that finding since a
// given time. Used by approval mode to record who approved (or denied) a pending run.
//
// Bounded: one page of at most 5 entries, newest first, one call under a deadline (gax's
// own timeout and an AbortSignal race, whichever fires first). Never throws: a failure is a
// reason the caller records ("the audit log holds it", with the Logs Explorer link), since
// not knowing the approver must never block or fail the approved action.
import type { Entry, GetEntriesResponse } from '@google-cloud/logging';
import type { CallOptions } from 'google-gax';
import type { MarkAuthor, MarkAuthorRequest, MarkAuthorUnknown } from '../ports.js';
import { classifyError } from '../common/errors.js';
import { raceAbort } from '../common/time.js';
import {
  AUDIT_LOG_READER_ROLE,
  isServiceAccountPrincipal,
  isUpdateSecurityMarksMethod,
  markAuthorQuery,
  namesFindingMarks,
  type MarkAuthorQuery,
} from '../finding/mark-author-query.js';
import { auditOf, isoOf, isRec } from './log-entry-decode.js';

export const MARK_AUTHOR_DEFAULTS = {
  /** The whole lookup, including the gRPC call. */
  timeoutMs: 10_000,
  /** Entries read (1-5): the newest few, so a failed call logged after the real one cannot hide it. */
  pageSize: 5,
  /** Added to "now" for the window's end: the audit entry is stamped by Google's clock, not ours. */
  clockSkewMs: 300_000,
} as const;

export interface MarkAuthorLookupOptions {
  timeoutMs?: number;
  pageSize?: number;
  clockSkewMs?: number;
  /** Per-call gax options (tests pass `{ maxRetries: 0 }`); the timeout is set from timeoutMs. */
  gaxOptions?: CallOptions;
  now?: () => Date;
}

/** The one entries.list request the lookup sends. */
export interface AuditEntriesRequest {
  filter: string;
  resourceNames: string[];
  orderBy: 'timestamp desc';
  pageSize: number;
  autoPaginate: false;
  gaxOptions: CallOptions;
}

/** The getEntries call: Logging.getEntries with errors given context (CloudLoggingSearch's client). */
export type GetEntries = (request: AuditEntriesRequest) => Promise<GetEntriesResponse>;

const clampPage = (n: number | undefined): number => Math.max(1, Math.min(5, Math.floor(n ?? MARK_AUTHOR_DEFAULTS.pageSize)));

function unknownAuthor(reason: string, query?: MarkAuthorQuery): MarkAuthorUnknown {
  return { principal: undefined, reason, ...(query ? { logsExplorerUrl: query.logsExplorerUrl } : {}) };
}

/** The reason for a failed call, naming the role when the answer was PERMISSION_DENIED. */
function failureReason(err: unknown, query: MarkAuthorQuery, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `the audit log lookup on ${query.parent} did not answer within ${timeoutMs} ms; the Data Access audit log holds who set the mark`;
  const c = classifyError(err);
  if (c.code === 'PERMISSION_DENIED' || c.code === 7) {
    return (
      `the function may not read ${query.parent}'s Data Access audit log (PERMISSION_DENIED): grant its service account ` +
      `${AUDIT_LOG_READER_ROLE} on ${query.parent}; until then the audit log holds who set the mark`
    );
  }
  if (c.code === 'TIMEOUT' || c.code === 'DEADLINE_EXCEEDED' || c.code === 4) {
    return `the audit log lookup on ${query.parent} timed out (${c.reason}); the Data Access audit log holds who set the mark`;
  }
  return `the audit log lookup on ${query.parent} failed (${c.code ?? c.kind}: ${c.reason}); the Data Access audit log holds who set the mark`;
}

/** The newest entry that is a successful UpdateSecurityMarks on this finding, as a found author. */
function authorOf(entries: readonly Entry[], query: MarkAuthorQuery): MarkAuthor {
  let skipped = 0;
  for (const entry of entries) {
    const m = isRec(entry.metadata) ? entry.metadata : {};
    const audit = auditOf(m['protoPayload']) ?? auditOf(entry.data);
    // The filter's `:` matches are substrings, and a refused call (status set) is logged
    // too: someone without the marks role trying to approve must not be named as approver.
    const ok = audit && isUpdateSecurityMarksMethod(audit.methodName) && namesFindingMarks(audit.resourceName, query.findingV1) && !audit.statusCode;
    if (!ok) {
      skipped++;
      continue;
    }
    const at = isoOf(m['timestamp']);
    if (!audit.principalEmail || !at) {
      return unknownAuthor(`the UpdateSecurityMarks entry on ${query.parent} has no ${at ? 'principal email (e.g. a federated identity)' : 'timestamp'}; the audit log holds the call`, query);
    }
    const logName = typeof m['logName'] === 'string' ? m['logName'] : undefined;
    return {
      principal: audit.principalEmail,
      serviceAccount: isServiceAccountPrincipal(audit.principalEmail),
      at,
      ...(logName ? { logName } : {}),
      logsExplorerUrl: query.logsExplorerUrl,
    };
  }
  const why = skipped > 0 ? ` (${skipped} newer entr${skipped === 1 ? 'y' : 'ies'} were refused calls or other resources)` : '';
  return unknownAuthor(
    `no Data Access audit entry on ${query.parent} sets that mark on this finding since ${query.start}${why}; ` +
      `SCC logs mark changes only where Data Access audit logs (DATA_WRITE) are enabled for securitycenter.googleapis.com on ${query.parent}, ` +
      'and entries can take a minute to become searchable',
    query,
  );
}

/** Who set `markKey=markValue` on the finding since `since`. Resolves in every case. */
export async function findMarkAuthor(getEntries: GetEntries, request: MarkAuthorRequest, options: MarkAuthorLookupOptions = {}): Promise<MarkAuthor> {
  const now = options.now?.() ?? new Date();
  const timeoutMs = options.timeoutMs ?? MARK_AUTHOR_DEFAULTS.timeoutMs;
  let query: MarkAuthorQuery;
  try {
    query = markAuthorQuery({ ...request, until: new Date(now.getTime() + (options.clockSkewMs ?? MARK_AUTHOR_DEFAULTS.clockSkewMs)) });
  } catch (err) {
    return unknownAuthor(`no audit log lookup: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (request.signal?.aborted) return unknownAuthor('the audit log lookup was cancelled before it started', query);
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = request.signal ? AbortSignal.any([deadline, request.signal]) : deadline;
  try {
    const [entries] = await raceAbort(
      getEntries({
        filter: query.filter,
        resourceNames: [query.parent],
        orderBy: 'timestamp desc',
        pageSize: clampPage(options.pageSize),
        autoPaginate: false,
        gaxOptions: { ...options.gaxOptions, timeout: timeoutMs },
      }),
      signal,
      'audit log lookup aborted',
    );
    return authorOf(entries, query);
  } catch (err) {
    if (request.signal?.aborted && !deadline.aborted) return unknownAuthor('the audit log lookup was cancelled; the audit log holds who set the mark', query);
    return unknownAuthor(failureReason(err, query, deadline.aborted, timeoutMs), query);
  }
}
