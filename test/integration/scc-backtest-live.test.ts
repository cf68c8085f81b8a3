// policy backtest --live: the SCC ListFindings fake (real @google-cloud/security-center over
// gRPC) and the fake Kubernetes API server (real @kubernetes/client-node over HTTPS). Findings
// in three clusters: one reachable through the kubeconfig context that names it
// (gke_PROJECT_LOCATION_CLUSTER), one whose context points at a closed port, one with no
// context at all (the current context, which names no cluster, is never used for it). In the
// reachable cluster: pods present (a Deployment's), one gone, one replaced with other labels
// (live pod scope and identity refuse), one in a protected namespace (withheld: not even
// read), one controlled by a ConfigMap (require-controller refuses), one whose read is
// forbidden (403: not judged). The fake must see GET requests only; the negative control shows
// the same check catches a write sent through the adapter, and that the view handed to
// --live has no write method at run time (and, by @ts-expect-error, none at compile time).
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeScc, type FakeScc } from '../support/fake-scc.js';
import { startFakeKube, type FakeKube } from '../support/fake-kube.js';
import { startFakeGke } from '../support/fake-gke.js';
import type { SeededFinding } from '../support/scc-list-findings.js';
import { ORG, MMB } from '../support/generated-findings.js';
import { main, type CliIO } from '../../functions/cli/main.js';
import { liveClusters } from '../../functions/cli/backtest-clusters.js';
import { loadConfig } from '../../shared/config.js';
import { workloadsFromKubeConfig } from '../../shared/kube/client-node-workloads.js';
import { KubeConfig } from '@kubernetes/client-node';
import type { Workloads } from '../../shared/ports.js';

const POLICY = `version: 1
protectedNamespaces: ["kube-system"]
rules:
  - name: contain-checkout
    match:
      categories: ["${MMB}"]
      podLabels: { app: checkout }
    mode: enforce
    requireEvidence: false
    actions:
      - type: labelPod
      - type: cordonNode
      - type: deletePod
    maxActionsPerHour: 20
    maxActionsPerHourPerWorkload: 1
`;

const NODE = 'gke-payments-default-pool-1a2b3c4d-x7k9';
const EVENT = '2026-11-20T04:10:00.000Z';
const CREATED = '2026-11-01T00:00:00Z';
const PAYMENTS = 'acme-payments-prod';

let scc: FakeScc;
let fake: FakeKube;
let dir: string;
let kubeconfig: string;
let policyFile: string;

const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'modified-malicious-binary.v1.json'), 'utf8')) as SeededFinding;

/** A v1 finding about pod ns/pod in project's cluster `payments` (the fixture, renamed). */
function finding(id: string, project: string, ns: string, pod: string): SeededFinding {
  const f = structuredClone(fixture);
  const resourceName = `//container.googleapis.com/projects/${project}/locations/us-central1/clusters/payments`;
  Object.assign(f.finding, { name: `organizations/${ORG}/sources/7153827493721873246/findings/${id}`, category: MMB, state: 'ACTIVE', severity: 'HIGH', eventTime: EVENT, resourceName });
  f.finding['canonicalName'] = f.finding.name;
  f.finding['securityMarks'] = { name: `${f.finding.name}/securityMarks` };
  const p0 = (f.finding['kubernetes'] as { pods: { ns: string; name: string }[] }).pods[0];
  if (p0) Object.assign(p0, { ns, name: pod });
  Object.assign(f.finding['sourceProperties'] as Record<string, unknown>, { Pod_Name: pod, Pod_Namespace: ns });
  f.resource = { ...(f.resource ?? {}), name: resourceName, projectDisplayName: project };
  return f;
}

function addDeployment(): void {
  fake.addObject('Deployment', { namespace: 'payments', name: 'checkout', uid: 'dep-uid', replicas: 2 });
  fake.addObject('ReplicaSet', { namespace: 'payments', name: 'checkout-7d9f8b6c5d', uid: 'rs-uid', replicas: 2, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'checkout', uid: 'dep-uid', controller: true }] });
  for (const name of ['checkout-7d9f8b6c5d-aaaaa', 'checkout-7d9f8b6c5d-bbbbb']) {
    fake.addPod({
      namespace: 'payments', name, nodeName: NODE, creationTimestamp: CREATED,
      labels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-7d9f8b6c5d', uid: 'rs-uid', controller: true }],
      containers: [{ name: 'checkout' }],
    });
  }
}

