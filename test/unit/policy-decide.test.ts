import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { toIncident } from '../../shared/finding/incident.js';
import type { Incident } from '../../shared/finding/types.js';
import { decide, explain, notificationFilter, policyCategories, protectedNamespaceMatch } from '../../shared/policy/decide.js';
import { defaultPolicy } from '../../shared/policy/default-policy.js';
import { loadPolicy } from '../../shared/policy/load.js';
import type { Policy } from '../../shared/policy/schema.js';
import type { Decision, NoMatchCode } from '../../shared/policy/types.js';
import { fixture, v1 } from './finding-helpers.js';

const MMB = 'Execution: Modified Malicious Binary Executed';

function base(): Incident {
  const r = toIncident(v1());
  if (!r.ok) throw new Error(r.error.message);
  return r.incident;
}

/** The fixture incident with some fields replaced. */
function inc(overrides: Partial<Incident> = {}): Incident {
  return { ...base(), ...overrides };
}

/** A policy through the real loader (so defaults apply exactly as for a file). */
function pol(rules: Record<string, unknown>[], extra: Record<string, unknown> = {}): Policy {
  const r = loadPolicy(stringify({ version: 1, ...extra, rules }), 'test.yaml');
  if (!r.ok) throw new Error(r.errors.map((e) => e.text).join('\n'));
  return r.policy;
}

/** A one-rule policy for MMB with the given match fields (and rule fields). */
function rule(match: Record<string, unknown>, fields: Record<string, unknown> = {}): Policy {
  return pol([{ name: 'r', match: { categories: [MMB], ...match }, ...fields }]);
}

type Expect =
  | { matched: true; rule?: string; check?: (d: Extract<Decision, { matched: true }>) => void }
  | { matched: false; code: NoMatchCode; reason?: RegExp };

interface Case {
  name: string;
  policy: () => Policy;
  incident: () => Incident;
  expect: Expect;
}

const zonal = (): Partial<Incident> => ({
  resourceName: '//container.googleapis.com/projects/acme-payments-prod/zones/us-central1-b/clusters/payments',
  cluster: { project: 'acme-payments-prod', location: 'us-central1-b', locationKind: 'zone', name: 'payments', resourceName: '//container.googleapis.com/projects/acme-payments-prod/zones/us-central1-b/clusters/payments' },
});

const enforceDelete = { mode: 'enforce', actions: [{ type: 'deletePod' }] };

