// Fake Cloud Logging (google.logging.v2.LoggingServiceV2.ListLogEntries) for the real
// @google-cloud/logging client. Canned entries are filtered by a simple reading of the
// filter (resource.type, resource.labels.*, logName, protoPayload.* of audit entries with
// `=` or `:` (has: case-insensitive substring), timestamp bounds, free-text terms),
// ordered, and paged with pageSize/pageToken so the client's paging is exercised. Every
// filter received is recorded for assertions.
import { encodeAuditLog, AUDIT_LOG_TYPE_URL, type AuditLogFields } from '../../shared/gcp/audit-log-proto.js';
import { protosDir, startGrpcFake, type GrpcFake } from './grpc-fake.js';

export interface FakeLogEntry {
  logName: string;
  resource: { type: string; labels: Record<string, string> };
  /** ISO timestamp. */
  timestamp: string;
  severity?: 'DEFAULT' | 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL' | 'ALERT' | 'EMERGENCY';
  insertId?: string;
  textPayload?: string;
  jsonPayload?: Record<string, unknown>;
  /** An audit entry: encoded as protoPayload (Any of google.cloud.audit.AuditLog). */
  audit?: AuditLogFields;
  /**
   * The audit entry's `protoPayload.request` (JSON, as the console shows it), for filters on
   * `protoPayload.request.*`. Only filtered on: the client under test does not read it.
   */
  request?: Record<string, unknown>;
}

export interface ReceivedListRequest {
  resourceNames: string[];
  filter: string;
  orderBy: string;
  pageSize: number;
  pageToken: string;
}

export interface FakeLogging extends GrpcFake {
  entries: FakeLogEntry[];
  /** Every ListLogEntries request, in order. */
  requests: ReceivedListRequest[];
  /** Page size used when the request gives none (the real default is 50). */
  defaultPageSize: number;
}

type StructValue = Record<string, unknown>;

function toValue(v: unknown): StructValue {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v as Record<string, unknown>) };
}

export function toStruct(o: Record<string, unknown>): { fields: Record<string, StructValue> } {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toValue(v)])) };
}

function timestampMessage(iso: string): { seconds: string; nanos: number } {
  const ms = Date.parse(iso);
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
}

function entryMessage(e: FakeLogEntry, i: number): Record<string, unknown> {
  const base: Record<string, unknown> = {
    logName: e.logName,
    resource: { type: e.resource.type, labels: e.resource.labels },
    timestamp: timestampMessage(e.timestamp),
    receiveTimestamp: timestampMessage(e.timestamp),
    severity: e.severity ?? 'DEFAULT',
    insertId: e.insertId ?? `fake-${i}`,
  };
  // Both spellings: protobufjs' Any wrapper reads the proto field name, not the camelCase one.
  if (e.audit) base['protoPayload'] = { type_url: AUDIT_LOG_TYPE_URL, typeUrl: AUDIT_LOG_TYPE_URL, value: encodeAuditLog(e.audit) };
  else if (e.jsonPayload) base['jsonPayload'] = toStruct(e.jsonPayload);
  else base['textPayload'] = e.textPayload ?? '';
  return base;
}

interface ParsedFilter {
  equals: [string, string][];
  /** `field:"value"`: the field contains the value, ignoring case. */
  has: [string, string][];
  after?: number;
  before?: number;
  terms: string[];
}

/** The string a quoted literal's body stands for (the escapes quoteLogValue writes). */
function unquote(body: string): string {
  const map: Record<string, string> = { n: '\n', r: '\r', t: '\t' };
  return body.replace(/\\(.)/g, (_, c: string) => map[c] ?? c);
}

