// The CLI as a user runs it: triage a fixture against the fake Kubernetes API through a
// kubeconfig file that points at it (local adapters), offline triage, bad input, and
// `policy check`. In-process through main() (same code path as the bin), plus one real
// subprocess run of the entry file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT_BAD_INPUT, EXIT_OK, main } from '../../functions/cli/main.js';
import type { TriageReport } from '../../shared/respond/report.js';
import { PLANTED_SECRET } from '../support/audit-capture.js';
import { DEPLOY_POD, INSTANCE_ID, NS, startWorld, type World } from '../support/fake-kube-world.js';
import { startFakeScc, type FakeScc } from '../support/fake-scc.js';

const FIXTURE = 'test/fixtures/modified-malicious-binary.v1.json';
let world: World;
let scc: FakeScc;
let dir: string;
let kubeconfig: string;

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s), env: { HOME: dir, ...env } });
  return { code, out, err };
}

before(async () => {
  world = await startWorld();
  scc = await startFakeScc();
  for (const c of world.kube.pod(NS, DEPLOY_POD)?.containers ?? []) c.files = { '/usr/bin/curl': { content: Buffer.from('test') } };
  dir = mkdtempSync(path.join(os.tmpdir(), 'scc-cli-'));
  kubeconfig = path.join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, world.kube.kubeconfigYaml());
});
after(async () => {
  await world.close();
  await scc.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('scc-responder triage', () => {
  test('through a kubeconfig pointing at the fake API server: enrichment, instance id in the node filter, evidence copied and verified', async () => {
    const evidence = path.join(dir, 'evidence');
    const { code, out, err } = await run(['triage', FIXTURE, '--format', 'json', '--evidence', evidence, '--kube-context', 'fake'], { KUBECONFIG: kubeconfig });
    assert.equal(code, EXIT_OK, err);
    const report = JSON.parse(out) as TriageReport;
    assert.equal(report.decision.matched, true);
    assert.equal(report.enrichment?.pod?.name, DEPLOY_POD);
    assert.deepEqual(report.enrichment?.owners.map((o) => o.kind), ['ReplicaSet', 'Deployment']);
    assert.equal(report.enrichment?.node?.instanceId, INSTANCE_ID);
    assert.match(report.playbook.filters.node.filter, new RegExp(`resource.labels.instance_id="${INSTANCE_ID}"`));
    assert.equal(report.playbook.filters.node.runnable, true);
    assert.match(report.playbook.filters.node.url, new RegExp(INSTANCE_ID));
    assert.equal(report.evidence?.outcome, 'stored');
    if (report.evidence?.outcome === 'stored') assert.equal(report.evidence.manifest.verdict, 'matches');
    assert.ok(readdirSync(evidence, { recursive: true }).some((f) => String(f).endsWith('binary')));
    // Dry-run policy: nothing written to the cluster.
    assert.equal(world.kube.writes.length, 0);
    assert.ok(!out.includes(PLANTED_SECRET) && !err.includes(PLANTED_SECRET));
  });

  test('triaging the same finding again after a dry-run reads again (no effect was taken): evidence already stored, nothing written', async () => {
    const evidence = path.join(dir, 'evidence');
    const calls = world.kube.requests.length;
    const { code, out, err } = await run(['triage', FIXTURE, '--format', 'json', '--evidence', evidence, '--kube-context', 'fake'], { KUBECONFIG: kubeconfig });
    assert.equal(code, EXIT_OK, err);
    assert.doesNotMatch(err, /showing .*stored report/);
    assert.equal((JSON.parse(out) as TriageReport).evidence?.outcome, 'exists', 'create-only evidence: found, not stored twice');
    assert.ok(world.kube.requests.length > calls, 'the cluster was read again');
    assert.equal(world.kube.writes.length, 0);
  });

  test('an unknown --kube-context fails the locate step with a clear reason', async () => {
    const { code, out } = await run(['triage', FIXTURE, '--format', 'json', '--evidence', 'none', '--kube-context', 'nope'], { KUBECONFIG: kubeconfig });
    assert.equal(code, EXIT_OK);
    const report = JSON.parse(out) as TriageReport;
    const locate = report.steps.find((s) => s.name === 'locate');
    assert.equal(locate?.status, 'failed');
    assert.match(locate?.reason ?? '', /kube context "nope" not found/);
  });

  test('--offline makes no call: every cluster step is skipped with its reason, the reading is complete', async () => {
    const { code, out } = await run(['triage', FIXTURE, '--offline', '--format', 'markdown'], { KUBECONFIG: kubeconfig });
    assert.equal(code, EXIT_OK);
    assert.match(out, /^# Triage: Execution: Modified Malicious Binary Executed/);
    for (const needle of ['/usr/bin/curl', 'checkout', 'us-docker.pkg.dev/acme-payments-prod/apps/checkout:2.14.1', 'gke-payments-default-pool-1a2b3c4d-x7k9', 'get-credentials', 'kubectl cp', 'virustotal.com', 'attack.mitre.org/techniques/T1105', 'resource.type="k8s_container"', 'cloudaudit.googleapis.com%2Factivity', 'resource.type="gce_instance"']) {
      assert.ok(out.includes(needle), `markdown report lacks ${needle}`);
    }
    assert.match(out, /locate \| skipped/);
    assert.ok(!out.includes(PLANTED_SECRET));
  });

  test('bad input exits 2 with what was wrong and where', async () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ finding: { name: 'organizations/1/sources/2/findings/abc' } }));
    const r = await run(['triage', bad]);
    assert.equal(r.code, EXIT_BAD_INPUT);
    assert.match(r.err, /finding\.category: required/);
    assert.equal((await run(['triage', path.join(dir, 'missing.json')])).code, EXIT_BAD_INPUT);
    assert.equal((await run(['triage'])).code, EXIT_BAD_INPUT);
    assert.equal((await run(['frobnicate'])).code, EXIT_BAD_INPUT);
    assert.equal((await run(['triage', FIXTURE, '--format', 'yaml'])).code, EXIT_BAD_INPUT);
  });
});

