// Cloud Logging query-language helpers: quoting values into string literals, adding a
// timestamp window (the API silently adds "last 24 h" when a filter has none), and Logs
// Explorer deep links. Used by the playbook's step 4 (shared/enrich/playbook.ts) and by the
// approval author lookup (shared/finding/mark-author-query.ts), hence on the lowest floor. Pure.

/**
 * A Logging query-language string literal. Backslash and double quote are escaped; line
 * breaks and tabs become escapes too, so a hostile value cannot start a new filter line
 * (a new line is an implicit AND in Logs Explorer).
 */
export function quoteLogValue(value: string): string {
  const escaped = value
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t');
  return `"${escaped}"`;
}

function isoOf(t: string | Date, what: string): string {
  const d = typeof t === 'string' ? new Date(t) : t;
  if (Number.isNaN(d.getTime())) throw new RangeError(`withTimeWindow: ${what} is not a valid time`);
  return d.toISOString();
}

/** The filter restricted to [start, end] (inclusive), for entries.list and getEntries. */
export function withTimeWindow(filter: string, start: string | Date, end: string | Date): string {
  const from = isoOf(start, 'start');
  const to = isoOf(end, 'end');
  return `${filter}\ntimestamp>=${quoteLogValue(from)}\ntimestamp<=${quoteLogValue(to)}`;
}

/**
 * encodeURIComponent leaves !'()* alone; Logs Explorer's matrix parameters need them encoded.
 * It also throws URIError on a lone UTF-16 surrogate, which a hostile finding can carry:
 * such code units become U+FFFD first (toWellFormed), so a link never breaks the response.
 */
export function encodeUrlPart(value: string): string {
  return encodeURIComponent(value.toWellFormed()).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Which resource's logs a Logs Explorer link opens (findings may live under any of the three). */
export type LogsExplorerScope = { project: string } | { organization: string } | { folder: string };

/** The scope of a resource parent as SCC names it (`organizations`/`folders`/`projects`, id). */
export function scopeOfParent(kind: string, id: string): LogsExplorerScope {
  if (kind === 'organizations') return { organization: id };
  if (kind === 'folders') return { folder: id };
  return { project: id };
}

/** The console's query parameter selecting the scope (`?project=`, `?organizationId=`, `?folder=`). */
function scopeParam(scope: LogsExplorerScope): string {
  if ('project' in scope) return `project=${encodeUrlPart(scope.project)}`;
  if ('organization' in scope) return `organizationId=${encodeUrlPart(scope.organization)}`;
  return `folder=${encodeUrlPart(scope.folder)}`;
}

/** https://console.cloud.google.com/logs/query;query=...[;startTime=...;endTime=...]?project=... */
function consoleUrl(filter: string, project: string | LogsExplorerScope | undefined, window: string): string {
  const scope = typeof project === 'string' ? { project } : project;
  return `https://console.cloud.google.com/logs/query;query=${encodeUrlPart(filter)}${window}${scope === undefined ? '' : `?${scopeParam(scope)}`}`;
}

/** The query over a time window (the console's own default window when a link has none is one hour). */
export function logsExplorerUrl(filter: string, project: string | LogsExplorerScope, start: string | Date, end: string | Date): string {
  // ISO timestamps are [0-9T:.Z-] only: written as Google's own examples write them.
  return consoleUrl(filter, project, `;startTime=${isoOf(start, 'start')};endTime=${isoOf(end, 'end')}`);
}

/** The query with no time window, for a link whose time is not known when it is written (no scope: the console's current one). */
export function logsExplorerQueryUrl(filter: string, project?: string | LogsExplorerScope): string {
  return consoleUrl(filter, project, '');
}
