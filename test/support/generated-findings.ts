// A few hundred SCC findings for the ListFindings fake, generated deterministically from the
// v1 and v2 fixtures: categories (covered or not), states, severities, namespaces (one
// protected), projects, GKE and Cloud Run resources, v1 and v2 names, event times a few
// minutes apart (several per UTC hour, so blast-radius limits bite), and security marks:
// ours (handled and not), another team's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SeededFinding } from './scc-list-findings.js';

export const ORG = '123456789012';
export const MMB = 'Execution: Modified Malicious Binary Executed';
export const ADDED = 'Execution: Added Malicious Binary Executed';
const CATEGORIES = [MMB, MMB, MMB, ADDED, 'Execution: Reverse Shell', 'Persistence: IAM Anomalous Grant'];
const STATES = ['ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'INACTIVE'];
const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'];
const NAMESPACES = ['payments', 'payments', 'shop', 'kube-system', 'batch', 'prod-web'];
const PROJECTS = ['acme-payments-prod', 'acme-shop-prod', 'acme-dev'];
const MARKS: (Record<string, string> | undefined)[] = [
  undefined, undefined, undefined, undefined, undefined, undefined, undefined,
  { scc_responder_state: 'triaged' }, { scc_responder_state: 'contained', scc_responder_rule: 'x' },
  { team_owner: 'payments' }, { SCC_RESPONDER_STATE: 'Failed ' }, { scc_responder_state: 'in-progress' },
];
/** Wire-format v2 ListFindingsResult.Resource fields (the v2 notification carries more). */
const V2_RESOURCE_KEYS = ['name', 'displayName', 'type', 'cloudProvider', 'service', 'location', 'gcpMetadata'];

const root = join(import.meta.dirname, '..', 'fixtures');
const fixture = (v: 'v1' | 'v2'): SeededFinding => JSON.parse(readFileSync(join(root, `modified-malicious-binary.${v}.json`), 'utf8')) as SeededFinding;

/** Multiplicative hash: a fixed pseudo-random pick per (index, salt). */
function pick<T>(list: readonly T[], i: number, salt: number): T {
  return list[(Math.imul(i + 1, 2654435761 + salt * 40503) >>> 7) % list.length] as T;
}

export function generateFindings(count: number, start = Date.parse('2026-11-20T00:00:00Z')): SeededFinding[] {
  const out: SeededFinding[] = [];
  for (let i = 0; i < count; i += 1) {
    const version = i % 3 === 0 ? 'v2' : 'v1';
    const f = fixture(version);
    const finding = f.finding as Record<string, unknown> & { name: string };
    const id = `f${i.toString(16).padStart(6, '0')}`;
    const source = 'sources/7153827493721873246';
    finding.name = version === 'v2' ? `organizations/${ORG}/${source}/locations/global/findings/${id}` : `organizations/${ORG}/${source}/findings/${id}`;
    finding['canonicalName'] = finding.name;
    finding['category'] = pick(CATEGORIES, i, 1);
    finding['state'] = pick(STATES, i, 2);
    finding['severity'] = pick(SEVERITIES, i, 3);
    finding['eventTime'] = new Date(start + i * 7 * 60_000).toISOString();
    const ns = pick(NAMESPACES, i, 4);
    const project = pick(PROJECTS, i, 5);
    const pod = `app-${(i % 17).toString(36)}-7d9f8b6c5d-q${i.toString(36)}`;
    finding['resourceName'] = i % 23 === 5 ? `//run.googleapis.com/projects/${project}/locations/us-central1/services/web` : `//container.googleapis.com/projects/${project}/locations/us-central1/clusters/payments`;
    const k8s = finding['kubernetes'] as { pods: { ns: string; name: string }[] };
    const p0 = k8s.pods[0];
    if (p0) { p0.ns = ns; p0.name = pod; }
    const sp = finding['sourceProperties'] as Record<string, unknown>;
    sp['Pod_Name'] = pod;
    sp['Pod_Namespace'] = ns;
    const marks = pick(MARKS, i, 6);
    finding['securityMarks'] = { name: `${finding.name}/securityMarks`, ...(marks ? { marks } : {}) };
    const resource: Record<string, unknown> = { ...(f.resource ?? {}), name: finding['resourceName'], projectDisplayName: project };
    if (version === 'v2') {
      const gcp = { ...(resource['gcpMetadata'] as Record<string, unknown>), projectDisplayName: project };
      f.resource = Object.fromEntries(Object.entries({ ...resource, gcpMetadata: gcp }).filter(([k]) => V2_RESOURCE_KEYS.includes(k)));
    } else f.resource = resource;
    out.push(f);
  }
  return out;
}
