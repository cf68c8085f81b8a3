// A Security Command Center fake serving v1 and v2 `UpdateSecurityMarks`, `ListFindings`
// (the `name = "..."` filter the responder uses to read one finding) and `GetSource` from the protos
// shipped in @google-cloud/security-center, so the real client talks real gRPC to it. It
// applies the update mask the way SCC documents it (empty mask or `marks` replaces every
// mark; `marks.<key>` sets or, when the key is absent from the request, deletes that key)
// and keeps the current marks per finding, so tests assert final state, not just calls.
import * as grpc from '@grpc/grpc-js';
import { GrpcError, protosDir, startGrpcFake, type GrpcFake } from './grpc-fake.js';
import type { FaultPlan } from './faults.js';
import { listFindingsHandler, type ListRequestSeen, type SeededFinding } from './scc-list-findings.js';

export interface MarksUpdate {
  version: 'v1' | 'v2';
  /** The securityMarks resource name as received. */
  name: string;
  /** The finding name (name without `/securityMarks`). */
  finding: string;
  paths: string[];
  marks: Record<string, string>;
  /** x-goog-request-params routing header. */
  routing: string;
}

export interface FakeScc {
  port: number;
  faults: FaultPlan;
  /** Every successful or attempted update, in arrival order (faulted calls excluded). */
  updates: MarksUpdate[];
  /** Current marks of a finding (after all updates), or undefined when never marked. */
  marksOf(findingName: string): Record<string, string> | undefined;
  /** Seeds marks (e.g. another team's), as if already on the finding. */
  setMarks(findingName: string, marks: Record<string, string>): void;
  /**
   * Stores SCC's copy of a finding from a NotificationMessage (`{ finding, resource }`, the
   * JSON a message carries), as ListFindings will answer it. Returns the finding name.
   */
  addFinding(notification: unknown, overrides?: { state?: string; mute?: string }): string;
  /** Changes SCC's copy (state, mute, anything): a shallow merge into the finding. */
  patchFinding(findingName: string, patch: Record<string, unknown>): void;
  /** Registers a source (GetSource answers it). */
  addSource(name: string, displayName: string): void;
  /** Every ListFindings / GetSource request, in arrival order. */
  reads: { method: 'ListFindings' | 'GetSource'; version: 'v1' | 'v2'; request: Record<string, unknown> }[];
  clientOptions(): ReturnType<GrpcFake['clientOptions']>;
  close(): Promise<void>;
  /** ListFindings: findings served (proto3 JSON, v1 or v2 as their names are; marks written since, as SCC shows them), and the requests seen. */
  listed: SeededFinding[];
  listRequests: ListRequestSeen[];
}

export interface FakeSccOptions {
  /** When given, any other finding answers NOT_FOUND (as SCC does for unknown names). */
  findings?: string[];
}

/** The organization's Container Threat Detection source in the fixtures. */
export const CTD_SOURCE = 'organizations/123456789012/sources/7153827493721873246';

/** RFC 3339 -> google.protobuf.Timestamp. */
function protoTimestamp(value: string): { seconds: string; nanos: number } | string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return value;
  const frac = /\.(\d+)/.exec(value)?.[1] ?? '';
  return { seconds: String(Math.floor(ms / 1000)), nanos: Number(frac.padEnd(9, '0').slice(0, 9)) };
}

function protoValue(v: unknown): Record<string, unknown> {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(protoValue) } };
  return { structValue: { fields: Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, protoValue(x)])) } };
}

/** Message JSON -> the object protobufjs serializes: Timestamps for `*Time`, Values for sourceProperties. */
function toProto(value: unknown, key = ''): unknown {
  if (key === 'sourceProperties' && value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, protoValue(v)]));
  }
  if (typeof value === 'string' && /Time$/.test(key)) return protoTimestamp(value);
  if (Array.isArray(value)) return value.map((v) => toProto(v));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toProto(v, k)]));
  return value;
}