const CASES: Case[] = [
  // ---------------------------------------------------------------- pre-checks
  {
    name: 'default policy: dry-run, enrich + snapshot, no action',
    policy: defaultPolicy,
    incident: inc,
    expect: {
      matched: true,
      rule: 'modified-malicious-binary',
      check: (d) => {
        assert.deepEqual({ ...d }, { matched: true, rule: 'modified-malicious-binary', ruleIndex: 0, mode: 'dry-run', enrich: true, snapshot: true, requireEvidence: true, evidenceGate: 'attempted', actions: [], maxActionsPerHour: 10 });
      },
    },
  },
  { name: 'default policy ignores Added Binary Executed', policy: defaultPolicy, incident: () => inc({ category: 'Added Binary Executed' }), expect: { matched: false, code: 'category-not-covered', reason: /^category "Added Binary Executed" is not covered by the policy \(covers \["Execution: Modified Malicious Binary Executed"\]\)$/ } },
  { name: 'unknown category', policy: defaultPolicy, incident: () => inc({ category: 'Something: New' }), expect: { matched: false, code: 'category-not-covered' } },
  { name: 'INACTIVE finding', policy: defaultPolicy, incident: () => inc({ state: 'INACTIVE' }), expect: { matched: false, code: 'not-active', reason: /^finding state is INACTIVE: only ACTIVE findings are handled$/ } },
  { name: 'Cloud Run finding of the same category', policy: defaultPolicy, incident: () => inc({ cluster: null, resourceName: '//run.googleapis.com/projects/p/locations/us-central1/services/api' }), expect: { matched: false, code: 'not-gke', reason: /is not a GKE cluster/ } },
  { name: 'no pod named', policy: defaultPolicy, incident: () => inc({ pod: undefined }), expect: { matched: false, code: 'no-pod', reason: /names no pod/ } },
  { name: 'invalid pod name', policy: defaultPolicy, incident: () => inc({ pod: '$(reboot)', problems: [{ field: 'pod', kind: 'invalid', message: 'pod is not a valid Kubernetes name' }] }), expect: { matched: false, code: 'invalid-pod', reason: /pod is not a valid Kubernetes name/ } },
  // ---------------------------------------------------------------- severities
  { name: 'severities: match', policy: () => rule({ severities: ['HIGH', 'CRITICAL'] }), incident: inc, expect: { matched: true } },
  { name: 'severities: no match', policy: () => rule({ severities: ['HIGH'] }), incident: inc, expect: { matched: false, code: 'no-rule-matched', reason: /^no rule matched \(r: severity CRITICAL matches none of match\.severities \["HIGH"\]\)$/ } },
  // ---------------------------------------------------------------- projects
  { name: 'projects: exact id', policy: () => rule({ projects: ['acme-payments-prod'] }), incident: inc, expect: { matched: true } },
  { name: 'projects: glob', policy: () => rule({ projects: ['acme-*-prod'] }), incident: inc, expect: { matched: true } },
  { name: 'projects: by number with projects/ prefix', policy: () => rule({ projects: ['projects/845127364901'] }), incident: inc, expect: { matched: true } },
  { name: 'projects: a prefix of the number does not match (anchored)', policy: () => rule({ projects: ['projects/84512736490'] }), incident: inc, expect: { matched: false, code: 'no-rule-matched' } },
  { name: 'projects: projects/78 does not match 789', policy: () => rule({ projects: ['projects/78'] }), incident: () => inc({ projectId: 'p789', projectNumber: '789' }), expect: { matched: false, code: 'no-rule-matched', reason: /project "p789"\/"789"/ } },
  { name: 'projects: a prefix of the id does not match', policy: () => rule({ projects: ['acme-payments'] }), incident: inc, expect: { matched: false, code: 'no-rule-matched' } },
  // ---------------------------------------------------------------- clusters
  { name: 'clusters: by name', policy: () => rule({ clusters: ['payments'] }), incident: inc, expect: { matched: true } },
  { name: 'clusters: a prefix does not match', policy: () => rule({ clusters: ['pay'] }), incident: inc, expect: { matched: false, code: 'no-rule-matched' } },
  { name: 'clusters: relative name', policy: () => rule({ clusters: ['projects/acme-payments-prod/locations/us-central1/clusters/payments'] }), incident: inc, expect: { matched: true } },
  { name: 'clusters: full name glob', policy: () => rule({ clusters: ['//container.googleapis.com/projects/*/locations/*/clusters/payments'] }), incident: inc, expect: { matched: true } },
  { name: 'clusters: zonal cluster under locations/ in the relative form', policy: () => rule({ clusters: ['projects/acme-payments-prod/locations/us-central1-b/clusters/*'] }), incident: () => inc(zonal()), expect: { matched: true } },
  { name: 'clusters: wrong project in the relative form', policy: () => rule({ clusters: ['projects/other/locations/*/clusters/payments'] }), incident: inc, expect: { matched: false, code: 'no-rule-matched' } },
  // ---------------------------------------------------------------- namespaces
  { name: 'namespaces: glob', policy: () => rule({ namespaces: ['pay*'] }), incident: inc, expect: { matched: true } },
  { name: 'namespaces: prod-* does not match preprod-a', policy: () => rule({ namespaces: ['prod-*'] }), incident: () => inc({ namespace: 'preprod-a' }), expect: { matched: false, code: 'no-rule-matched', reason: /namespace "preprod-a" matches none of match\.namespaces \["prod-\*"\]/ } },
  { name: 'namespaces: ? matches one character', policy: () => rule({ namespaces: ['paymen?s'] }), incident: inc, expect: { matched: true } },
  // ---------------------------------------------------------------- pod labels
  { name: 'podLabels: exact', policy: () => rule({ podLabels: { app: 'checkout' } }), incident: inc, expect: { matched: true } },
  { name: 'podLabels: every label must match', policy: () => rule({ podLabels: { app: 'check*', 'pod-template-hash': '7d9f8b6c5d' } }), incident: inc, expect: { matched: true } },
  { name: 'podLabels: an absent label fails', policy: () => rule({ podLabels: { app: 'checkout', tier: 'web' } }), incident: inc, expect: { matched: false, code: 'no-rule-matched', reason: /pod label tier \(absent\)/ } },
  { name: 'podLabels: value anchored', policy: () => rule({ podLabels: { app: 'check' } }), incident: inc, expect: { matched: false, code: 'no-rule-matched' } },
  // ---------------------------------------------------------------- images
  { name: 'images: ** crosses /', policy: () => rule({ images: ['us-docker.pkg.dev/acme-payments-prod/**'] }), incident: inc, expect: { matched: true } },
  { name: 'images: * does not cross /', policy: () => rule({ images: ['us-docker.pkg.dev/acme-payments-prod/*'] }), incident: inc, expect: { matched: false, code: 'no-rule-matched' } },
  { name: 'images: by image id', policy: () => rule({ images: ['sha256:4b1e8f0c*'] }), incident: inc, expect: { matched: true } },
  { name: 'images: regex metacharacters are literal', policy: () => rule({ images: ['us-docker.pkg.dev/acme-payments-prod/apps/checkout:2.14.1'] }), incident: () => inc({ imageUri: 'us-docker.pkg.dev/acme-payments-prod/apps/checkout:2x14y1', imageId: undefined }), expect: { matched: false, code: 'no-rule-matched' } },
  // ---------------------------------------------------------------- exclusions
  { name: 'exclude: namespace', policy: () => rule({}, { exclude: { namespaces: ['payments'] } }), incident: inc, expect: { matched: false, code: 'no-rule-matched', reason: /excluded: namespace "payments" matches exclude\.namespaces "payments"/ } },
  { name: 'exclude: any pod label excludes', policy: () => rule({}, { exclude: { podLabels: { tier: 'x', app: 'checkout' } } }), incident: inc, expect: { matched: false, code: 'no-rule-matched', reason: /excluded: pod label app="checkout"/ } },
  { name: 'exclude: image', policy: () => rule({}, { exclude: { images: ['**/checkout:*'] } }), incident: inc, expect: { matched: false, code: 'no-rule-matched' } },
  { name: 'exclude: severity', policy: () => rule({}, { exclude: { severities: ['CRITICAL'] } }), incident: inc, expect: { matched: false, code: 'no-rule-matched' } },
  { name: 'exclude: project by number', policy: () => rule({}, { exclude: { projects: ['845127364901'] } }), incident: inc, expect: { matched: false, code: 'no-rule-matched' } },
  { name: 'exclude that does not apply', policy: () => rule({}, { exclude: { namespaces: ['kube-*'], clusters: ['other'] } }), incident: inc, expect: { matched: true } },
  // ---------------------------------------------------------------- ordering
  {
    name: 'first matching rule wins',
    policy: () => pol([{ name: 'first', match: { categories: [MMB] } }, { name: 'second', match: { categories: [MMB] }, ...enforceDelete }]),
    incident: inc,
    expect: { matched: true, rule: 'first', check: (d) => assert.equal(d.ruleIndex, 0) },
  },
  {
    name: 'an excluded rule falls through to the next',
    policy: () => pol([{ name: 'prod', match: { categories: [MMB] }, exclude: { namespaces: ['payments'] }, ...enforceDelete }, { match: { categories: [MMB] } }]),
    incident: inc,
    expect: { matched: true, rule: 'rules[1]', check: (d) => { assert.equal(d.ruleIndex, 1); assert.deepEqual(d.actions, []); } },
  },
  {
    name: 'category of a later rule',
    policy: () => pol([{ name: 'a', match: { categories: ['Added Binary Executed'] } }, { name: 'b', match: { categories: [MMB] } }]),
    incident: inc,
    expect: { matched: true, rule: 'b' },
  },
  // ---------------------------------------------------------------- protected namespaces
  {
    name: 'protected namespace: plan kept, every action withheld with the reason',
    policy: () => rule({ namespaces: ['**'] }, { mode: 'enforce', actions: [{ type: 'deletePod' }, { type: 'labelPod' }] }),
    incident: () => inc({ namespace: 'kube-system' }),
    expect: {
      matched: true,
      check: (d) => {
        assert.deepEqual(d.actions, []);
        assert.deepEqual(d.withheldActions?.map((a) => a.type), ['deletePod', 'labelPod']);
        assert.match(d.withheldActions?.[0]?.reason ?? '', /namespace "kube-system" is protected \("kube-system"\): no rule can act in it/);
        assert.equal(d.snapshot, true);
        assert.equal(d.enrich, true);
        assert.match(d.notes?.[0] ?? '', /enrichment and evidence still run/);
      },
    },
  },
  { name: 'protected namespace glob gke-managed-*', policy: () => rule({}, enforceDelete), incident: () => inc({ namespace: 'gke-managed-filestorecsi' }), expect: { matched: true, check: (d) => assert.equal(d.withheldActions?.[0]?.type, 'deletePod') } },
  { name: 'a namespace the policy adds to the protected list', policy: () => pol([{ match: { categories: [MMB] }, ...enforceDelete }], { protectedNamespaces: ['monitoring'] }), incident: () => inc({ namespace: 'monitoring' }), expect: { matched: true, check: (d) => assert.deepEqual(d.actions, []) } },
  { name: 'a look-alike of a protected namespace is not protected', policy: () => rule({}, enforceDelete), incident: () => inc({ namespace: 'kube-system-x' }), expect: { matched: true, check: (d) => assert.equal(d.actions.length, 1) } },
  { name: 'protected namespace, no actions: nothing withheld', policy: defaultPolicy, incident: () => inc({ namespace: 'kube-system' }), expect: { matched: true, check: (d) => assert.equal(d.withheldActions, undefined) } },
  // ---------------------------------------------------------------- modes, actions, evidence
  {
    name: 'enforce with action parameters after defaults',
    policy: () => rule({}, { mode: 'enforce', maxActionsPerHour: 3, actions: [{ type: 'labelPod' }, { type: 'deletePod', gracePeriodSeconds: 0 }, { type: 'quarantinePod' }, { type: 'cordonNode' }, { type: 'annotatePod' }] }),
    incident: inc,
    expect: {
      matched: true,
      check: (d) => {
        assert.equal(d.mode, 'enforce');
        assert.equal(d.maxActionsPerHour, 3);
        assert.deepEqual(d.actions, [
          { type: 'labelPod', params: {} },
          { type: 'deletePod', params: { gracePeriodSeconds: 0, requireController: true } },
          { type: 'quarantinePod', params: {} },
          { type: 'cordonNode', params: {} },
          { type: 'annotatePod', params: {} },
        ]);
      },
    },
  },
  {
    name: 'scoped budgets and the pod matchers travel in the plan (judged again on the live pod)',
    policy: () => rule({ namespaces: ['pay*'], images: ['**'] }, { maxActionsPerHourPerNamespace: 2, maxActionsPerHourPerWorkload: 1, exclude: { podLabels: { 'scc-responder/exempt': 'true' }, severities: ['LOW'] } }),
    incident: inc,
    expect: {
      matched: true,
      check: (d) => {
        assert.equal(d.maxActionsPerHourPerNamespace, 2);
        assert.equal(d.maxActionsPerHourPerWorkload, 1);
        assert.deepEqual(d.podScope, { match: { namespaces: ['pay*'], images: ['**'] }, exclude: { podLabels: { 'scc-responder/exempt': 'true' } } });
      },
    },
  },
  { name: 'a rule without pod matchers carries no podScope', policy: () => rule({ severities: ['CRITICAL'] }), incident: inc, expect: { matched: true, check: (d) => assert.equal(d.podScope, undefined) } },
  { name: 'mode defaults to dry-run', policy: () => rule({}, { actions: [{ type: 'deletePod', requireController: false }] }), incident: inc, expect: { matched: true, check: (d) => { assert.equal(d.mode, 'dry-run'); assert.deepEqual(d.actions[0]?.params, { requireController: false }); } } },
  { name: 'requireEvidence: global false, rule override true', policy: () => pol([{ match: { categories: [MMB] }, requireEvidence: true }], { requireEvidence: false }), incident: inc, expect: { matched: true, check: (d) => assert.equal(d.requireEvidence, true) } },
  { name: 'requireEvidence: true means attempted', policy: () => pol([{ match: { categories: [MMB] } }], { requireEvidence: true }), incident: inc, expect: { matched: true, check: (d) => assert.deepEqual([d.requireEvidence, d.evidenceGate], [true, 'attempted']) } },
  { name: 'requireEvidence: rule override stored', policy: () => pol([{ match: { categories: [MMB] }, requireEvidence: 'stored' }]), incident: inc, expect: { matched: true, check: (d) => assert.deepEqual([d.requireEvidence, d.evidenceGate], [true, 'stored']) } },
  { name: 'requireEvidence: global false applies', policy: () => pol([{ match: { categories: [MMB] } }], { requireEvidence: false }), incident: inc, expect: { matched: true, check: (d) => assert.equal(d.requireEvidence, false) } },
  { name: 'enrich and snapshot per rule', policy: () => rule({}, { enrich: false, snapshot: false }), incident: inc, expect: { matched: true, check: (d) => { assert.equal(d.enrich, false); assert.equal(d.snapshot, false); assert.equal(d.notes, undefined); } } },
  {
    name: 'snapshot off for an unusable binary path, with a note',
    policy: defaultPolicy,
    incident: () => inc({ binary: { path: '/tmp/a\u0000b', partiallyHashed: false, pathProblem: 'contains a NUL byte' } }),
    expect: { matched: true, check: (d) => { assert.equal(d.snapshot, false); assert.deepEqual(d.notes, ['snapshot off: binary path contains a NUL byte']); } },
  },
  { name: 'snapshot off without a container name', policy: defaultPolicy, incident: () => inc({ container: undefined }), expect: { matched: true, check: (d) => assert.deepEqual(d.notes, ['snapshot off: the finding names no container']) } },
];

