// ListFindings for the SCC fake (fake-scc.ts): holds findings as proto3 JSON (the notification
// format), answers v1 `organizations/O/sources/-` and v2 `.../sources/-/locations/global` with
// pages of `pageSize` (default 10, as SCC) chained by an offset page token, and applies the
// filter. The filter language is only the subset shared/policy/scc-filter.ts writes (AND of
// clauses; a parenthesised OR of `category = "..."`; `state = "..."`; `resource_name : "..."`;
// `-security_marks.marks.K = "..."`; `event_time >= "..."`): anything else is INVALID_ARGUMENT,
// so a filter the fake does not understand fails loudly instead of matching everything.
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { fromProto3JSON } from 'proto3-json-serializer';
import { GrpcError } from './grpc-fake.js';

export interface SeededFinding {
  finding: Record<string, unknown> & { name: string };
  resource?: Record<string, unknown>;
}

export interface ListRequestSeen {
  version: 'v1' | 'v2';
  parent: string;
  filter: string;
  pageSize: number;
  pageToken: string;
}

const require = createRequire(import.meta.url);
const root = protobuf.Root.fromJSON(require('@google-cloud/security-center/build/protos/protos.json') as protobuf.INamespace);

type Predicate = (f: SeededFinding) => boolean;

const STRING = '"((?:[^"\\\\]|\\\\.)*)"';
const unquote = (s: string): string => s.replace(/\\(.)/g, '$1');

function clause(text: string): Predicate {
  const t = text.trim();
  if (t.startsWith('(') && t.endsWith(')')) {
    const parts = t.slice(1, -1).split(' OR ').map(clause);
    return (f) => parts.some((p) => p(f));
  }
  let m = new RegExp(`^(category|state) = ${STRING}$`).exec(t);
  if (m) { const [, field = '', v = ''] = m; return (f) => f.finding[field] === unquote(v); }
  m = new RegExp(`^resource_name : ${STRING}$`).exec(t);
  if (m) { const v = unquote(m[1] ?? ''); return (f) => String(f.finding['resourceName'] ?? '').includes(v); }
  m = new RegExp(`^-security_marks\\.marks\\.([A-Za-z0-9_]+) = ${STRING}$`).exec(t);
  if (m) {
    const [, key = '', v = ''] = m;
    return (f) => ((f.finding['securityMarks'] as { marks?: Record<string, string> } | undefined)?.marks?.[key] ?? '') !== unquote(v);
  }
  m = new RegExp(`^event_time >= ${STRING}$`).exec(t);
  if (m) { const at = Date.parse(unquote(m[1] ?? '')); return (f) => Date.parse(String(f.finding['eventTime'])) >= at; }
  throw new GrpcError(grpc.status.INVALID_ARGUMENT, `fake SCC: unsupported filter clause ${JSON.stringify(t)}`);
}

/** The filter as a predicate (top-level AND outside parentheses). */
export function filterPredicate(filter: string): Predicate {
  if (filter.trim() === '') return () => true;
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < filter.length; i += 1) {
    const c = filter[i];
    if (c === '"') { i += 1; while (i < filter.length && filter[i] !== '"') i += filter[i] === '\\' ? 2 : 1; }
    else if (c === '(') depth += 1;
    else if (c === ')') depth -= 1;
    else if (depth === 0 && filter.startsWith(' AND ', i)) { parts.push(filter.slice(start, i)); start = i + 5; i += 4; }
  }
  parts.push(filter.slice(start));
  const preds = parts.map(clause);
  return (f) => preds.every((p) => p(f));
}

const PARENT = { v1: /^organizations\/\d+\/sources\/-$/, v2: /^organizations\/\d+\/sources\/-(\/locations\/global)?$/ };

/** A finding with the marks written since it was seeded (UpdateSecurityMarks), as SCC would list it. */
function withCurrentMarks(f: SeededFinding, marksOf: (name: string) => Record<string, string> | undefined): SeededFinding {
  const marks = marksOf(f.finding.name);
  if (marks === undefined) return f;
  const sm = (f.finding['securityMarks'] ?? { name: `${f.finding.name}/securityMarks` }) as Record<string, unknown>;
  return { ...f, finding: { ...f.finding, securityMarks: { ...sm, marks } } };
}

/** The ListFindings handler for one API version over `findings` (each in the version its name says). */
export function listFindingsHandler(version: 'v1' | 'v2', findings: SeededFinding[], seen: ListRequestSeen[], marksOf: (name: string) => Record<string, string> | undefined = () => undefined) {
  const type = root.lookupType(`google.cloud.securitycenter.${version}.ListFindingsResponse.ListFindingsResult`);
  return (request: Record<string, unknown>): Record<string, unknown> => {
    const parent = String(request['parent'] ?? '');
    if (!PARENT[version].test(parent)) throw new GrpcError(grpc.status.INVALID_ARGUMENT, `${version}: invalid parent ${JSON.stringify(parent)}`);
    const filter = String(request['filter'] ?? '');
    const pageSize = Number(request['pageSize'] ?? 0) || 10;
    const pageToken = String(request['pageToken'] ?? '');
    seen.push({ version, parent, filter, pageSize, pageToken });
    const offset = pageToken === '' ? 0 : Number(pageToken);
    if (!Number.isInteger(offset) || offset < 0) throw new GrpcError(grpc.status.INVALID_ARGUMENT, `invalid page token ${JSON.stringify(pageToken)}`);
    const org = parent.split('/')[1] ?? '';
    const isV2 = (n: string): boolean => n.includes('/locations/');
    const matches = findings
      .filter((f) => f.finding.name.startsWith(`organizations/${org}/`) && isV2(f.finding.name) === (version === 'v2'))
      .map((f) => withCurrentMarks(f, marksOf))
      .filter(filterPredicate(filter));
    const page = matches.slice(offset, offset + pageSize).map((f) => {
      const message = fromProto3JSON(type, { finding: f.finding, ...(f.resource ? { resource: f.resource } : {}) } as never);
      if (!message) throw new Error(`fake SCC: finding ${f.finding.name} does not convert to ${version} proto`);
      return type.toObject(message, { longs: String, enums: String, defaults: false, oneofs: true });
    });
    const next = offset + pageSize < matches.length ? String(offset + pageSize) : '';
    return { listFindingsResults: page, nextPageToken: next, totalSize: matches.length };
  };
}
