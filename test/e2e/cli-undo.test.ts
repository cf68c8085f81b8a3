// `scc-responder undo` end to end, in-process through main() (the bin's code path): a real
// triage in enforce (label, annotate, quarantine, cordon) against the fake Kubernetes API
// server through client-node and a kubeconfig, then undo through the same client: each
// action reverted on the fake's own state, the `reverted` marks on the fake SCC, audit
// entries; refusal when the objects are no longer what we made; a deleted pod reported as
// impossible to undo; no record -> exit 1; a bad name -> exit 2.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { main } from '../../functions/cli/main.js';
import { MARK_KEYS, isHandled } from '../../shared/record/marks.js';
import { DEPLOY_POD, NODE, NS, type World } from '../support/fake-kube-world.js';
import { type FakeScc } from '../support/fake-scc.js';
import { startCliWorld, type CliWorld } from '../support/cli-world.js';

const FIXTURE = 'test/fixtures/modified-malicious-binary.v1.json';
const FINDING = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { finding: { name: string } }).finding.name;
let world: World;
let scc: FakeScc;
let dir: string;
let kubeconfig: string;
let cli: CliWorld;

const policy = (actions: string[]): string => `version: 1
requireEvidence: false
rules:
  - name: contain
    match:
      categories: ["Execution: Modified Malicious Binary Executed"]
    mode: enforce
    snapshot: false
    actions:
${actions.map((a) => `      - type: ${a}`).join('\n')}
`;

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const env = { HOME: dir, KUBECONFIG: kubeconfig, SCC_RESPONDER_MARKS: 'true', SCC_RESPONDER_ENDPOINT_SCC: `127.0.0.1:${scc.port}` };
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s), env });
  return { code, out, err };
}

/** Triage the fixture in enforce with these actions into a fresh evidence directory. */
async function contain(actions: string[]): Promise<string> {
  // A fresh start: SCC's copy without our marks (an earlier test's run marked it handled).
  scc.setMarks(FINDING, {});
  const evidence = mkdtempSync(path.join(dir, 'evidence-'));
  const file = path.join(evidence, '..', `${path.basename(evidence)}.policy.yaml`);
  writeFileSync(file, policy(actions));
  const r = await run(['triage', FIXTURE, '--policy', file, '--evidence', evidence, '--format', 'json']);
  assert.equal(r.code, 0, r.err);
  const report = JSON.parse(r.out) as { actions: { type: string; status: string; mode: string; detail: string; guards: { verdict: string }[] }[] };
  for (const a of report.actions) assert.equal(`${a.type}:${a.status}:${a.mode}`, `${a.type}:done:enforce`, `${a.detail} ${JSON.stringify(a.guards.filter((g) => g.verdict !== 'pass'))}`);
  return evidence;
}

interface UndoOut {
  results: { action: string; target: string; status: string; detail: string }[];
  notes: string[];
}

async function undo(evidence: string): Promise<{ code: number; out: UndoOut; err: string }> {
  const r = await run(['undo', FINDING, '--evidence', evidence, '--format', 'json', '--verbose']);
  return { code: r.code, out: JSON.parse(r.out || '{"results":[],"notes":[]}') as UndoOut, err: r.err };
}

const quarantinePolicies = (): [string, { metadata: { labels?: Record<string, string> } }][] =>
  [...world.kube.networkPolicies.entries()].filter(([k]) => k.startsWith(`${NS}/scc-quarantine-`)) as never;
const ownKeys = (m: Record<string, string> | undefined): string[] => Object.keys(m ?? {}).filter((k) => k.startsWith('scc-responder/')).sort();

before(async () => {
  cli = await startCliWorld('scc-undo-');
  ({ world, scc, dir, kubeconfig } = cli);
  // SCC holds the finding: the CLI confirms it (it has SCC access here) before acting.
  scc.addFinding(JSON.parse(readFileSync(FIXTURE, 'utf8')));
});
after(() => cli.close());

