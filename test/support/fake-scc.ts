// A Security Command Center fake serving v1 and v2 `UpdateSecurityMarks` from the protos
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

const V1_NAME = /^(organizations|folders|projects)\/[^/]+\/sources\/[^/]+\/findings\/[^/]+\/securityMarks$/;
const V2_NAME = /^(organizations|folders|projects)\/[^/]+\/sources\/[^/]+\/locations\/[^/]+\/findings\/[^/]+\/securityMarks$/;
const KEY = /^[A-Za-z0-9_-]{1,256}$/;

export async function startFakeScc(options: FakeSccOptions = {}): Promise<FakeScc> {
  const state = new Map<string, Record<string, string>>();
  const updates: MarksUpdate[] = [];
  const known = options.findings ? new Set(options.findings) : undefined;
  const listed: SeededFinding[] = [];
  const listRequests: ListRequestSeen[] = [];

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
      'google.cloud.securitycenter.v1.SecurityCenter': { UpdateSecurityMarks: handler('v1'), ListFindings: listFindingsHandler('v1', listed, listRequests, (f) => state.get(f)) },
      'google.cloud.securitycenter.v2.SecurityCenter': { UpdateSecurityMarks: handler('v2'), ListFindings: listFindingsHandler('v2', listed, listRequests, (f) => state.get(f)) },
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
    clientOptions: () => fake.clientOptions(),
    close: () => fake.close(),
    listed,
    listRequests,
  };
}