/** The list result's resource: v1 names its fields projectName/parentName; v2 carries gcpMetadata. */
function listResource(resource: Record<string, unknown> | undefined, version: 'v1' | 'v2'): Record<string, unknown> | undefined {
  if (!resource) return undefined;
  if (version === 'v1') return { ...resource, projectName: resource['project'], parentName: resource['parent'] };
  return resource;
}

const V1_NAME = /^(organizations|folders|projects)\/[^/]+\/sources\/[^/]+\/findings\/[^/]+\/securityMarks$/;
const V2_NAME = /^(organizations|folders|projects)\/[^/]+\/sources\/[^/]+\/locations\/[^/]+\/findings\/[^/]+\/securityMarks$/;
const KEY = /^[A-Za-z0-9_-]{1,256}$/;

export async function startFakeScc(options: FakeSccOptions = {}): Promise<FakeScc> {
  const state = new Map<string, Record<string, string>>();
  const updates: MarksUpdate[] = [];
  const known = options.findings ? new Set(options.findings) : undefined;
  const copies = new Map<string, { finding: Record<string, unknown>; resource?: Record<string, unknown> }>();
  const sources = new Map<string, string>([[CTD_SOURCE, 'Container Threat Detection']]);
  const reads: FakeScc['reads'] = [];

  const listFindings = (version: 'v1' | 'v2') => (request: Record<string, unknown>) => {
    reads.push({ method: 'ListFindings', version, request });
    const parent = String(request['parent'] ?? '');
    const parentPattern = version === 'v1' ? /^(organizations|folders|projects)\/[^/]+\/sources\/[^/]+$/ : /^(organizations|folders|projects)\/[^/]+\/sources\/[^/]+(\/locations\/[^/]+)?$/;
    if (!parentPattern.test(parent)) throw new GrpcError(grpc.status.INVALID_ARGUMENT, `${version}: invalid parent ${JSON.stringify(parent)}`);
    const m = /^name\s*=\s*"([^"]*)"$/.exec(String(request['filter'] ?? ''));
    if (!m) throw new GrpcError(grpc.status.INVALID_ARGUMENT, `fake supports only the filter name = "..." (got ${JSON.stringify(request['filter'])})`);
    const name = m[1] as string;
    const copy = copies.get(name);
    // A v1 client cannot see a v2 (located) finding and vice versa: the parent must be the name's.
    // SCC's copy carries the marks SCC holds now (our updates included), as a re-notification would.
    const marks = state.get(name);
    const finding = copy && marks ? { ...copy.finding, securityMarks: { ...(copy.finding['securityMarks'] as object | undefined), marks } } : copy?.finding;
    const results = copy && name.startsWith(`${parent}/findings/`) ? [{ finding: toProto(finding), resource: listResource(copy.resource, version), stateChange: 'UNUSED' }] : [];
    return { listFindingsResults: results, totalSize: results.length, readTime: protoTimestamp(new Date().toISOString()) };
  };
  const getSource = (version: 'v1' | 'v2') => (request: Record<string, unknown>) => {
    reads.push({ method: 'GetSource', version, request });
    const name = String(request['name'] ?? '');
    const displayName = sources.get(name);
    if (displayName === undefined) throw new GrpcError(grpc.status.NOT_FOUND, `source ${name} not found`);
    return { name, displayName, canonicalName: name };
  };

  const listed: SeededFinding[] = [];
  const listRequests: ListRequestSeen[] = [];
  // ListFindings serves both readers: confirmation asks by name (`name = "..."`), the backtest
  // and backfill list an organization's seeded findings with the notification filter.
  const listBoth = (version: 'v1' | 'v2') => {
    const byName = listFindings(version);
    const seeded = listFindingsHandler(version, listed, listRequests, (f) => state.get(f));
    return (request: Record<string, unknown>) => (/^name\s*=\s*"/.test(String(request['filter'] ?? '')) ? byName(request) : seeded(request));
  };

  const handler = (version: 'v1' | 'v2') => (request: Record<string, unknown>, metadata: grpc.Metadata) => {
    const sm = (request['securityMarks'] ?? {}) as { name?: string; marks?: Record<string, string> };
    const name = sm.name ?? '';
    const paths = ((request['updateMask'] as { paths?: string[] } | undefined)?.paths ?? []).slice();
    const marks = { ...(sm.marks ?? {}) };
    const routing = String(metadata.get('x-goog-request-params')[0] ?? '');
    if (!(version === 'v1' ? V1_NAME : V2_NAME).test(name)) {
      throw new GrpcError(grpc.status.INVALID_ARGUMENT, `${version}: invalid security marks name ${JSON.stringify(name)}`);
    }
    const finding = name.slice(0, -'/securityMarks'.length);
    if (known && !known.has(finding)) throw new GrpcError(grpc.status.NOT_FOUND, `finding ${finding} not found`);
    for (const [k, v] of Object.entries(marks)) {
      if (!KEY.test(k)) throw new GrpcError(grpc.status.INVALID_ARGUMENT, `invalid mark key ${JSON.stringify(k)}`);
      const t = v.trim();
      if (t.length < 1 || t.length > 4096) throw new GrpcError(grpc.status.INVALID_ARGUMENT, `mark ${k}: value must be 1-4096 characters`);
    }
    if (new Set(paths).size !== paths.length) throw new GrpcError(grpc.status.INVALID_ARGUMENT, 'update mask has duplicate fields');
    updates.push({ version, name, finding, paths, marks, routing });
    const current = { ...(state.get(finding) ?? {}) };
    let next: Record<string, string>;
    if (paths.length === 0 || paths.includes('marks')) {
      next = Object.fromEntries(Object.entries(marks).map(([k, v]) => [k, v.trim()]));
    } else {
      next = current;
      for (const p of paths) {
        if (!p.startsWith('marks.')) throw new GrpcError(grpc.status.INVALID_ARGUMENT, `invalid update mask path ${JSON.stringify(p)}`);
        const key = p.slice('marks.'.length);
        const v = marks[key];
        if (v === undefined) delete next[key];
        else next[key] = v.trim();
      }
    }
    state.set(finding, next);
    return { name, marks: next, canonicalName: name };
  };

  const fake = await startGrpcFake({
    protoFiles: ['google/cloud/securitycenter/v1/securitycenter_service.proto', 'google/cloud/securitycenter/v2/securitycenter_service.proto'],
    includeDirs: [protosDir('@google-cloud/security-center')],
    services: {
      'google.cloud.securitycenter.v1.SecurityCenter': { UpdateSecurityMarks: handler('v1'), ListFindings: listBoth('v1'), GetSource: getSource('v1') },
      'google.cloud.securitycenter.v2.SecurityCenter': { UpdateSecurityMarks: handler('v2'), ListFindings: listBoth('v2'), GetSource: getSource('v2') },
    },
  });

  return {
    port: fake.port,
    faults: fake.faults,
    updates,
    marksOf: (f) => {
      const m = state.get(f);
      return m === undefined ? undefined : { ...m };
    },
    setMarks: (f, m) => void state.set(f, { ...m }),
    addFinding: (notification, overrides = {}) => {
      const n = structuredClone(notification) as { finding: Record<string, unknown>; resource?: Record<string, unknown> };
      const finding: Record<string, unknown> = { ...n.finding, ...overrides };
      const name = String(finding['name']);
      copies.set(name, { finding, ...(n.resource ? { resource: n.resource } : {}) });
      return name;
    },
    patchFinding: (name, patch) => {
      const c = copies.get(name);
      if (!c) throw new Error(`fake-scc: no finding ${name}`);
      c.finding = { ...c.finding, ...patch };
    },
    addSource: (name, displayName) => void sources.set(name, displayName),
    reads,
    clientOptions: () => fake.clientOptions(),
    close: () => fake.close(),
    listed,
    listRequests,
  };
}
