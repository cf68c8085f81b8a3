// The report object: the TriageReport as JSON and as markdown for a human, stored beside the
// evidence (`<folder>/report.json`, `<folder>/report.md`), create-only like everything in the
// evidence store. The JSON is written last and doubles as the finding's completion record
// (see idempotency.ts): when it exists, the markdown exists too, and the finding is handled.
//
// Both are scrubbed here whatever the caller already did: a report is read by more people,
// for longer, than any log line.
import type { EvidenceStore, StoredObject } from '../ports.js';
import { findingFolder, keysIn, META, type FolderParts } from '../ledger/layout.js';
import { putBytes, putJson, readJson } from '../ledger/json.js';
import { ResponderError } from '../common/errors.js';
import { RESPONDER_NAME } from '../common/product.js';
import { defaultScrubber, type Scrubber } from './scrub.js';

/** Where one report is stored: the completion record (report.json/.md) or a run's own (report-<n>). */
export interface ReportKeys {
  json: string;
  markdown: string;
}

export interface StoreReportInput<R = unknown> {
  /** Key prefix of this finding's objects (the evidence directory), without trailing slash. */
  folder: string;
  findingName: string;
  runId: string;
  report: R;
  /** The rendered markdown, or a renderer (given the report as passed in). Omit for JSON only. */
  markdown?: string | ((report: R) => string);
  /** Extra object metadata (string values). */
  metadata?: Record<string, string>;
  scrubber?: Scrubber;
  /**
   * Where to store it: default the completion record (keysIn(folder).reportJson/.reportMarkdown);
   * a run that takes no effect passes keysIn(folder).runReport(n) and is recorded as a run report.
   */
  keys?: ReportKeys;
}

export interface StoredReport {
  json: StoredObject;
  markdown?: StoredObject;
  /** False when a report already existed (another run completed first): ours was not written. */
  created: boolean;
}

/**
 * Stores report.md then report.json, create-only. When report.json already exists the
 * first report stands (it describes the same effects: every step is idempotent) and
 * `created` is false.
 */
export async function storeReport<R>(store: EvidenceStore, input: StoreReportInput<R>, signal?: AbortSignal): Promise<StoredReport> {
  const scrub = input.scrubber ?? defaultScrubber;
  const folderKeys = keysIn(input.folder);
  const keys: ReportKeys = input.keys ?? { json: folderKeys.reportJson, markdown: folderKeys.reportMarkdown };
  const kinds = input.keys === undefined ? { json: 'report', markdown: 'report-markdown' } as const : { json: 'run-report', markdown: 'run-report-markdown' } as const;
  const fields = { ...input.metadata, [META.finding]: input.findingName, [META.run]: input.runId, [META.producer]: RESPONDER_NAME };
  let markdown: StoredObject | undefined;
  if (input.markdown !== undefined) {
    const text = typeof input.markdown === 'string' ? input.markdown : input.markdown(input.report);
    const md = await putBytes(store, keys.markdown, kinds.markdown, scrub.text(text), fields, { contentType: 'text/markdown; charset=utf-8', ...(signal ? { signal } : {}) });
    markdown = md.object;
  }
  const stored = await putJson(store, keys.json, kinds.json, scrub.value(input.report), fields, { pretty: true, ...(signal ? { signal } : {}) });
  return { json: stored.object, ...(markdown ? { markdown } : {}), created: stored.created };
}

/** What storeReportObjects needs from a report (TriageReport satisfies this). */
export interface ReportLike {
  findingName: string;
  runId: string;
  incident?: FolderParts;
}

export interface StoreReportObjectsOptions<R> {
  /** Default: findingFolder(report.incident). */
  folder?: string;
  renderMarkdown?: (report: R) => string;
  metadata?: Record<string, string>;
  scrubber?: Scrubber;
  signal?: AbortSignal;
}

/** storeReport() for a report that carries its finding name, run id and incident. */
export function storeReportObjects<R extends ReportLike>(store: EvidenceStore, report: R, options: StoreReportObjectsOptions<R> = {}): Promise<StoredReport> {
  const folder = options.folder ?? (report.incident ? findingFolder(report.incident) : undefined);
  if (folder === undefined) {
    return Promise.reject(new ResponderError(`report for ${report.findingName}: no folder given and no incident to derive it from`, 'permanent', { code: 'NO_REPORT_FOLDER' }));
  }
  return storeReport(
    store,
    {
      folder,
      findingName: report.findingName,
      runId: report.runId,
      report,
      ...(options.renderMarkdown ? { markdown: options.renderMarkdown } : {}),
      ...(options.metadata ? { metadata: options.metadata } : {}),
      ...(options.scrubber ? { scrubber: options.scrubber } : {}),
    },
    options.signal,
  );
}

/** The stored report (parsed), `{ unreadable: true }` when it exists but is not JSON, or null. */
export async function readReport(store: EvidenceStore, folder: string, signal?: AbortSignal): Promise<unknown> {
  const read = await readJson(store, keysIn(folder).reportJson, signal);
  return read.state === 'absent' ? null : read.state === 'ok' ? read.value : { unreadable: true };
}