describe('CLI: which cluster, and whether SCC confirms', () => {
  /** The fixture with a fresh id (and optionally another eventTime), written to a file. */
  const findingFile = (id: string, eventTime?: string): { file: string; notification: Record<string, unknown> } => {
    const n = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { finding: { name: string; eventTime: string } };
    n.finding.name = n.finding.name.replace(/[^/]+$/, id);
    if (eventTime) n.finding.eventTime = eventTime;
    const file = path.join(dir, `${id}.json`);
    writeFileSync(file, JSON.stringify(n));
    return { file, notification: n as unknown as Record<string, unknown> };
  };
  const sccEnv = (): NodeJS.ProcessEnv => ({ SCC_RESPONDER_ENDPOINT_SCC: `127.0.0.1:${scc.port}`, SCC_RESPONDER_CONFIRM: 'true' });

  test('the current context does not say which cluster it is: cluster steps skipped with the reason, no Kubernetes call', async () => {
    const before = world.kube.requests.length;
    const { code, out, err } = await run(['triage', FIXTURE, '--format', 'json', '--evidence', 'none'], { KUBECONFIG: kubeconfig });
    assert.equal(code, EXIT_OK, err);
    const report = JSON.parse(out) as TriageReport;
    const locate = report.steps.find((s) => s.name === 'locate');
    assert.equal(locate?.status, 'skipped');
    assert.match(locate?.reason ?? '', /kube context "fake" does not say which cluster it is.*--kube-context/);
    assert.equal(world.kube.requests.length, before, 'no Kubernetes call');
  });

  test('without SCC access the CLI proceeds and says plainly that the finding was not confirmed (report, audit)', async () => {
    // --verbose: the audit entries (JSON lines on stderr) are shown only when asked for.
    const { code, out, err } = await run(['triage', FIXTURE, '--offline', '--format', 'json', '--verbose']);
    assert.equal(code, EXIT_OK, err);
    const report = JSON.parse(out) as TriageReport;
    assert.equal(report.confirmation?.confirmed, false);
    assert.match(report.confirmation?.notes[0] ?? '', /NOT confirmed by SCC: no SCC access/);
    assert.match(err, /finding NOT confirmed by SCC/);
    const text = await run(['triage', FIXTURE, '--offline']);
    assert.match(text.out, /NOT CONFIRMED by SCC/);
  });

  test('with SCC access, a finding SCC does not know is refused: nothing done, no Kubernetes call', async () => {
    const { file } = findingFile('cliunknown1');
    const before = world.kube.requests.length;
    const { code, err } = await run(['triage', file, '--format', 'json', '--evidence', 'none', '--kube-context', 'fake'], { KUBECONFIG: kubeconfig, ...sccEnv() });
    assert.equal(code, EXIT_OK, err);
    assert.match(err, /finding not confirmed by SCC: SCC has no finding named .*cliunknown1.*nothing was done/s);
    assert.equal(world.kube.requests.length, before);
  });

  test('with SCC access, a known finding is confirmed; an old eventTime only warns in the CLI', async () => {
    const old = new Date(Date.now() - 30 * 24 * 3_600_000).toISOString();
    const { file, notification } = findingFile('cliknown1', old);
    scc.addFinding(notification);
    const { code, out, err } = await run(['triage', file, '--format', 'json', '--evidence', 'none', '--kube-context', 'fake'], { KUBECONFIG: kubeconfig, ...sccEnv() });
    assert.equal(code, EXIT_OK, err);
    const report = JSON.parse(out) as TriageReport;
    assert.equal(report.confirmation?.confirmed, true);
    assert.match(report.confirmation?.notes.join('\n') ?? '', /older than the policy's window/);
    assert.equal(report.steps.find((s) => s.name === 'locate')?.status, 'ok');
  });
});

describe('scc-responder policy check', () => {
  test('shows the matched rule, the actions and each guard verdict per finding file', async () => {
    const r = await run(['policy', 'check', 'policies/enforce-delete-for-deployments.yaml', FIXTURE, 'test/fixtures/added-binary-executed.v1.json']);
    assert.equal(r.code, EXIT_OK, r.err);
    assert.match(r.out, /valid \(2 rules\)/);
    assert.match(r.out, /MATCH\s+delete-prod-deployments/);
    assert.match(r.out, /action \d: deletePod/);
    assert.match(r.out, /require-controller\s+unknown \(needs cluster\)/);
    assert.match(r.out, /not covered by the policy/);
  });

  test('an invalid policy exits 2 with line and column', async () => {
    const bad = path.join(dir, 'bad-policy.yaml');
    writeFileSync(bad, 'version: 1\nrules:\n  - match:\n      categories: ["x"]\n    mode: sometimes\n');
    const r = await run(['policy', 'check', bad]);
    assert.equal(r.code, EXIT_BAD_INPUT);
    assert.match(r.err, /bad-policy\.yaml:5:\d+ rules\[0\]\.mode/);
  });
});

test('the entry file runs as a program (what `npm run triage` and the bin do)', () => {
  const r = spawnSync(process.execPath, ['functions/cli/main.ts', 'triage', FIXTURE, '--offline', '--format', 'json'], { encoding: 'utf8', env: process.env, timeout: 180_000 });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as TriageReport;
  assert.equal(report.incident.binary?.path, '/usr/bin/curl');
  assert.ok(!readFileSync(FIXTURE, 'utf8').includes('"[REDACTED]"') && !r.stdout.includes(PLANTED_SECRET));
});