test('undo reverts label, annotation, quarantine and cordon; marks say reverted; audit entries written', { timeout: 120_000 }, async () => {
  const evidence = await contain(['labelPod', 'annotatePod', 'quarantinePod', 'cordonNode']);
  assert.equal(quarantinePolicies().length, 1);
  assert.equal(world.kube.node(NODE)?.unschedulable, true);
  assert.deepEqual(ownKeys(world.kube.pod(NS, DEPLOY_POD)?.labels), ['scc-responder/finding', 'scc-responder/quarantine']);
  assert.ok(ownKeys(world.kube.pod(NS, DEPLOY_POD)?.annotations).length > 0);
  const writesBefore = world.kube.writes.length;

  const { code, out, err } = await undo(evidence);
  assert.equal(code, 0, err);
  const byAction = Object.fromEntries(out.results.map((r) => [`${r.action} ${r.target.split('/')[0]}`, r.status]));
  assert.deepEqual(byAction, { 'labelPod pod': 'reverted', 'annotatePod pod': 'reverted', 'quarantinePod networkpolicy': 'reverted', 'quarantinePod pod': 'reverted', 'cordonNode node': 'reverted' }, JSON.stringify(out));
  // The fake's own state: nothing of ours left, the node schedulable.
  assert.equal(quarantinePolicies().length, 0);
  assert.equal(world.kube.node(NODE)?.unschedulable, false);
  assert.deepEqual(ownKeys(world.kube.pod(NS, DEPLOY_POD)?.labels), []);
  assert.deepEqual(ownKeys(world.kube.pod(NS, DEPLOY_POD)?.annotations), []);
  assert.equal(world.kube.pod(NS, DEPLOY_POD)?.labels?.['app'], 'checkout', 'labels not ours are kept');
  // The writes undo sent: a DELETE of the NetworkPolicy and PATCHes; never a pod DELETE.
  const writes = world.kube.writes.slice(writesBefore).map((w) => `${w.method} ${w.path.split('/').slice(-2).join('/')}`);
  assert.ok(writes.some((w) => w.startsWith('DELETE networkpolicies/')), writes.join(', '));
  assert.ok(!writes.some((w) => w.startsWith('DELETE pods/')));
  // Marks: reverted (still "handled": SCC's re-notification after this write starts nothing).
  const marks = scc.marksOf(FINDING) ?? {};
  assert.equal(marks[MARK_KEYS.state], 'reverted');
  assert.match(marks[MARK_KEYS.action] ?? '', /quarantinePod-reverted/);
  assert.equal(isHandled(marks), true);
  // Audit: one entry per item, on the finding's operation.
  const entries = err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { message?: string; undo?: unknown });
  assert.equal(entries.filter((e) => /^undo (labelPod|annotatePod|quarantinePod|cordonNode) /.test(e.message ?? '')).length, 5, err);

  // A second undo finds nothing left to revert and changes nothing.
  const again = await undo(evidence);
  assert.equal(again.code, 0);
  assert.ok(again.out.results.every((r) => r.status === 'nothing-to-do'), JSON.stringify(again.out));
});

test('undo refuses objects that are no longer ours: a NetworkPolicy without our labels, a label someone changed', { timeout: 120_000 }, async () => {
  const evidence = await contain(['labelPod', 'quarantinePod']);
  const [[key, np]] = quarantinePolicies() as [[string, { metadata: { labels?: Record<string, string> } }]];
  // Someone replaced our policy's ownership label, and re-labelled the pod's finding label.
  np.metadata.labels = { ...np.metadata.labels, 'app.kubernetes.io/managed-by': 'platform-team' };
  const pod = world.kube.pod(NS, DEPLOY_POD);
  assert.ok(pod?.labels);
  pod.labels['scc-responder/finding'] = 'set-by-a-human';
  const { code, out } = await undo(evidence);
  assert.equal(code, 0);
  const policyResult = out.results.find((r) => r.target.startsWith('networkpolicy/'));
  assert.equal(policyResult?.status, 'refused', JSON.stringify(out));
  assert.match(policyResult?.detail ?? '', /not ours: label app\.kubernetes\.io\/managed-by=scc-responder expected, found app\.kubernetes\.io\/managed-by=platform-team/);
  assert.ok(world.kube.networkPolicies.has(key), 'the policy is still there');
  const label = out.results.find((r) => r.action === 'labelPod');
  assert.equal(label?.status, 'refused', JSON.stringify(out));
  assert.equal(world.kube.pod(NS, DEPLOY_POD)?.labels?.['scc-responder/finding'], 'set-by-a-human', 'the changed label is kept');
  // Our quarantine label (unchanged) is removed: it selects nothing now the policy is not ours.
  assert.equal(out.results.find((r) => r.action === 'quarantinePod' && r.target.startsWith('pod/'))?.status, 'reverted');
  // Clean up for the next test.
  world.kube.networkPolicies.delete(key);
  delete world.kube.pod(NS, DEPLOY_POD)?.labels?.['scc-responder/finding'];
});

test('negative control: with the ownership check satisfied the same policy is deleted', { timeout: 120_000 }, async () => {
  const evidence = await contain(['quarantinePod']);
  const { out } = await undo(evidence);
  assert.equal(out.results.find((r) => r.target.startsWith('networkpolicy/'))?.status, 'reverted', JSON.stringify(out));
  assert.equal(quarantinePolicies().length, 0);
});

test('a deleted pod cannot be undone: undo says so and writes nothing to the cluster', { timeout: 120_000 }, async () => {
  const evidence = await contain(['deletePod']);
  const writesBefore = world.kube.writes.length;
  const { code, out } = await undo(evidence);
  assert.equal(code, 0);
  assert.equal(out.results.length, 1);
  assert.equal(out.results[0]?.status, 'irreversible');
  assert.match(out.results[0]?.detail ?? '', /a deleted pod cannot be restored/);
  assert.equal(world.kube.writes.length, writesBefore);
});

test('no stored record: exit 1 and nothing touched; not a finding name: exit 2', async () => {
  const empty = mkdtempSync(path.join(dir, 'empty-'));
  const writesBefore = world.kube.writes.length;
  const none = await run(['undo', FINDING, '--evidence', empty]);
  assert.equal(none.code, 1);
  assert.match(none.err, /no stored report of organizations\//);
  const bad = await run(['undo', 'pods/x', '--evidence', empty]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /not an SCC finding name/);
  assert.equal(world.kube.writes.length, writesBefore);
});
