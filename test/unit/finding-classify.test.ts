// End to end through the pure front half (decode -> toIncident -> decide with the default
// policy): every bad or hostile message is classified at some stage with a clear message,
// and nothing throws. Complements the decoder table in finding-decode.test.ts with the
// messages that decode fine but must not be acted on.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildPlaybookArtefacts } from '../../shared/enrich/playbook.js';
import { decideMessage, type MessageDecision } from '../../shared/policy/decide-message.js';
import { defaultPolicy } from '../../shared/policy/default-policy.js';
import { b64, cloudEvent, fixtureText, SECRET, v1, type NotificationLike } from './finding-helpers.js';

function message(mutate: (n: NotificationLike) => void): Record<string, unknown> {
  const n = v1();
  mutate(n);
  return cloudEvent(n);
}

function setPath(n: NotificationLike, path: string): void {
  n.finding.processes[0]!.binary['path'] = path;
  n.finding.sourceProperties['Process_Binary_Fullpath'] = path;
}

interface Row {
  name: string;
  input: () => unknown;
  expect: (r: MessageDecision) => void;
}

function noMatch(code: string, reason: RegExp): (r: MessageDecision) => void {
  return (r) => {
    assert.equal(r.stage, 'decide');
    if (r.stage !== 'decide') return;
    assert.equal(r.decision.matched, false);
    if (r.decision.matched) return;
    assert.equal(r.decision.code, code);
    assert.match(r.decision.reason, reason);
  };
}

const ROWS: Row[] = [
  { name: 'the fixture CloudEvent: a dry-run plan', input: () => fixtureText('cloudevent.modified-malicious-binary.v1.json'), expect: (r) => assert.ok(r.stage === 'decide' && r.decision.matched && r.decision.mode === 'dry-run') },
  { name: 'added binary CloudEvent: category not covered by the default policy', input: () => fixtureText('cloudevent.added-binary-executed.v1.json'), expect: noMatch('category-not-covered', /"Added Binary Executed" is not covered/) },
  { name: 'unknown category', input: () => message((n) => (n.finding['category'] = 'Persistence: New Thing')), expect: noMatch('category-not-covered', /"Persistence: New Thing"/) },
  { name: 'INACTIVE state', input: () => message((n) => (n.finding['state'] = 'INACTIVE')), expect: noMatch('not-active', /INACTIVE/) },
  { name: 'Cloud Run resource', input: () => message((n) => (n.finding['resourceName'] = '//run.googleapis.com/projects/p/locations/us-central1/services/s')), expect: noMatch('not-gke', /not a GKE cluster/) },
  {
    name: 'no pod anywhere in the finding',
    input: () => message((n) => {
      n.finding.kubernetes.pods = [];
      delete n.finding.sourceProperties['Pod_Name'];
    }),
    expect: noMatch('no-pod', /names no pod/),
  },
  { name: '$(...) as the pod name', input: () => message((n) => (n.finding.kubernetes.pods[0]!['name'] = '$(reboot)')), expect: noMatch('invalid-pod', /pod is not a valid Kubernetes name/) },
  { name: 'namespace with a slash', input: () => message((n) => (n.finding.kubernetes.pods[0]!['ns'] = '../kube-system')), expect: noMatch('invalid-pod', /namespace is not a valid Kubernetes name/) },
  {
    name: 'NUL byte in the binary path: plan without snapshot, no kubectl cp',
    input: () => message((n) => setPath(n, '/usr/bin/cu\u0000rl')),
    expect: (r) => {
      assert.ok(r.stage === 'decide' && r.decision.matched);
      assert.equal(r.decision.snapshot, false);
      assert.deepEqual(r.decision.notes, ['snapshot off: binary path contains a NUL byte']);
      assert.equal(r.incident.binary?.pathProblem, 'contains a NUL byte');
      assert.equal(buildPlaybookArtefacts(r.incident).commands.copyBinary, undefined);
    },
  },
  {
    name: 'relative binary path: plan without snapshot',
    input: () => message((n) => setPath(n, 'usr/bin/curl')),
    expect: (r) => assert.ok(r.stage === 'decide' && r.decision.matched && r.decision.snapshot === false),
  },
  {
    name: '$(...) in the binary path: a legal file name, kept as data, commands quoted',
    input: () => message((n) => setPath(n, '/tmp/$(reboot);x')),
    expect: (r) => {
      assert.ok(r.stage === 'decide' && r.decision.matched);
      assert.equal(r.decision.snapshot, true);
      assert.equal(r.incident.binary?.path, '/tmp/$(reboot);x');
      const cp = buildPlaybookArtefacts(r.incident).commands.copyBinary;
      // Single-quoted: the shell takes it literally (no substitution, no second command).
      assert.ok(cp?.shell.includes("'payments/checkout-7d9f8b6c5d-q2x8z:/tmp/$(reboot);x'"), cp?.shell);
    },
  },
  { name: 'not base64', input: () => ({ message: { data: 'not base64!' } }), expect: (r) => assert.ok(r.stage === 'decode' && r.error.code === 'not-base64' && r.error.message === 'message.data: not valid base64 (character 4 is not in the base64 alphabet)') },
  { name: 'not JSON', input: () => ({ message: { data: b64('{{') } }), expect: (r) => assert.ok(r.stage === 'decode' && r.error.code === 'not-json') },
  { name: 'missing category', input: () => message((n) => delete n.finding['category']), expect: (r) => assert.ok(r.stage === 'decode' && r.error.message === 'finding.category: required') },
  { name: 'a 5 MiB message', input: () => ({ message: { data: 'A'.repeat(7 * 1024 * 1024) } }), expect: (r) => assert.ok(r.stage === 'decode' && r.error.code === 'too-large') },
];

describe('decode + toIncident + decide classify every message', () => {
  for (const row of ROWS) {
    test(row.name, () => {
      const r = decideMessage(row.input(), defaultPolicy());
      row.expect(r);
      assert.ok(!JSON.stringify(r).includes(SECRET), 'the planted secret is in no result');
    });
  }
});
