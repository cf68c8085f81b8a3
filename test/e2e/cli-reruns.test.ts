// The first hour of a new user, re-runs: triage a finding without a kubeconfig, add one and
// triage again; switch from the dry-run policy to an enforcing one; look at the stored report;
// force a re-run. In-process through main() (the bin's code path) against the fake Kubernetes
// API through a kubeconfig file, each test with its own world and evidence directory.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { EXIT_FAILURE, EXIT_OK, main } from '../../functions/cli/main.js';
import type { TriageReport } from '../../shared/respond/report.js';
import { DEPLOY_POD, NS, startWorld, type World } from '../support/fake-kube-world.js';
import { gcloudNamedKubeconfig } from '../support/cli-world.js';

const FIXTURE = 'test/fixtures/modified-malicious-binary.v1.json';
const ENFORCE = 'policies/enforce-delete-for-deployments.yaml';
let world: World;
let home: string;
let evidence: string;

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s), env: { HOME: home, ...env } });
  return { code, out, err };
}

const triage = (...extra: string[]) => run(['triage', FIXTURE, '--evidence', evidence, ...extra]);
const json = (out: string): TriageReport => JSON.parse(out) as TriageReport;
const deletes = (): number => world.kube.writes.filter((w) => w.method === 'DELETE' && w.path.includes(`/pods/${DEPLOY_POD}`)).length;
const reportFiles = (): string[] => readdirSync(evidence, { recursive: true }).map(String).filter((f) => /report(-\d+)?\.json$/.test(f)).map((f) => path.basename(f)).sort();

/** The user's kubeconfig appears where kubectl looks for it. */
function addKubeconfig(): void {
  mkdirSync(path.join(home, '.kube'), { recursive: true });
  // Named as `gcloud container clusters get-credentials` names it, so the CLI can tell that it
  // is the finding's cluster (a context that does not say which cluster it is is not used).
  writeFileSync(path.join(home, '.kube', 'config'), gcloudNamedKubeconfig(world));
}

beforeEach(async () => {
  world = await startWorld();
  const pod = world.kube.pod(NS, DEPLOY_POD);
  assert.ok(pod);
  for (const c of pod.containers) c.files = { '/usr/bin/curl': { content: Buffer.from('test') } };
  // Running since before the finding's event (the guards refuse to act on a replacement).
  pod.creationTimestamp = '2026-11-27T08:00:00.000Z';
  home = mkdtempSync(path.join(os.tmpdir(), 'scc-cli-reruns-'));
  evidence = path.join(home, 'evidence');
});
afterEach(async () => {
  await world.close();
  rmSync(home, { recursive: true, force: true });
});

