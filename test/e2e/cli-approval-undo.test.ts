// Approval through the CLI (main(), the bin's code path), then `undo` of what the approval
// did: a triage in approve mode labels the pod and records cordonNode as pending (marks on the
// fake SCC: awaiting-approval); a person sets the approval mark on SCC's copy; the same file
// triaged again is decided from SCC's copy and cordons the node; `undo` reverts the approved
// cordon (it is in the decision's report, <folder>/approval/report.json) and the label.
// Negative control: the finding's own report does not list the cordon (undo must read the decision's).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { main } from '../../functions/cli/main.js';
import { MARK_KEYS } from '../../shared/record/marks.js';
import { CLUSTER, DEPLOY_POD, NODE, NS, PROJECT, type World } from '../support/fake-kube-world.js';
import { type FakeScc } from '../support/fake-scc.js';
import { startCliWorld, type CliWorld } from '../support/cli-world.js';

const FIXTURE = 'test/fixtures/modified-malicious-binary.v1.json';
const FINDING = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { finding: { name: string } }).finding.name;
const POLICY = `version: 1
requireEvidence: false
rules:
  - name: approve-cordon
    match:
      categories: ["Execution: Modified Malicious Binary Executed"]
    mode: approve
    snapshot: false
    actions:
      - type: labelPod
      - type: cordonNode
`;
let world: World;
let scc: FakeScc;
let dir: string;
let kubeconfig: string;
let cli: CliWorld;

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const env = { HOME: dir, KUBECONFIG: kubeconfig, SCC_RESPONDER_MARKS: 'true', SCC_RESPONDER_ENDPOINT_SCC: `127.0.0.1:${scc.port}` };
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s), env });
  return { code, out, err };
}

before(async () => {
  cli = await startCliWorld('scc-approval-undo-');
  ({ world, scc, dir, kubeconfig } = cli);
  // SCC holds the finding: the CLI confirms it (it has SCC access here) before acting.
  scc.addFinding(JSON.parse(readFileSync(FIXTURE, 'utf8')));
});

after(() => cli.close());

test('approve in the CLI from SCC\'s mark, then undo reverts the approved cordon', { timeout: 120_000 }, async () => {
  const evidence = path.join(dir, 'evidence');
  const policy = path.join(dir, 'policy.yaml');
  writeFileSync(policy, POLICY);
  const triage = ['triage', FIXTURE, '--policy', policy, '--evidence', evidence, '--format', 'json'];
  const first = await run(triage);
  assert.equal(first.code, 0, first.err);
  const marks = scc.marksOf(FINDING) ?? {};
  assert.equal(marks[MARK_KEYS.state], 'awaiting-approval');
  assert.equal(marks[MARK_KEYS.action], 'labelled,cordon-pending');
  assert.notEqual(world.kube.node(NODE)?.unschedulable, true, 'nothing cordoned before approval');
  const runId = marks[MARK_KEYS.run] ?? '';

  scc.setMarks(FINDING, { ...(scc.marksOf(FINDING) ?? {}), scc_responder_approval: `approve:${runId}` });
  const approved = await run(triage);
  assert.equal(approved.code, 0, approved.err);
  assert.equal(world.kube.node(NODE)?.unschedulable, true, 'cordoned after approval');
  assert.equal(scc.marksOf(FINDING)?.[MARK_KEYS.state], 'contained');

  // Negative control: the finding's own report.json does not list the cordon (it only waited
  // there): undo finds it in the decision's report, or it would leave the node cordoned.
  const folder = path.join(evidence, PROJECT, CLUSTER, NS, DEPLOY_POD, FINDING.split('/').at(-1) ?? '');
  const own = JSON.parse(readFileSync(path.join(folder, 'report.json'), 'utf8')) as { actions: { type: string }[] };
  assert.deepEqual(own.actions.map((a) => a.type), ['labelPod']);
  const decided = JSON.parse(readFileSync(path.join(folder, 'approval', 'report.json'), 'utf8')) as { actions: { type: string; status: string }[] };
  assert.deepEqual(decided.actions.map((a) => `${a.type}:${a.status}`), ['cordonNode:done']);

  const u = await run(['undo', FINDING, '--evidence', evidence, '--format', 'json']);
  assert.equal(u.code, 0, u.err);
  const results = (JSON.parse(u.out) as { results: { action: string; status: string }[] }).results;
  assert.deepEqual(results.filter((r) => r.action === 'cordonNode').map((r) => r.status), ['reverted'], u.out);
  assert.equal(world.kube.node(NODE)?.unschedulable, false);
});