describe('decide() table', () => {
  test(`at least 30 cases (${CASES.length})`, () => assert.ok(CASES.length >= 30));
  for (const c of CASES) {
    test(c.name, () => {
      const d = decide(c.incident(), c.policy());
      if (c.expect.matched) {
        assert.equal(d.matched, true, d.matched ? '' : d.reason);
        if (!d.matched) return;
        if (c.expect.rule !== undefined) assert.equal(d.rule, c.expect.rule);
        c.expect.check?.(d);
      } else {
        assert.equal(d.matched, false, 'must not match');
        if (d.matched) return;
        assert.equal(d.code, c.expect.code, d.reason);
        if (c.expect.reason) assert.match(d.reason, c.expect.reason);
      }
    });
  }
});

describe('decide() helpers', () => {
  test('explain() lists each rule evaluated and why it failed', () => {
    const p = pol([
      { name: 'a', match: { categories: [MMB], severities: ['LOW'] } },
      { name: 'b', match: { categories: [MMB], namespaces: ['other'] }, exclude: { images: ['x'] } },
      { name: 'c', match: { categories: [MMB] } },
    ]);
    const e = explain(inc(), p);
    assert.deepEqual(e.rules.map((r) => [r.rule, r.matched]), [['a', false], ['b', false], ['c', true]]);
    assert.match(e.rules[0]!.reasons[0]!, /severity CRITICAL/);
    assert.match(e.rules[1]!.reasons[0]!, /namespace "payments"/);
    assert.equal(e.decision.matched, true);
  });

  test('the no-match reason is bounded for long policies', () => {
    const rules = Array.from({ length: 12 }, (_, k) => ({ name: `r${k}`, match: { categories: [MMB], namespaces: [`n${k}`] } }));
    const d = decide(inc(), pol(rules));
    assert.equal(d.matched, false);
    if (!d.matched) assert.match(d.reason, /and 7 more rules\)$/);
  });

  test('policyCategories and the SCC notification filter', () => {
    const p = pol([{ match: { categories: [MMB, 'Added Binary Executed'] } }, { match: { categories: [MMB, 'Reverse Shell'] } }]);
    assert.deepEqual(policyCategories(p), [MMB, 'Added Binary Executed', 'Reverse Shell']);
    assert.equal(notificationFilter(p), `state="ACTIVE" AND (category="${MMB}" OR category="Added Binary Executed" OR category="Reverse Shell")`);
    assert.deepEqual(policyCategories(defaultPolicy()), [MMB]);
  });

  test('protectedNamespaceMatch uses built-ins plus the policy additions', () => {
    const p = pol([{ match: { categories: [MMB] } }], { protectedNamespaces: ['team-*'] });
    assert.equal(protectedNamespaceMatch('kube-system', p), 'kube-system');
    assert.equal(protectedNamespaceMatch('team-a', p), 'team-*');
    assert.equal(protectedNamespaceMatch('payments', p), undefined);
  });

  test('the added-binary fixture under a policy that covers it', () => {
    const r = toIncident(fixture('added-binary-executed.v1.json'));
    assert.ok(r.ok);
    const d = decide(r.incident, pol([{ name: 'added', match: { categories: ['Added Binary Executed'], severities: ['HIGH'] } }]));
    assert.equal(d.matched, true);
  });
});