describe('a run that took no effect does not block the next one', () => {
  test('re-run after a kubeconfig appears: the second run reads the cluster, and says where its report is', async () => {
    const first = await triage('--format', 'json');
    assert.equal(first.code, EXIT_OK, first.err);
    assert.match(json(first.out).steps.find((s) => s.name === 'locate')?.reason ?? '', /no kubeconfig found/);
    assert.match(first.err, /Report stored at .*report-0\.md/);
    assert.equal(world.kube.requests.length, 0);

    addKubeconfig();
    const second = await triage('--format', 'json');
    assert.equal(second.code, EXIT_OK, second.err);
    assert.doesNotMatch(second.err, /stored report|earlier run/);
    const report = json(second.out);
    assert.equal(report.enrichment?.pod?.name, DEPLOY_POD, 'the cluster was read this time');
    assert.equal(report.evidence?.outcome, 'stored');
    assert.ok(world.kube.requests.length > 0);
    assert.deepEqual(reportFiles(), ['report-0.json', 'report-1.json'], 'each run keeps its report; none completes the finding');

    // The text report ends with where it was stored.
    const third = await triage();
    assert.match(third.out, /\nReport stored at .*report-2\.md\n$/);
    assert.equal(json((await triage('--format', 'json')).out).evidence?.outcome, 'exists', 'a re-run stores no evidence twice');
  });

  test('re-run after a policy change: the enforcing run acts once; later runs show its report, --rerun repeats nothing', async () => {
    addKubeconfig();
    const dry = await triage('--format', 'json');
    const decision = json(dry.out).decision;
    assert.equal(decision.matched ? decision.mode : 'no match', 'dry-run');
    assert.equal(deletes(), 0);

    const enforce = await triage('--policy', ENFORCE);
    assert.equal(enforce.code, EXIT_OK, enforce.err);
    assert.match(enforce.out, /Decision\s+rule delete-prod-deployments \(enforce\)/);
    assert.match(enforce.out, /Action deletePod\s+done \(enforce\)/);
    assert.equal(deletes(), 1);
    assert.ok(reportFiles().includes('report.json'), 'a run with effects completes the finding');

    // Later runs, whatever the policy: the completed run's report, no call to the cluster.
    const calls = world.kube.requests.length;
    const again = await triage('--format', 'json');
    assert.equal(again.code, EXIT_OK);
    assert.match(again.err, /earlier run of this finding took effects.*--rerun/);
    assert.match(again.err, /Stored report: .*report\.json/);
    assert.equal(json(again.out).actions.find((a) => a.type === 'deletePod')?.status, 'done');
    assert.equal(world.kube.requests.length, calls, 'no call to the cluster');

    // Forced: everything is read again, the delete is not sent again.
    const forced = await triage('--rerun', '--policy', ENFORCE, '--format', 'json');
    assert.equal(forced.code, EXIT_OK, forced.err);
    assert.ok(world.kube.requests.length > calls, 'the re-run read the cluster');
    assert.equal(deletes(), 1, 'the pod is not deleted twice');
    assert.ok((json(forced.out).priorEffects ?? []).some((e) => e.actions.some((a) => a.type === 'deletePod')), 'the earlier delete is reported');
    assert.match(forced.err, /Report stored at .*report-\d+\.md/);
  });
});

describe('--show-stored', () => {
  test('nothing stored: exit 1 naming the store; after a run: the newest report and its path, no call made', async () => {
    const none = await triage('--show-stored');
    assert.equal(none.code, EXIT_FAILURE);
    assert.match(none.err, new RegExp(`no stored report for organizations/.*under ${evidence.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal(none.out, '');
    assert.equal(existsSync(evidence), false, 'showing creates nothing');

    addKubeconfig();
    const ran = json((await triage('--format', 'json')).out);
    const calls = world.kube.requests.length;
    const shown = await triage('--show-stored', '--format', 'json');
    assert.equal(shown.code, EXIT_OK, shown.err);
    assert.equal(json(shown.out).runId, ran.runId);
    assert.match(shown.err, /Stored report: .*report-0\.json/);
    assert.equal(world.kube.requests.length, calls);
    const text = await triage('--show-stored');
    assert.match(text.out, /\nStored report: .*report-0\.json\n$/);
  });

  test('--show-stored with --rerun or --offline is a usage error', async () => {
    assert.match((await triage('--show-stored', '--rerun')).err, /--show-stored and --rerun exclude each other/);
    assert.match((await triage('--show-stored', '--offline')).err, /--offline turns off/);
  });
});

describe('--dry-run shows in the summary', () => {
  test('an enforcing policy under --dry-run: Decision and Outcome say dry-run, a note says why, nothing written', async () => {
    addKubeconfig();
    const r = await triage('--policy', ENFORCE, '--dry-run');
    assert.equal(r.code, EXIT_OK, r.err);
    assert.match(r.out, /Decision\s+rule delete-prod-deployments \(dry-run\)/);
    assert.match(r.out, /Note\s+--dry-run: the policy's mode enforce is run as dry-run/);
    assert.match(r.out, /Outcome\s+handled: rule delete-prod-deployments \(dry-run\)/);
    assert.doesNotMatch(r.out, /\(enforce\)/);
    assert.equal(world.kube.writes.length, 0);
    // Negative control: without --dry-run the same lines say enforce.
    const enforced = await triage('--policy', ENFORCE);
    assert.match(enforced.out, /Outcome\s+handled: rule delete-prod-deployments \(enforce\)/);
  });
});
