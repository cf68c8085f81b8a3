import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { toIncident } from '../../shared/finding/incident.js';
import { decide } from '../../shared/policy/decide.js';
import { DEFAULT_POLICY_YAML, defaultPolicy } from '../../shared/policy/default-policy.js';
import { loadPolicy, MAX_POLICY_BYTES } from '../../shared/policy/load.js';
import { BUILT_IN_PROTECTED_NAMESPACES, DEFAULT_COLLECTOR_IMAGE } from '../../shared/policy/schema.js';
import { v1 } from './finding-helpers.js';

function policyFile(name: string): string {
  return readFileSync(new URL(`../../policies/${name}`, import.meta.url), 'utf8');
}

function errorsOf(text: string): string[] {
  const r = loadPolicy(text, 'policy.yaml');
  assert.equal(r.ok, false, 'must be rejected');
  return r.ok ? [] : r.errors.map((e) => e.text);
}

describe('loadPolicy errors carry line:column and path', () => {
  const rows: [string, string, string[]][] = [
    ['wrong mode', 'version: 1\nrules:\n  - match:\n      categories: [x]\n    mode: enforc\n', ['policy.yaml:5:11 rules[0].mode: expected one of dry-run|enforce|approve']],
    ['unknown key points at the key', 'version: 1\nrequireEvidnce: false\nrules: []\n', ['policy.yaml:2:1 requireEvidnce: unknown key']],
    ['unknown key inside a rule', 'version: 1\nrules:\n  - match:\n      categories: [x]\n      sevrities: [HIGH]\n', ['policy.yaml:5:7 rules[0].match.sevrities: unknown key']],
    ['missing version points at the document', 'rules: []\n', ['policy.yaml:1:1 version: required']],
    ['wrong version', 'version: 2\nrules: []\n', ['policy.yaml:1:10 version: expected 1']],
    ['missing match points at the rule', 'version: 1\nrules:\n  - name: a\n', ['policy.yaml:3:5 rules[0].match: required']],
    ['empty categories', 'version: 1\nrules:\n  - match:\n      categories: []\n', ['policy.yaml:4:19 rules[0].match.categories: must have at least 1 item']],
    ['unknown action type', 'version: 1\nrules:\n  - match: {categories: [x]}\n    actions:\n      - type: nuke\n', ['policy.yaml:5:15 rules[0].actions[0].type: expected one of labelPod|annotatePod|quarantinePod|cordonNode|deletePod']],
    ['negative grace period', 'version: 1\nrules:\n  - match: {categories: [x]}\n    actions:\n      - type: deletePod\n        gracePeriodSeconds: -1\n', ['policy.yaml:6:29 rules[0].actions[0].gracePeriodSeconds: must be >= 0']],
    ['parameter an action does not take', 'version: 1\nrules:\n  - match: {categories: [x]}\n    actions:\n      - type: cordonNode\n        force: true\n', ['policy.yaml:6:9 rules[0].actions[0].force: unknown key']],
    ['duplicate action', 'version: 1\nrules:\n  - match: {categories: [x]}\n    actions:\n      - type: labelPod\n      - type: labelPod\n', ['policy.yaml:6:15 rules[0].actions[1].type: labelPod is listed twice']],
    ['duplicate rule name', 'version: 1\nrules:\n  - name: a\n    match: {categories: [x]}\n  - name: a\n    match: {categories: [x]}\n', ['policy.yaml:5:11 rules[1].name: duplicate rule name (also rules[0])']],
    ['bad severity', 'version: 1\nrules:\n  - match:\n      categories: [x]\n      severities: [SEVERE]\n', ['policy.yaml:5:20 rules[0].match.severities[0]: expected one of CRITICAL|HIGH|MEDIUM|LOW|SEVERITY_UNSPECIFIED']],
    ['wrong type', 'version: 1\nprotectedNamespaces: kube-system\nrules: []\n', ['policy.yaml:2:22 protectedNamespaces: expected array, got string']],
    ['debug container without a pinned image', 'version: 1\nsnapshot:\n  debugContainer:\n    enabled: true\n    image: busybox:latest\nrules: []\n', ['policy.yaml:5:12 snapshot.debugContainer.image: expected an image pinned by digest (name@sha256:<64 hex>)']],
    ['requireEvidence with an unknown meaning', 'version: 1\nrequireEvidence: succeeded\nrules: []\n', ['policy.yaml:2:18 requireEvidence: expected attempted, stored, true (= attempted) or false']],
    ['bad label key', 'version: 1\nrules:\n  - match:\n      categories: [x]\n      podLabels: {"bad key": x}\n', ['policy.yaml:5:19 rules[0].match.podLabels["bad key"]: expected a Kubernetes label key']],
    ['YAML syntax error', 'version: 1\nrules: [\n', ['policy.yaml:3:1 YAML: Flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['duplicate YAML key', 'version: 1\nversion: 1\nrules: []\n', ['policy.yaml:2:1 YAML: Map keys must be unique']],
    ['not a mapping', '- a\n- b\n', ['policy.yaml:1:1 expected a mapping with version and rules']],
    ['empty file', '# nothing\n', ['policy.yaml policy is empty: expected a mapping with version and rules']],
  ];
  for (const [name, text, expected] of rows) {
    test(name, () => assert.deepEqual(errorsOf(text), expected));
  }

  test('several errors at once, sorted by position, each with line and column', () => {
    const r = loadPolicy('version: 3\nrules:\n  - match: {categories: []}\n    mode: x\n', 'p.yaml');
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.errors.map((e) => [e.line, e.column, e.path]), [[1, 10, 'version'], [3, 25, 'rules[0].match.categories'], [4, 11, 'rules[0].mode']]);
  });

  test('oversized and alias-bomb policies are refused without throwing', () => {
    assert.match(errorsOf(`version: 1\n#${'x'.repeat(MAX_POLICY_BYTES)}\nrules: []\n`)[0]!, /larger than/);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let k = 0; k < 8; k++) bomb.push(`${String.fromCharCode(98 + k)}: &${String.fromCharCode(98 + k)} [${Array(10).fill(`*${String.fromCharCode(97 + k)}`).join(', ')}]`);
    const r = loadPolicy(`${bomb.join('\n')}\nversion: 1\nrules: []\n`, 'bomb.yaml');
    assert.equal(r.ok, false);
  });
});

