// The report object: the TriageReport as JSON and as markdown for a human, stored beside the
// evidence (`<folder>/report.json`, `<folder>/report.md`), create-only like everything in the
// evidence store. The JSON is written last and doubles as the finding's completion record
// (see idempotency.ts): when it exists, the markdown exists too, and the finding is handled.
//
// Both are scrubbed here whatever the caller already did: a report is read by more people,
// for longer, than any log line.
import { Readable } from 'node:stream';
import type { EvidenceStore, StoredObject } from '../ports.js';
import { evidenceKeys } from '../ledger/keys.js';
import { ResponderError } from '../common/errors.js';
import { RESPONDER_NAME } from '../common/product.js';
import { defaultScrubber, type Scrubber } from './scrub.js';

export interface ReportKeys {
  json: string;
  markdown: string;
}

/** The incident fields that locate a finding's objects (Incident satisfies this). */
export interface FolderParts {
  findingId: string;
  projectId: string;
  cluster: { project: string; name: string } | null;
  namespace?: string;
  pod?: string;
}

/**
 * The folder of one finding's objects: the evidence directory `<project>/<cluster>/<namespace>/<pod>/<finding-id>`
 * (shared/ledger/keys.ts, every segment sanitised). Derivable from the finding alone, so the
 * idempotency claim can be taken before any work, in the same folder the report lands in.
 * The snapshot must build its keys from the same parts for the report to sit beside the binary.
 */
export function findingFolder(parts: FolderParts): string {
  return evidenceKeys({
    project: parts.cluster?.project ?? parts.projectId,
    cluster: parts.cluster?.name ?? 'no-cluster',
    namespace: parts.namespace ?? 'no-namespace',
    pod: parts.pod ?? 'no-pod',
    findingId: parts.findingId,
  }).dir;
}

export function reportKeys(folder: string): ReportKeys {
  const base = folder.replace(/\/+$/, '');
  return { json: `${base}/report.json`, markdown: `${base}/report.md` };
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
  /** Where to store it; default reportKeys(folder), the completion record. */
  keys?: ReportKeys;
}

export interface StoredReport {
  json: StoredObject;
  markdown?: StoredObject;
  /** False when a report already existed (another run completed first): ours was not written. */
  created: boolean;
}

export const REPORT_METADATA = {
  kind: 'scc-record',
  finding: 'scc-finding',
  run: 'scc-run',
  producer: 'scc-producer',
} as const;

function body(text: string): NodeJS.ReadableStream {
  return Readable.from([Buffer.from(text, 'utf8')]);
}

/**
 * Stores report.md then report.json, create-only. When report.json already exists the
 * first report stands (it describes the same effects: every step is idempotent) and
 * `created` is false.
 */
export async function storeReport<R>(store: EvidenceStore, input: StoreReportInput<R>, signal?: AbortSignal): Promise<StoredReport> {
  const scrub = input.scrubber ?? defaultScrubber;
  const keys = input.keys ?? reportKeys(input.folder);
  const meta = (kind: string): Record<string, string> => ({
    ...input.metadata,
    [REPORT_METADATA.kind]: kind,
    [REPORT_METADATA.finding]: input.findingName,
    [REPORT_METADATA.run]: input.runId,
    [REPORT_METADATA.producer]: RESPONDER_NAME,
  });
  let markdown: StoredObject | undefined;
  if (input.markdown !== undefined) {
    const text = typeof input.markdown === 'string' ? input.markdown : input.markdown(input.report);
    const md = await store.create(keys.markdown, body(scrub.text(text)), meta('report-markdown'), signal, { contentType: 'text/markdown; charset=utf-8' });
    markdown = md.object;
  }
  const json = `${JSON.stringify(scrub.value(input.report), null, 2)}\n`;
  const stored = await store.create(keys.json, body(json), meta('report'), signal, { contentType: 'application/json' });
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
  const text = await store.readText(reportKeys(folder).json, signal);
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { unreadable: true };
  }
}
