// LogSearch over Cloud Logging (`Logging.getEntries`, entries.list). Bounded on every axis:
// the filter must carry its own timestamp window (getEntries silently appends "last 24 h"
// otherwise), pages are fetched one at a time (autoPaginate off) and the loop stops at the
// entry cap or the byte cap, whichever comes first. Audit entries' protoPayload (an Any of
// google.cloud.audit.AuditLog) is decoded for principal, method and resource.
import { Logging, type Entry, type GetEntriesResponse, type LoggingOptions } from '@google-cloud/logging';
import type { CallOptions } from 'google-gax';
import type { LogEntryView, LogQuery, LogSearch, MarkAuthor, MarkAuthorLookup, MarkAuthorRequest } from '../ports.js';
import { ResponderError } from '../common/errors.js';
import { auditOf, isoOf, isRec, type Rec } from './log-entry-decode.js';
import { googleApiError } from '../common/gax-errors.js';
import { abortReason, raceAbort } from '../common/time.js';
import { findMarkAuthor, type MarkAuthorLookupOptions } from './mark-author-lookup.js';

/** Largest page asked for (the API allows 1000; small pages keep the byte cap honest). */
export const MAX_PAGE_SIZE = 200;
const TEXT_CHARS = 2000;

export interface CloudLoggingSearchOptions {
  /** Per-call gax options (tests pass `{ maxRetries: 0 }`; production may set `timeout`). */
  gaxOptions?: CallOptions;
  orderBy?: 'timestamp asc' | 'timestamp desc';
  /** Bounds of findMarkAuthor (its gaxOptions default to the ones above). */
  markAuthor?: MarkAuthorLookupOptions;
}

/** The subset of getEntries' request we send. */
interface EntriesRequest {
  filter: string;
  resourceNames: string[];
  orderBy: string;
  pageSize: number;
  pageToken?: string;
  autoPaginate: false;
  gaxOptions?: CallOptions;
}

function oneLine(s: string): string {
  const flat = s.replace(/\s*\n\s*/g, ' ').trim();
  return flat.length > TEXT_CHARS ? `${flat.slice(0, TEXT_CHARS)}…` : flat;
}

function textOfJson(o: Rec): string {
  for (const k of ['message', 'msg', 'log', 'MESSAGE', 'textPayload']) {
    if (typeof o[k] === 'string') return o[k];
  }
  return JSON.stringify(o);
}

/** One entry as the report shows it. */
export function entryView(entry: Pick<Entry, 'metadata' | 'data'>): LogEntryView {
  const m = entry.metadata as Rec;
  const view: LogEntryView = { text: '' };
  const ts = isoOf(m['timestamp']);
  if (ts) view.timestamp = ts;
  if (typeof m['severity'] === 'string') view.severity = m['severity'];
  else if (typeof m['severity'] === 'number') view.severity = String(m['severity']);
  if (typeof m['logName'] === 'string') view.logName = m['logName'];
  const audit = auditOf(m['protoPayload']) ?? auditOf(entry.data);
  if (audit) {
    if (audit.principalEmail) view.principal = audit.principalEmail;
    if (audit.methodName) view.method = audit.methodName;
    if (audit.resourceName) view.resourceName = audit.resourceName;
    view.text = oneLine(`${audit.methodName ?? 'audit'} ${audit.resourceName ?? ''} by ${audit.principalEmail ?? 'unknown principal'}${audit.statusCode ? ` (status ${audit.statusCode}${audit.statusMessage ? `: ${audit.statusMessage}` : ''})` : ''}`);
    return view;
  }
  const data = entry.data;
  if (typeof data === 'string') view.text = oneLine(data);
  else if (typeof m['textPayload'] === 'string') view.text = oneLine(m['textPayload']);
  else if (isRec(data)) view.text = oneLine(textOfJson(data));
  else if (data !== undefined && data !== null) view.text = oneLine(String(data));
  return view;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal, 'log search aborted');
}


export class CloudLoggingSearch implements LogSearch, MarkAuthorLookup {
  constructor(private readonly logging: Logging, private readonly options: CloudLoggingSearchOptions = {}) {}

  private async getEntries(name: string, request: EntriesRequest): Promise<GetEntriesResponse> {
    try {
      return await this.logging.getEntries(request);
    } catch (err) {
      throw googleApiError(`cloud logging ${name} query`, err);
    }
  }

  /**
   * Who set a security mark on a finding (approval mode), from the Data Access audit log
   * of the finding's parent, on this same client. Never rejects (shared/gcp/mark-author-lookup.ts).
   */
  findMarkAuthor(request: MarkAuthorRequest): Promise<MarkAuthor> {
    const { gaxOptions } = this.options;
    const options = { ...(gaxOptions ? { gaxOptions } : {}), ...this.options.markAuthor };
    return findMarkAuthor((r) => this.getEntries('approval author', r), request, options);
  }

  async search(query: LogQuery, signal?: AbortSignal): Promise<{ entries: LogEntryView[]; truncated: boolean }> {
    if (!/\btimestamp\s*(>=|>)/.test(query.filter)) {
      // Without a lower bound getEntries would add its own "last 24 hours" window.
      throw new ResponderError(`log query ${query.name} has no timestamp window; refusing to search unbounded`, 'permanent');
    }
    const entries: LogEntryView[] = [];
    let bytes = 0;
    let pageToken: string | undefined;
    for (;;) {
      checkAborted(signal);
      const pageSize = Math.max(1, Math.min(MAX_PAGE_SIZE, query.maxEntries - entries.length));
      const [page, next] = await raceAbort(
        this.getEntries(query.name, {
          filter: query.filter,
          resourceNames: query.resourceNames,
          orderBy: this.options.orderBy ?? 'timestamp asc',
          pageSize,
          ...(pageToken ? { pageToken } : {}),
          autoPaginate: false,
          ...(this.options.gaxOptions ? { gaxOptions: this.options.gaxOptions } : {}),
        }),
        signal,
        'log search aborted',
      );
      for (let i = 0; i < page.length; i++) {
        const view = entryView(page[i] as Entry);
        const size = Buffer.byteLength(JSON.stringify(view));
        if (entries.length >= query.maxEntries || bytes + size > query.maxBytes) {
          return { entries, truncated: true };
        }
        entries.push(view);
        bytes += size;
      }
      pageToken = next?.pageToken ?? undefined;
      if (!pageToken) return { entries, truncated: false };
      if (entries.length >= query.maxEntries) return { entries, truncated: true };
    }
  }
}

/** A LogSearch on a new Logging client (projectId is required: it must not be looked up). */
export function cloudLoggingSearch(clientOptions: LoggingOptions & { projectId: string }, options?: CloudLoggingSearchOptions): CloudLoggingSearch {
  return new CloudLoggingSearch(new Logging(clientOptions), options);
}