/** A deliberately small reading of the Logging query language: enough for the playbook queries. */
export function parseFilter(filter: string): ParsedFilter {
  const out: ParsedFilter = { equals: [], has: [], terms: [] };
  const clause = /([A-Za-z_][\w.]*)\s*(>=|<=|>|<|=|:)\s*"((?:[^"\\]|\\.)*)"/g;
  let rest = filter;
  for (const m of filter.matchAll(clause)) {
    const [whole, field = '', op = '', value = ''] = m;
    rest = rest.replace(whole, ' ');
    if (field === 'timestamp') {
      const t = Date.parse(value);
      if (op === '>=' || op === '>') out.after = t;
      else if (op === '<=' || op === '<') out.before = t;
      continue;
    }
    if (op === '=') out.equals.push([field, unquote(value)]);
    if (op === ':') out.has.push([field, unquote(value)]);
  }
  for (const m of rest.matchAll(/"((?:[^"\\]|\\.)*)"/g)) out.terms.push(m[1] ?? '');
  return out;
}

function fieldOf(e: FakeLogEntry, path: string): string | undefined {
  if (path === 'logName') return e.logName;
  if (path === 'resource.type') return e.resource.type;
  if (path.startsWith('resource.labels.')) return e.resource.labels[path.slice('resource.labels.'.length)];
  if (path === 'severity') return e.severity ?? 'DEFAULT';
  if (path === 'protoPayload.methodName') return e.audit?.methodName;
  if (path === 'protoPayload.serviceName') return e.audit?.serviceName;
  if (path === 'protoPayload.resourceName') return e.audit?.resourceName;
  if (path.startsWith('protoPayload.request.')) {
    let v: unknown = e.request;
    for (const k of path.slice('protoPayload.request.'.length).split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
    return typeof v === 'string' ? v : undefined;
  }
  return undefined;
}

export function matchesFilter(e: FakeLogEntry, f: ParsedFilter): boolean {
  if (!f.equals.every(([path, value]) => fieldOf(e, path) === value)) return false;
  if (!f.has.every(([path, value]) => fieldOf(e, path)?.toLowerCase().includes(value.toLowerCase()) === true)) return false;
  const t = Date.parse(e.timestamp);
  if (f.after !== undefined && t < f.after) return false;
  if (f.before !== undefined && t > f.before) return false;
  const haystack = JSON.stringify(e);
  return f.terms.every((term) => haystack.includes(term));
}

export async function startFakeLogging(entries: FakeLogEntry[] = []): Promise<FakeLogging> {
  const requests: ReceivedListRequest[] = [];
  const grpc = await startGrpcFake({
    protoFiles: ['google/logging/v2/logging.proto'],
    includeDirs: [protosDir('@google-cloud/logging-api')],
    services: {
      'google.logging.v2.LoggingServiceV2': {
        ListLogEntries: (req) => {
          const r: ReceivedListRequest = {
            resourceNames: (req['resourceNames'] as string[] | undefined) ?? [],
            filter: String(req['filter'] ?? ''),
            orderBy: String(req['orderBy'] ?? ''),
            pageSize: Number(req['pageSize'] ?? 0),
            pageToken: String(req['pageToken'] ?? ''),
          };
          requests.push(r);
          const parsed = parseFilter(r.filter);
          const matching = fake.entries.map((e, i) => ({ e, i })).filter(({ e }) => matchesFilter(e, parsed));
          const desc = /desc/i.test(r.orderBy);
          matching.sort((a, b) => (Date.parse(a.e.timestamp) - Date.parse(b.e.timestamp)) * (desc ? -1 : 1));
          const size = r.pageSize > 0 ? r.pageSize : fake.defaultPageSize;
          const offset = r.pageToken ? Number(r.pageToken) : 0;
          const page = matching.slice(offset, offset + size);
          const next = offset + size < matching.length ? String(offset + size) : '';
          return { entries: page.map(({ e, i }) => entryMessage(e, i)), nextPageToken: next };
        },
      },
    },
  });
  const fake: FakeLogging = Object.assign(grpc, { entries, requests, defaultPageSize: 50 });
  return fake;
}
