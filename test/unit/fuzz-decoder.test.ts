// Fuzz: 5,000 mutated notifications (fixed seed) through decodeMessage -> toIncident -> decide
// (bundled dry-run policy and the enforcing example policy), and through the filter's fast
// path screenMessage(). The other 5,000 of the 10,000 per CI run go through the whole
// handler in test/integration/fuzz-pipeline.test.ts.
//
// Properties, for every case:
//   - nothing throws;
//   - every outcome is classified: a decode error with a known code (never `internal`) and a
//     message that names its path, or a validated message that always becomes an Incident,
//     and a decision that is a plan or a NoMatch with a known code;
//   - nothing unsafe is planned: a plan has a valid pod and namespace on a GKE cluster, a
//     snapshot only for a usable binary path, actions never in a protected namespace;
//   - screenMessage agrees with decideMessage (or is its documented shortcut);
//   - the planted secret appears in no error, incident, decision or playbook artefact;
//   - no __proto__ key in the input pollutes Object.prototype.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { buildPlaybookArtefacts } from '../../shared/enrich/playbook.js';
import { decodeMessage, type DecodeErrorCode } from '../../shared/finding/decode.js';
import { binaryPathProblem, toIncident } from '../../shared/finding/incident.js';
import type { Incident } from '../../shared/finding/types.js';
import { decide, policyCategories } from '../../shared/policy/decide.js';
import { decideMessage, screenMessage } from '../../shared/policy/decide-message.js';
import { defaultPolicy } from '../../shared/policy/default-policy.js';
import { formatPolicyErrors, loadPolicy } from '../../shared/policy/load.js';
import type { Policy } from '../../shared/policy/schema.js';
import type { Decision, NoMatchCode } from '../../shared/policy/types.js';
import { buildInput, containsSecret, fuzzCase, type FuzzCase } from '../support/fuzz-mutations.js';

export const DECODER_FUZZ_SEED = 0x5cc_2026;
export const DECODER_FUZZ_RUNS = 5_000;

const DECODE_CODES: readonly DecodeErrorCode[] = ['empty', 'too-large', 'not-utf8', 'not-json', 'not-base64', 'bad-shape', 'unsupported-event'];
const NO_MATCH_CODES: readonly NoMatchCode[] = ['category-not-covered', 'not-active', 'not-gke', 'no-pod', 'invalid-pod', 'no-rule-matched'];
// Errors that concern the whole body have no path; each says what the body was.
const ROOT_MESSAGES = /^(no message body|body is empty|body is \d+ bytes|body: not (JSON|valid UTF-8)|expected a (JSON object|CloudEvent)|[a-z_.[\]0-9]* ?\(decoded\): expected an SCC NotificationMessage object|body: expected an SCC NotificationMessage object)/;
const MAX_ERROR_MESSAGE = 4096;
const OBJECT_PROTOTYPE_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));

function enforcePolicy(): Policy {
  const text = readFileSync(new URL('../../policies/enforce-delete-for-deployments.yaml', import.meta.url), 'utf8');
  const r = loadPolicy(text, 'enforce-delete-for-deployments.yaml');
  if (!r.ok) throw new Error(formatPolicyErrors(r.errors));
  return r.policy;
}

const POLICIES: readonly Policy[] = [defaultPolicy(), enforcePolicy()];

const playbookFailures: string[] = [];

interface Tally {
  [outcome: string]: number;
}

function count(t: Tally, key: string): void {
  t[key] = (t[key] ?? 0) + 1;
}

function checkError(error: { code: string; message: string; path?: string }, codes: readonly string[], where: string): void {
  assert.ok(codes.includes(error.code), `${where}: unknown or internal error code ${error.code}: ${error.message}`);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0 && error.message.length <= MAX_ERROR_MESSAGE, `${where}: message length ${error.message.length}`);
  if (error.path !== undefined) {
    assert.ok(error.path.length > 0, `${where}: empty path`);
    assert.ok(error.message.includes(error.path), `${where}: message does not name its path ${error.path}: ${error.message}`);
  } else {
    assert.match(error.message, ROOT_MESSAGES, `${where}: an error without a path must concern the whole body`);
  }
}