describe('defaults and growth', () => {
  test('a minimal file gets every default', () => {
    const r = loadPolicy('version: 1\nrules:\n  - match: {categories: [x]}\n', 'm.yaml');
    assert.ok(r.ok);
    const p = r.policy;
    // The gate the target cannot hold shut, and the trusted collector, by default.
    assert.equal(p.requireEvidence, 'attempted');
    assert.deepEqual(p.protectedNamespaces, BUILT_IN_PROTECTED_NAMESPACES);
    assert.deepEqual(p.snapshot, {
      maxBytes: 512 * 1024 * 1024,
      timeoutSeconds: 120,
      hourlyBytesPerCluster: 8192 * 1024 * 1024,
      debugContainer: { enabled: true, image: DEFAULT_COLLECTOR_IMAGE, dryRun: false, ptrace: false },
    });
    assert.deepEqual(p.enrich, { logWindowMinutes: 30, maxLogEntries: 50, maxLogBytes: 262144, callTimeoutSeconds: 10 });
    assert.deepEqual(p.rules[0], { match: { categories: ['x'] }, mode: 'dry-run', enrich: true, snapshot: true, actions: [], maxActionsPerHour: 10 });
  });

  test('protectedNamespaces adds to the built-in list, never replaces it', () => {
    const r = loadPolicy('version: 1\nprotectedNamespaces: [monitoring, kube-system]\nrules: []\n', 'p.yaml');
    assert.ok(r.ok);
    assert.deepEqual(r.policy.protectedNamespaces, [...BUILT_IN_PROTECTED_NAMESPACES, 'monitoring']);
  });

  test('warnings for rules that can never act as written', () => {
    const r = loadPolicy('version: 1\nrules:\n  - name: a\n    match: {categories: [x]}\n    mode: enforce\n  - name: b\n    match: {categories: [x]}\n    snapshot: false\n    actions: [{type: deletePod}]\n', 'w.yaml');
    assert.ok(r.ok);
    assert.deepEqual(r.warnings, ['w.yaml: rule a is enforce but has no actions', 'w.yaml: rule b requires evidence but takes no snapshot: its destructive actions can never run']);
  });
});