function addOddPods(): void {
  // Replaced after the event, and relabelled: the live pod scope and the pod's identity refuse.
  fake.addPod({ namespace: 'payments', name: 'checkout-relabelled', nodeName: NODE, creationTimestamp: '2026-11-25T00:00:00Z', labels: { app: 'other' }, containers: [{ name: 'checkout' }] });
  // "Controlled" by a ConfigMap: nothing would replace it.
  fake.addPod({ namespace: 'payments', name: 'checkout-configmap', nodeName: NODE, creationTimestamp: CREATED, labels: { app: 'checkout' }, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'cfg', uid: 'cm-uid', controller: true }], containers: [{ name: 'checkout' }] });
  fake.addPod({ namespace: 'payments', name: 'checkout-forbidden', nodeName: NODE, creationTimestamp: CREATED, labels: { app: 'checkout' }, containers: [{ name: 'checkout' }] });
  fake.addPod({ namespace: 'kube-system', name: 'checkout-system', nodeName: NODE, creationTimestamp: CREATED, labels: { app: 'checkout' }, containers: [{ name: 'checkout' }] });
  fake.addNode({ name: NODE });
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function writeKubeconfig(): Promise<string> {
  const file = join(dir, 'kubeconfig');
  const ca = `certificate-authority-data: ${fake.caData}`;
  writeFileSync(file, [
    'apiVersion: v1', 'kind: Config',
    'clusters:',
    `- name: payments\n  cluster:\n    server: ${fake.url}\n    ${ca}`,
    `- name: shop\n  cluster:\n    server: https://127.0.0.1:${await closedPort()}\n    ${ca}`,
    'users:', `- name: u\n  user:\n    token: ${fake.token}`,
    'contexts:',
    `- name: gke_${PAYMENTS}_us-central1_payments\n  context:\n    cluster: payments\n    user: u`,
    '- name: gke_acme-shop-prod_us-central1_payments\n  context:\n    cluster: shop\n    user: u',
    // The current context reaches the fake but names no cluster: never used without --kube-context.
    '- name: laptop\n  context:\n    cluster: payments\n    user: u',
    'current-context: laptop', '',
  ].join('\n'));
  return file;
}

const FINDINGS = {
  present1: finding('live01', PAYMENTS, 'payments', 'checkout-7d9f8b6c5d-aaaaa'),
  present2: finding('live02', PAYMENTS, 'payments', 'checkout-7d9f8b6c5d-bbbbb'),
  gone: finding('live03', PAYMENTS, 'payments', 'checkout-7d9f8b6c5d-gone0'),
  relabelled: finding('live04', PAYMENTS, 'payments', 'checkout-relabelled'),
  configmap: finding('live05', PAYMENTS, 'payments', 'checkout-configmap'),
  forbidden: finding('live06', PAYMENTS, 'payments', 'checkout-forbidden'),
  system: finding('live07', PAYMENTS, 'kube-system', 'checkout-system'),
  unreachable: finding('live08', 'acme-shop-prod', 'payments', 'shop-7d9f8b6c5d-aaaaa'),
  noContext: finding('live09', 'acme-dev', 'payments', 'dev-7d9f8b6c5d-aaaaa'),
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'backtest-live-'));
  policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, POLICY);
  scc = await startFakeScc();
  scc.listed.push(...Object.values(FINDINGS));
  fake = await startFakeKube();
  addDeployment();
  addOddPods();
  kubeconfig = await writeKubeconfig();
});

beforeEach(() => {
  // Each test judges the fake's request log from its own start.
  fake.requests.length = 0;
  fake.faults.calls.length = 0;
  fake.writes.length = 0;
  fake.faults.clear();
  fake.faults.inject({ match: 'GET /api/v1/namespaces/payments/pods/checkout-forbidden', status: 403, times: Infinity });
});

after(async () => {
  await scc.close();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { SCC_RESPONDER_ENDPOINT_SCC: `127.0.0.1:${scc.port}`, METADATA_SERVER_DETECTION: 'none', KUBECONFIG: kubeconfig, HOME: dir, ...extra };
}

async function run(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), env: env(extra) };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

