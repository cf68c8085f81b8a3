// The bundled default policy, as YAML text inside a module so it ships in dist/ with the
// code (no file to find at runtime). policies/default.yaml is the same text for people to
// copy; test/unit/policy-load.test.ts keeps the two identical. Its data is also written out
// below (DEFAULT_POLICY_DATA), so a new instance validates data instead of parsing YAML (see
// ./compiled.ts); test/unit/policy-compiled.test.ts keeps it equal to the text's.
import { policyFromData } from './compiled.js';
import { formatPolicyErrors, loadPolicy } from './load.js';
import type { Policy } from './schema.js';

export const DEFAULT_POLICY_SOURCE = 'default-policy.yaml';

export const DEFAULT_POLICY_YAML = `# yaml-language-server: $schema=../policy.schema.json
#
# scc-container-responder: the bundled default policy.
#
# Dry-run: for every ACTIVE "Execution: Modified Malicious Binary Executed" finding on a
# GKE cluster, read the cluster, node, pod, owners and logs (enrich) and copy the modified
# binary into the evidence store (snapshot). No containment action: nothing in the cluster
# is changed. See policies/*.yaml for enforcing examples and policy.schema.json for every key.
version: 1

rules:
  - name: modified-malicious-binary
    description: Triage and evidence for modified malicious binaries; no containment.
    match:
      categories:
        - "Execution: Modified Malicious Binary Executed"
    mode: dry-run
    enrich: true
    snapshot: true
    actions: []
`;

/** DEFAULT_POLICY_YAML's data (the YAML document as plain values). */
export const DEFAULT_POLICY_DATA: unknown = {
  version: 1,
  rules: [
    {
      name: 'modified-malicious-binary',
      description: 'Triage and evidence for modified malicious binaries; no containment.',
      match: { categories: ['Execution: Modified Malicious Binary Executed'] },
      mode: 'dry-run',
      enrich: true,
      snapshot: true,
      actions: [],
    },
  ],
};

let cached: Policy | undefined;

/** The default policy, validated once. Throws only if the bundled text is invalid (a unit test prevents that). */
export function defaultPolicy(): Policy {
  if (cached) return cached;
  const result = policyFromData(DEFAULT_POLICY_DATA, DEFAULT_POLICY_SOURCE) ?? loadPolicy(DEFAULT_POLICY_YAML, DEFAULT_POLICY_SOURCE);
  if (!result.ok) throw new Error(`bundled default policy is invalid:\n${formatPolicyErrors(result.errors)}`);
  cached = result.policy;
  return cached;
}