describe('bundled and example policies', () => {
  test('policies/default.yaml is the bundled default text', () => {
    assert.equal(policyFile('default.yaml'), DEFAULT_POLICY_YAML);
  });

  test('the default policy: dry-run, enrich + snapshot for the one category, no action, no warning', () => {
    const r = loadPolicy(DEFAULT_POLICY_YAML, 'default.yaml');
    assert.ok(r.ok);
    assert.deepEqual(r.warnings, []);
    assert.equal(r.policy.rules.length, 1);
    const rule = r.policy.rules[0]!;
    assert.deepEqual(rule.match, { categories: ['Execution: Modified Malicious Binary Executed'] });
    assert.equal(rule.mode, 'dry-run');
    assert.deepEqual(rule.actions, []);
    assert.equal(defaultPolicy(), defaultPolicy(), 'parsed once');
  });

  test('enforce-delete-for-deployments.yaml: deletes in payments, triage elsewhere, exempt label honoured', () => {
    const r = loadPolicy(policyFile('enforce-delete-for-deployments.yaml'), 'enforce-delete-for-deployments.yaml');
    assert.ok(r.ok, r.ok ? '' : r.errors.map((e) => e.text).join('\n'));
    assert.deepEqual(r.warnings, []);
    const i = toIncident(v1());
    assert.ok(i.ok);
    const d = decide(i.incident, r.policy);
    assert.ok(d.matched);
    assert.equal(d.rule, 'delete-prod-deployments');
    assert.equal(d.mode, 'enforce');
    assert.deepEqual(d.actions.map((a) => a.type), ['labelPod', 'annotatePod', 'deletePod']);
    assert.deepEqual(d.actions[2]?.params, { gracePeriodSeconds: 0, requireController: true });
    assert.equal(d.maxActionsPerHour, 5);
    const exempt = decide({ ...i.incident, podLabels: { ...i.incident.podLabels, 'scc-responder/exempt': 'true' } }, r.policy);
    assert.ok(exempt.matched);
    assert.equal(exempt.rule, 'triage-everything-else');
    assert.equal(exempt.mode, 'dry-run');
    assert.ok(r.policy.protectedNamespaces.includes('monitoring'));
  });

  test('quarantine-and-cordon.yaml: quarantine + cordon on shared clusters, preview elsewhere', () => {
    const r = loadPolicy(policyFile('quarantine-and-cordon.yaml'), 'quarantine-and-cordon.yaml');
    assert.ok(r.ok, r.ok ? '' : r.errors.map((e) => e.text).join('\n'));
    assert.equal(r.policy.snapshot.debugContainer.enabled, true);
    const i = toIncident(v1());
    assert.ok(i.ok);
    const elsewhere = decide(i.incident, r.policy);
    assert.ok(elsewhere.matched);
    assert.equal(elsewhere.rule, 'preview-elsewhere');
    const shared = decide({ ...i.incident, cluster: { ...i.incident.cluster!, name: 'shared-eu' } }, r.policy);
    assert.ok(shared.matched);
    assert.equal(shared.rule, 'quarantine-and-cordon');
    assert.deepEqual(shared.actions.map((a) => a.type), ['quarantinePod', 'cordonNode', 'annotatePod']);
  });
});