/** Every request the fake Kubernetes API received that is not a read (GET: get, list, watch). */
function nonReads(k: FakeKube): string[] {
  const fromRequests = k.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`);
  const fromFaultPlan = k.faults.calls.filter((c) => !c.key.startsWith('GET ')).map((c) => c.key);
  return [...fromRequests, ...fromFaultPlan, ...k.writes.map((w) => `${w.method} ${w.path}`)];
}

type Row = { kind: string; finding: string; live?: { judged: boolean; reason?: string }; workload?: { key: string; source: string }; plan: { actions: { action: string; guards: { name: string; verdict: string; live?: boolean; effect?: string; reason: string }[] }[] } };

const ARGS = ['policy', 'backtest', '--organization', ORG, '--api', 'v1', '--since', '2026-11-01T00:00:00Z', '--live'];

function rowsOf(stdout: string): { rows: Map<string, Row>; summary: Record<string, unknown> } {
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Row & Record<string, unknown>);
  const rows = new Map(lines.filter((l) => l.kind === 'finding').map((l) => [l.finding.split('/').at(-1) ?? '', l]));
  return { rows, summary: lines.at(-1) as Record<string, unknown> };
}

const guard = (row: Row | undefined, action: string, name: string) => row?.plan.actions.find((a) => a.action === action)?.guards.find((g) => g.name === name);

test('--live judges the live-pod guards read-only: present, gone, replaced, protected, not a controller, forbidden, unreachable, no context', async () => {
  fake.faults.latencyMs = 30; // pod reads overlap: the bound must hold
  try {
    const r = await run([...ARGS.slice(0, 2), policyFile, ...ARGS.slice(2), '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const { rows, summary } = rowsOf(r.stdout);
    // Present: every live guard passes on the pod as read; the workload is the owner chain's top.
    const p1 = rows.get('live01');
    assert.deepEqual(p1?.live, { judged: true });
    for (const [action, name] of [['labelPod', 'pod-identity'], ['deletePod', 'require-controller'], ['deletePod', 'live-pod-scope'], ['cordonNode', 'node-identity'], ['cordonNode', 'node-not-cordoned'], ['deletePod', 'protected-namespace']] as const) {
      const g = guard(p1, action, name);
      assert.equal(g?.verdict, 'pass', `${action} ${name}: ${JSON.stringify(g)}`);
      assert.equal(g?.live, true);
    }
    assert.match(guard(p1, 'deletePod', 'require-controller')?.reason ?? '', /ReplicaSet\/checkout-7d9f8b6c5d \(chain ReplicaSet\/checkout-7d9f8b6c5d -> Deployment\/checkout\)/);
    assert.deepEqual(p1?.workload, { key: 'payments/Deployment/checkout', source: 'live owner chain' });
    // Gone: nothing to do (skip), not a refusal.
    assert.deepEqual({ verdict: guard(rows.get('live03'), 'deletePod', 'pod-identity')?.verdict, effect: guard(rows.get('live03'), 'deletePod', 'pod-identity')?.effect }, { verdict: 'fail', effect: 'skip' });
    // Replaced after the event and relabelled.
    assert.equal(guard(rows.get('live04'), 'deletePod', 'live-pod-scope')?.verdict, 'fail');
    assert.match(guard(rows.get('live04'), 'deletePod', 'live-pod-scope')?.reason ?? '', /label app \("other"\) does not match/);
    assert.match(guard(rows.get('live04'), 'deletePod', 'pod-identity')?.reason ?? '', /after the finding's event/);
    // A ConfigMap is not a controller that replaces pods.
    assert.equal(guard(rows.get('live05'), 'deletePod', 'require-controller')?.verdict, 'fail');
    assert.match(guard(rows.get('live05'), 'deletePod', 'require-controller')?.reason ?? '', /ConfigMap\/cfg is not a kind that replaces pods/);
    // Protected namespace: withheld by decide(), nothing to judge, never read.
    assert.equal(rows.get('live07')?.live, undefined);
    assert.ok(!fake.requests.some((q) => q.path.includes('/namespaces/kube-system/')), 'the protected namespace was not read');
    // Per-cluster failures: reported per finding, the run goes on.
    assert.match(rows.get('live06')?.live?.reason ?? '', /could not read pod payments\/checkout-forbidden: .*403/);
    assert.match(rows.get('live08')?.live?.reason ?? '', /could not read pod payments\/shop-7d9f8b6c5d-aaaaa: .*(ECONNREFUSED|connect)/i);
    assert.match(rows.get('live09')?.live?.reason ?? '', /no kube context for cluster acme-dev\/us-central1\/payments .*gke_acme-dev_us-central1_payments/);
    // Not judged = the guards stay unknown, as without --live.
    assert.equal(guard(rows.get('live09'), 'deletePod', 'pod-identity')?.verdict, 'unknown');
    // Summary: live refusals and skips named (live), not-judged reasons counted.
    // The gone pod: labelPod and deletePod skip by pod-identity, cordonNode (no pod-identity guard) by the live pod scope.
    assert.deepEqual(summary['skipped'], { 'pod-identity (live)': 2, 'live-pod-scope (live)': 1 });
    const refusals = summary['refusals'] as Record<string, number>;
    assert.equal(refusals['require-controller (live)'], 2); // the ConfigMap's, and the relabelled bare pod's
    assert.equal(refusals['live-pod-scope (live)'], 3);
    assert.equal(refusals['protected-namespace'], 3);
    // One line per cluster and cause, not per pod.
    assert.deepEqual(Object.keys(summary['notJudged'] as Record<string, number>).sort(), [
      'cluster acme-payments-prod/us-central1/payments: pod reads failed (HTTP 403)',
      'cluster acme-shop-prod/us-central1/payments: pod reads failed (ECONNREFUSED)',
      `no kube context for cluster acme-dev/us-central1/payments in ${kubeconfig} (a context named gke_acme-dev_us-central1_payments, or --kube-context)`,
    ]);
    // The workload budget: both present pods are Deployment checkout's; 2 destructive actions each, 1 slot an hour.
    const limits = summary['limits'] as { scope: string; demanded: number; degraded: number }[];
    assert.deepEqual(limits.find((l) => l.scope === 'workload payments/Deployment/checkout in acme-payments-prod/us-central1/payments'), { rule: 'contain-checkout', scope: 'workload payments/Deployment/checkout in acme-payments-prod/us-central1/payments', limit: 1, windows: 1, demanded: 4, degraded: 3 });
    assert.match(r.stderr, /--live: 5 judged on the live pod, 3 not judged/);
    // Read-only, and bounded: GETs only; at most 4 pod reads in flight.
    assert.deepEqual(nonReads(fake), []);
    assert.ok(fake.requests.some((q) => q.path === '/api/v1/namespaces/payments/pods/checkout-7d9f8b6c5d-aaaaa'));
    assert.ok(fake.requests.some((q) => q.path === '/apis/apps/v1/namespaces/payments/deployments/checkout'));
    assert.ok(fake.requests.some((q) => q.path === `/api/v1/nodes/${NODE}`));
    assert.ok(fake.faults.maxOverlap((c) => /^GET \/api\/v1\/namespaces\/[^/]+\/pods\/[^/]+$/.test(c.key)) <= 4);
  } finally {
    fake.faults.clear();
  }
});

test('--live in text, markdown and csv: live verdicts and not-judged reasons in every format', async () => {
  const base = [...ARGS.slice(0, 2), policyFile, ...ARGS.slice(2)];
  const text = await run([...base, '--format', 'text']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /pod-identity +fail \(skip\) \(live\) +the pod no longer exists/);
  assert.match(text.stdout, /live: not judged: no kube context for cluster acme-dev/);
  assert.match(text.stdout, /Refused, judged from the finding and, marked \(live\), on the live pod\n(.*\n)*? +require-controller \(live\) +2\n/);
  assert.match(text.stdout, /Nothing to do on the live cluster \(skipped\)\n(.*\n)*? +pod-identity \(live\) +2\n/);
  assert.match(text.stdout, /Not judged on the live cluster\n/);
  const md = await run([...base, '--format', 'markdown']);
  assert.match(md.stdout, /\| needs the live pod \| live \| live verdicts \|\n/);
  assert.match(md.stdout, /\| require-controller \(live\) .*\| judged \| [^|]*require-controller=fail[^|]* \|\n/);
  const csv = await run([...base, '--format', 'csv']);
  const rows = csv.stdout.trim().split('\n');
  assert.match(rows.find((l) => l.includes('/findings/live01,')) ?? '', /,judged,protected-namespace=pass live-pod-scope=pass pod-identity=pass not-yet-labelled=pass node-identity=pass node-not-cordoned=pass pod-not-terminating=pass require-controller=pass,payments\/Deployment\/checkout \(live owner chain\)$/);
  assert.match(rows.find((l) => l.includes('/findings/live08,')) ?? '', /,not judged: could not read pod/);
  assert.match(rows.find((l) => l.includes('/findings/live03,')) ?? '', / pod-identity=skip /);
  assert.match(csv.stderr, /Not judged on the live cluster/);
  assert.deepEqual(nonReads(fake), []);
});

test('--kube-context: the named context serves the clusters it does not name as another; without --live it is a usage error', async () => {
  const usage = await run(['policy', 'backtest', policyFile, '--organization', ORG, '--kube-context', 'laptop']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--kube-context needs --live/);
  const r = await run([...ARGS.slice(0, 2), policyFile, ...ARGS.slice(2), '--format', 'json', '--kube-context', 'laptop']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /kube context "laptop" does not say which cluster it is: every finding's pod is looked up there/);
  const { rows } = rowsOf(r.stdout);
  // The acme-dev finding is now judged through "laptop" (the fake), like triage --kube-context laptop.
  assert.deepEqual(rows.get('live09')?.live, { judged: true });
  assert.deepEqual(nonReads(fake), []);
});

test('no kubeconfig, or cluster access off: every finding is reported not judged, the backtest completes', async () => {
  const none = await run([...ARGS.slice(0, 2), policyFile, ...ARGS.slice(2), '--format', 'json'], { SCC_RESPONDER_CLUSTER_ACCESS: 'none' });
  assert.equal(none.code, 0, none.stderr);
  assert.match(rowsOf(none.stdout).rows.get('live01')?.live?.reason ?? '', /cluster access is off/);
  const missing = await run([...ARGS.slice(0, 2), policyFile, ...ARGS.slice(2), '--format', 'json'], { KUBECONFIG: join(dir, 'absent') });
  assert.equal(missing.code, 0, missing.stderr);
  assert.match(rowsOf(missing.stdout).rows.get('live01')?.live?.reason ?? '', /no kubeconfig found/);
});

test('SCC_RESPONDER_CLUSTER_ACCESS=gke: clusters found through the GKE API (as the function does); one GKE does not know is not judged', async () => {
  const gke = await startFakeGke([{ project: PAYMENTS, location: 'us-central1', name: 'payments', endpoint: new URL(fake.url).host, caCertificate: fake.caData }]);
  try {
    const r = await run([...ARGS.slice(0, 2), policyFile, ...ARGS.slice(2), '--format', 'json'], { SCC_RESPONDER_CLUSTER_ACCESS: 'gke', SCC_RESPONDER_ENDPOINT_GKE: `127.0.0.1:${gke.port}`, SCC_RESPONDER_KUBE_TOKEN: fake.token });
    assert.equal(r.code, 0, r.stderr);
    const { rows } = rowsOf(r.stdout);
    assert.deepEqual(rows.get('live01')?.live, { judged: true });
    assert.equal(guard(rows.get('live01'), 'deletePod', 'require-controller')?.verdict, 'pass');
    assert.match(rows.get('live09')?.live?.reason ?? '', /acme-dev\/us-central1\/payments/);
    assert.deepEqual(nonReads(fake), []);
  } finally {
    await gke.close();
  }
});

test('negative control: the read-only check catches a write; the view --live gets has no write method', async () => {
  const clusters = await liveClusters(loadConfig(env(), 'cli', 'test'), env());
  const reads = await clusters.reads({ project: PAYMENTS, location: 'us-central1', locationKind: 'region', name: 'payments', resourceName: `//container.googleapis.com/projects/${PAYMENTS}/locations/us-central1/clusters/payments` });
  assert.notEqual(typeof reads, 'string', String(reads));
  if (typeof reads === 'string') return;
  // @ts-expect-error WorkloadReads has no write method: this line does not compile without the cast below.
  void reads.patchPodMetadata;
  const asFull = reads as unknown as Partial<Workloads>;
  assert.equal(asFull.deletePod, undefined);
  assert.equal(asFull.patchPodMetadata, undefined);
  assert.equal(asFull.cordonNode, undefined);
  await reads.readPod('payments', 'checkout-7d9f8b6c5d-aaaaa');
  assert.deepEqual(nonReads(fake), [], 'reads alone pass the check');
  // A write through the full adapter (what --live never holds) is caught by the same check.
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfigYaml());
  const pod = fake.pod('payments', 'checkout-7d9f8b6c5d-bbbbb');
  await workloadsFromKubeConfig(kc).patchPodMetadata('payments', 'checkout-7d9f8b6c5d-bbbbb', { uid: pod?.uid ?? '', labels: { control: 'x' } });
  const caught = nonReads(fake);
  assert.ok(caught.some((w) => w.startsWith('PATCH /api/v1/namespaces/payments/pods/checkout-7d9f8b6c5d-bbbbb')), caught.join('\n'));
});
