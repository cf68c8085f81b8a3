import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderPolicySchema } from '../../scripts/gen-policy-schema.js';
import { DEFAULT_PROTECTED_NAMESPACES } from '../../shared/contain/protected.js';
import { protectedNamespaceVerdict } from '../../shared/contain/guards.js';
import { BUILT_IN_PROTECTED_NAMESPACES, policyJsonSchema } from '../../shared/policy/schema.js';

test('the committed policy.schema.json equals the one generated from the code', () => {
  const committed = readFileSync(new URL('../../policy.schema.json', import.meta.url), 'utf8');
  assert.equal(committed, renderPolicySchema(), 'run: npx tsx scripts/gen-policy-schema.ts');
});

test('the JSON Schema describes the file as written (input side: defaults optional, strict keys)', () => {
  const s = policyJsonSchema() as { required?: string[]; additionalProperties?: boolean; properties: Record<string, unknown> };
  assert.deepEqual(s.required, ['version', 'rules']);
  assert.equal(s.additionalProperties, false);
  assert.deepEqual(Object.keys(s.properties).sort(), ['confirm', 'description', 'enrich', 'protectedNamespaces', 'requireEvidence', 'results', 'rules', 'snapshot', 'version']);
  const text = JSON.stringify(s);
  for (const t of ['deletePod', 'quarantinePod', 'cordonNode', 'labelPod', 'annotatePod', 'dry-run', 'enforce', 'maxActionsPerHour']) assert.ok(text.includes(t), t);
});

test('the containment fallback list is the built-in list and covers the system namespaces', () => {
  assert.equal(DEFAULT_PROTECTED_NAMESPACES, BUILT_IN_PROTECTED_NAMESPACES, 'one definition, not a copy');
  for (const ns of ['kube-system', 'kube-public', 'kube-node-lease', 'gke-managed-system', 'gmp-system']) {
    assert.equal(protectedNamespaceVerdict([ns], DEFAULT_PROTECTED_NAMESPACES).verdict, 'fail', ns);
  }
  assert.equal(protectedNamespaceVerdict(['payments'], DEFAULT_PROTECTED_NAMESPACES).verdict, 'pass');
});