function checkIncident(i: Incident): void {
  if (i.binary) {
    assert.equal(i.binary.pathProblem, binaryPathProblem(i.binary.path), 'binary.pathProblem is what binaryPathProblem says');
    if (i.binary.path.includes('\0') || !i.binary.path.startsWith('/') || i.binary.path.split('/').includes('..')) {
      assert.ok(i.binary.pathProblem, `a hostile binary path is flagged: ${JSON.stringify(i.binary.path.slice(0, 60))}`);
    }
  }
  for (const v of i.envVariables) assert.equal(v.val, '[REDACTED]');
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function checkDecision(d: Decision, i: Incident, policy: Policy): void {
  if (!d.matched) {
    assert.ok(d.code !== undefined && NO_MATCH_CODES.includes(d.code), `NoMatch code ${String(d.code)}`);
    assert.ok(d.reason.length > 0);
    return;
  }
  // A plan: everything it may act on has been checked.
  assert.ok(policyCategories(policy).includes(i.category));
  assert.equal(i.state, 'ACTIVE');
  assert.notEqual(i.cluster, null, 'a plan only for a GKE cluster');
  assert.ok(i.namespace !== undefined && DNS_LABEL.test(i.namespace) && i.namespace.length <= 63, `plan for namespace ${JSON.stringify(i.namespace)}`);
  assert.ok(i.pod !== undefined && i.pod.length <= 253 && !/[^a-z0-9.-]/.test(i.pod), `plan for pod ${JSON.stringify(i.pod)}`);
  if (d.snapshot) {
    assert.ok(i.binary && i.binary.pathProblem === undefined && binaryPathProblem(i.binary.path) === undefined, 'snapshot only for a usable path');
    assert.ok(i.container !== undefined, 'snapshot only with a container');
  }
  if (d.actions.length > 0) {
    assert.ok(!PROTECTED_ORACLE.some((p) => p.test(i.namespace ?? '')), `actions planned in protected namespace ${i.namespace}`);
  }
}

// An oracle independent of the product's matcher (a mutation of protectedNamespaceMatch must
// not also change the check): the built-in protected namespaces and the enforce example's two
// additions, written out here as whole-value patterns.
const PROTECTED_ORACLE: readonly RegExp[] = [
  /^kube-system$/, /^kube-public$/, /^kube-node-lease$/, /^gke-managed-.*$/, /^gke-gmp-system$/, /^gmp-system$/,
  /^gmp-public$/, /^gke-connect$/, /^istio-system$/, /^asm-system$/, /^config-management-system$/,
  /^monitoring$/, /^cert-manager$/,
];

test('the protected-namespace oracle agrees with the policies it judges (kept in step by hand)', () => {
  for (const policy of POLICIES) {
    for (const ns of policy.protectedNamespaces) {
      const sample = ns.replace(/\*/g, 'x');
      assert.ok(PROTECTED_ORACLE.some((p) => p.test(sample)), `oracle lacks ${ns}`);
    }
  }
});

/** One case; returns the outcome label for the tally. */
function runCase(c: FuzzCase): string {
  const { input, headers } = buildInput(c);
  const ctx = headers ? { headers } : {};
  const decoded = decodeMessage(input, ctx);
  let outcome: string;
  if (!decoded.ok) {
    checkError(decoded.error, DECODE_CODES, 'decodeMessage');
    assert.ok(!containsSecret(decoded.error), 'secret in a decode error');
    outcome = `rejected:${decoded.error.code}`;
  } else {
    const built = toIncident(decoded.message);
    assert.ok(built.ok, `a validated message always becomes an Incident: ${built.ok ? '' : built.error.message}`);
    if (!built.ok) return 'unreachable';
    const incident = built.incident;
    checkIncident(incident);
    assert.ok(!containsSecret(incident), 'secret in the Incident');
    try {
      assert.ok(!containsSecret(buildPlaybookArtefacts(incident)), 'secret in the playbook artefacts');
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      // Known defect in shared/enrich (not this suite's code): collected, asserted below.
      playbookFailures.push(`${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} for ${JSON.stringify(c).slice(0, 300)}`);
    }
    const decisions = POLICIES.map((p) => decide(incident, p));
    decisions.forEach((d, k) => checkDecision(d, incident, POLICIES[k] as Policy));
    assert.ok(!containsSecret(decisions), 'secret in a decision');
    const first = decisions[0] as Decision;
    outcome = first.matched ? 'planned' : `ignored:${first.code ?? '?'}`;
  }

  // The filter's fast path against the full path, with the bundled policy.
  const policy = POLICIES[0] as Policy;
  const fast = screenMessage(input, policy, ctx);
  assert.ok(!containsSecret(fast), 'secret in the screened result');
  if (fast.stage === 'screen') {
    const full = decideMessage(input, policy, ctx);
    if (full.stage === 'decide') {
      assert.deepEqual(fast.decision, full.decision, 'screened decision differs from the full decision');
      assert.deepEqual(fast.envelope, full.envelope);
      assert.equal(fast.finding.name, full.incident.findingName);
    } else {
      // The documented shortcut: an uncovered category whose notification fails validation elsewhere.
      assert.equal(full.stage, 'decode');
      if (full.stage === 'decode') {
        assert.equal(full.error.code, 'bad-shape');
        assert.match(full.error.path ?? '', /^(finding|resource|notificationConfigName)\b/, `screened, but the full path failed outside the notification: ${full.error.message}`);
      }
    }
    outcome += '+screened';
  } else {
    assert.deepEqual(fast, decideMessage(input, policy, ctx), 'screenMessage differs from decideMessage for a message it did not screen');
  }
  return outcome;
}

describe('fuzz: decoder, incident and policy', () => {
  test(`${DECODER_FUZZ_RUNS} mutated notifications: no throw, all classified, nothing unsafe planned, no secret`, (t) => {
    const tally: Tally = {};
    fc.assert(
      fc.property(fuzzCase, (c) => {
        count(tally, runCase(c));
      }),
      { seed: DECODER_FUZZ_SEED, numRuns: DECODER_FUZZ_RUNS, includeErrorInReport: true },
    );
    t.diagnostic(`outcomes: ${JSON.stringify(tally)}`);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.equal(Object.getOwnPropertyNames(Object.prototype).filter((k) => !OBJECT_PROTOTYPE_KEYS.has(k)).length, 0, 'Object.prototype gained keys');

    // The fuzzer must reach every stage, or the properties above were never exercised.
    const seen = (prefix: string): number => Object.entries(tally).filter(([k]) => k.startsWith(prefix)).reduce((a, [, n]) => a + n, 0);
    for (const code of ['not-json', 'not-base64', 'bad-shape', 'unsupported-event', 'not-utf8', 'too-large', 'empty']) {
      assert.ok(seen(`rejected:${code}`) > 0, `no case was rejected with ${code}`);
    }
    assert.ok(seen('planned') >= 100, `only ${seen('planned')} cases reached a plan`);
    assert.ok(seen('ignored:category-not-covered') >= 100, 'too few uncovered categories');
    assert.ok(seen('ignored:invalid-pod') > 0 && seen('ignored:no-pod') > 0 && seen('ignored:not-gke') > 0 && seen('ignored:not-active') > 0, 'every pre-check reached');
    assert.ok(Object.keys(tally).some((k) => k.endsWith('+screened')), 'the fast path was exercised');
  });

  // buildPlaybookArtefacts (shared/enrich/playbook.ts) throws URIError when a field it puts
  // in a console URL (project, cluster, node, namespace, pod) holds a lone UTF-16 surrogate,
  // which JSON.parse produces from "\ud800": encodeURIComponent rejects it. Reported to the
  // owner; this turns into a plain test once fixed.
  test('playbook artefacts never throw for a decoded finding', () => {
    // The case the fuzzer found (seed-independent), then whatever this seed turned up.
    const n = JSON.parse(readFileSync(new URL('../fixtures/modified-malicious-binary.v1.json', import.meta.url), 'utf8')) as { resource: Record<string, unknown> };
    n.resource['projectDisplayName'] = '\uD800';
    const built = toIncident(n);
    assert.ok(built.ok);
    if (built.ok) assert.doesNotThrow(() => buildPlaybookArtefacts(built.incident));
    assert.deepEqual(playbookFailures.slice(0, 3), [], `${playbookFailures.length} cases threw`);
  });
});
