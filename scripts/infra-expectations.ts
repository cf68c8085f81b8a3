// What the infrastructure must match, read from the code and the repository (never a second
// hand-kept list): used by scripts/check-infra.ts and test/integration/infra.test.ts.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KUBE_API_CALLS } from '../shared/kube/api-calls.js';
import { GCP_PERMISSIONS, INFRA_PLUMBING_GRANTS, PUBLISH_DENY } from '../shared/gcp-permissions.js';
import { FINAL_MARK_STATES, MARK_KEYS } from '../shared/record/marks.js';
import { cleanLabels, type AuditLabels } from '../shared/record/audit-log.js';
import { RESPONDER_NAME } from '../shared/common/product.js';
import { BASE_ROLE_NAME, PLACEHOLDER_SUBJECT, RBAC_FILES } from './gen-rbac.js';
import { expectedTriples, type InfraExpectations, type RbacExpectation } from './check-infra.js';

export const ENTRY_POINT = 'sccResponder';

/** `nodejs22` for engines.node `>=22.19` (the first number is the major). */
export function runtimeFor(enginesNode: string): string {
  const m = /(\d+)/.exec(enginesNode);
  if (!m) throw new Error(`package.json engines.node has no version: ${JSON.stringify(enginesNode)}`);
  return `nodejs${m[1]}`;
}

/**
 * Label keys the audit log writes: cleanLabels keeps exactly the keys it knows, so offering it
 * every candidate and keeping the survivors asks the code rather than a copy of its list.
 */
export function auditLabelKeys(candidates: readonly string[]): string[] {
  const probe: Record<string, string> = {};
  for (const k of candidates) probe[k] = 'x';
  return Object.keys(cleanLabels(probe as AuditLabels));
}

export async function expectationsFromRepo(root: string): Promise<{ infra: InfraExpectations; rbac: RbacExpectation[] }> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { engines?: { node?: string } };
  const policyFiles = (await readdir(join(root, 'policies')).catch(() => [] as string[]))
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => `policies/${f}`)
    .sort();
  const infra: InfraExpectations = {
    gcpPermissions: GCP_PERMISSIONS,
    plumbing: INFRA_PLUMBING_GRANTS,
    publishDeny: PUBLISH_DENY,
    runtime: runtimeFor(pkg.engines?.node ?? ''),
    entryPoint: ENTRY_POINT,
    // The notification filter drops the final states only: awaiting-approval must pass (approval mode).
    handledMark: { key: MARK_KEYS.state, values: FINAL_MARK_STATES },
    auditProducer: RESPONDER_NAME,
    auditLabelKeys: auditLabelKeys(['cluster', 'namespace', 'pod', 'action', 'rule', 'verdict', 'category', 'mode', 'project', 'step', 'failure']),
    policyFiles,
  };
  const rbac: RbacExpectation[] = [
    {
      file: RBAC_FILES.base,
      text: await readFile(join(root, RBAC_FILES.base), 'utf8'),
      roleName: BASE_ROLE_NAME,
      subject: PLACEHOLDER_SUBJECT,
      triples: expectedTriples(KUBE_API_CALLS, (c) => c.feature === undefined),
    },
  ];
  return { infra, rbac };
}
