// SCC ListFindings over the whole organization (every source: `sources/-`), for the backtest
// and backfill commands. v1 `organizations/O/sources/-` through the default client, v2
// `organizations/O/sources/-/locations/global` through `.v2`; the same client library and the
// same permission (securitycenter.findings.list) as the rest of the SCC adapters.
//
// Streams: one page at a time (pageToken), each result handed out before the next page is
// asked for, so memory stays one page whatever the organization's size. Throttling
// (RESOURCE_EXHAUSTED, i.e. HTTP 429) and UNAVAILABLE are retried here with exponential
// backoff and reported through `onRetry`, so a large organization sees why it slowed down.
//
// Each result comes out as the proto3 JSON NotificationMessage the function decodes
// ({ notificationConfigName, finding, resource }): the client hands out plain objects
// (Timestamp as { seconds, nanos }, Struct values as { stringValue }), which are turned back
// into messages of the package's own descriptors and rendered with proto3-json-serializer.
import { createRequire } from 'node:module';
import type * as Protobuf from 'protobufjs';
import type * as Serializer from 'proto3-json-serializer';
import { ResponderError } from '../common/errors.js';
import { classifyGaxError } from '../common/gax-errors.js';
import { cjsExports } from '../common/cjs.js';
import type { SecurityCenterClientOptions } from './scc-marks.js';

export type SccApiVersion = 'v1' | 'v2';

export interface ListedFinding {
  /** The finding as a notification would carry it (proto3 JSON). */
  notification: { notificationConfigName?: string; finding: Record<string, unknown>; resource?: Record<string, unknown> };
  version: SccApiVersion;
}

export interface ListFindingsOptions {
  /** Numeric organization id. */
  organization: string;
  version: SccApiVersion;
  filter: string;
  /** Results per page (SCC: at most 1000). Default 1000. */
  pageSize?: number;
  clientOptions?: SecurityCenterClientOptions;
  /** Per-call deadline. Default 60 s. */
  timeoutMs?: number;
  /** Attempts per page for throttled/unavailable calls. Default 6. */
  maxAttempts?: number;
  /** First backoff; doubles per attempt (capped at 30 s). Default 1 s. */
  backoffMs?: number;
  /** `notificationConfigName` written into each message (what the function sees). */
  notificationConfigName?: string;
  /** After each page: pages and results so far. */
  onPage?: (pages: number, results: number) => void;
  /** Before each retry: the attempt, the wait and the classified reason. */
  onRetry?: (attempt: number, waitMs: number, reason: string) => void;
  signal?: AbortSignal;
}

const ORG_ID = /^[0-9]{1,32}$/;
const RETRIED_CODES = new Set(['RESOURCE_EXHAUSTED', 'UNAVAILABLE']);

interface Page {
  results: Record<string, unknown>[];
  nextPageToken: string;
}

type ListingClient = {
  listFindings(request: Record<string, unknown>, options: Record<string, unknown>): Promise<[unknown[], unknown, { nextPageToken?: string | null } | undefined]>;
  close(): Promise<void>;
};

/** The package's descriptor for one ListFindingsResult, and the serializer. */
function loadRenderer(version: SccApiVersion): { type: Protobuf.Type; toJson: (m: Protobuf.Message) => unknown } {
  const require = createRequire(import.meta.url);
  const protobuf = cjsExports(require('protobufjs') as typeof Protobuf);
  const serializer = cjsExports(require('proto3-json-serializer') as typeof Serializer);
  const json = require('@google-cloud/security-center/build/protos/protos.json') as Protobuf.INamespace;
  const type = protobuf.Root.fromJSON(json).lookupType(`google.cloud.securitycenter.${version}.ListFindingsResponse.ListFindingsResult`);
  return { type, toJson: (m) => serializer.toProto3JSON(m) };
}

export function sccListParent(organization: string, version: SccApiVersion): string {
  if (!ORG_ID.test(organization)) throw new ResponderError(`organization must be a numeric id, got ${JSON.stringify(organization)}`, 'permanent', { code: 'INVALID_ORGANIZATION' });
  return version === 'v1' ? `organizations/${organization}/sources/-` : `organizations/${organization}/sources/-/locations/global`;
}

/** Sleeps `ms`, or rejects at once when `signal` aborts (the listener is removed either way). */
function wait(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason as Error);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function fetchPage(client: ListingClient, request: Record<string, unknown>, o: ListFindingsOptions): Promise<Page> {
  const attempts = o.maxAttempts ?? 6;
  for (let attempt = 1; ; attempt += 1) {
    o.signal?.throwIfAborted();
    try {
      const [results, , raw] = await client.listFindings(request, { autoPaginate: false, timeout: o.timeoutMs ?? 60_000, maxRetries: 0 });
      return { results: results as Record<string, unknown>[], nextPageToken: raw?.nextPageToken ?? '' };
    } catch (err) {
      const c = classifyGaxError(err);
      if (!RETRIED_CODES.has(String(c.code ?? '')) || attempt >= attempts) {
        const hint = c.code === 'RESOURCE_EXHAUSTED' ? ` (SCC throttled ${attempt} attempts in a row: try again later or with a narrower --since/--filter)` : '';
        throw new ResponderError(`SCC ${String(request['parent'])} ListFindings failed: ${c.reason}${hint}`, c.kind, { ...(c.code === undefined ? {} : { code: c.code }), cause: err });
      }
      const ms = Math.min(30_000, (o.backoffMs ?? 1000) * 2 ** (attempt - 1));
      o.onRetry?.(attempt, ms, c.reason);
      await wait(ms, o.signal);
    }
  }
}

/** Every finding matching `filter` in the organization, page by page. */
export async function* listOrganizationFindings(o: ListFindingsOptions): AsyncGenerator<ListedFinding> {
  const parent = sccListParent(o.organization, o.version);
  const mod = cjsExports(await import('@google-cloud/security-center'));
  const client = (o.version === 'v1' ? new mod.v1.SecurityCenterClient(o.clientOptions) : new mod.v2.SecurityCenterClient(o.clientOptions)) as unknown as ListingClient;
  const render = loadRenderer(o.version);
  const configName = o.notificationConfigName ?? (o.version === 'v1' ? `organizations/${o.organization}/notificationConfigs/scc-responder-backfill` : `organizations/${o.organization}/locations/global/notificationConfigs/scc-responder-backfill`);
  try {
    let pageToken = '';
    let pages = 0;
    let count = 0;
    do {
      const page = await fetchPage(client, { parent, filter: o.filter, pageSize: o.pageSize ?? 1000, pageToken }, o);
      pages += 1;
      for (const result of page.results) {
        const json = render.toJson(render.type.fromObject(result)) as { finding?: Record<string, unknown>; resource?: Record<string, unknown> } | null;
        if (!json?.finding) continue;
        count += 1;
        yield { version: o.version, notification: { notificationConfigName: configName, finding: json.finding, ...(json.resource ? { resource: json.resource } : {}) } };
      }
      o.onPage?.(pages, count);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
  } finally {
    await client.close();
  }
}
