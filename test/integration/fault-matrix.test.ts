// The fault matrix: the whole function (Functions Framework test server, real composition
// root, real client libraries) once per (dependency x fault) pair, every outside system a
// local fake (test/support/stack.ts). Seven dependencies x six faults = 42 runs, each with a
// fresh finding and an enforce policy that labels, annotates and deletes Deployment pods.
//
// Each fault is injected for EVERY matching call of the run (`times: Infinity`): the
// dependency is down for the whole delivery, so client-library retries cannot hide it (a
// single failed call that a library retry absorbs is not a failure of the response).
//
// Each run asserts:
//   (a) no unhandled rejection / uncaught exception (listeners installed for the file);
//   (b) retry classification: 500 (Pub/Sub redelivers) exactly when the fault is transient
//       (429, 500, hang past the timeout, dropped connection) on a dependency whose failure
//       matters; 204 (acked, ERROR entry) for permanent faults (403, 404) and for every fault
//       of best-effort enrichment (Logging). 404s with a meaning are checked for it;
//   (c) no destructive action without stored evidence: no evidence object for the finding
//       means no DELETE of its pod; a DELETE carries the pod's UID and comes after the object;
//   (d) a complete audit summary: the finding's last entry has `last: true`, a verdict label,
//       and every step named in its durations was written as a step entry.
// and that the injected fault was actually hit (a fault that never fires proves nothing).
//
// Expected table (dependency: which call is faulted; 403 404 429 500 hang drop):
//   GKE         GetCluster (cold instance)   204 204 500 500 500 500   locate fails; nothing acts
//   Kubernetes  GET the finding's pod         204 204 500 500 500 500   enrich.pod fails (the one
//               enrichment step that matters: containment needs the pod); no pod view, no delete
//   exec        EXEC pod/container            204 204 500 500 500 500   snapshot fails: no evidence, no delete
//   Logging     ListLogEntries                204 204 204 204 204 204   best effort: logs steps fail, pod deleted
//   Storage     PUT of the evidence upload    204 204 500 500 500 500   snapshot fails: no evidence, no delete
//   SCC         UpdateSecurityMarks           204 204 500 500 500 500   record.marks fails after the delete
//   Pub/Sub     Publish                       204 204 500 500 500 500   record.publish fails after the delete
// Deadlines come from the run's policy. Only a hang needs a short one, and only the deadline
// that bounds the hung call: enrich.callTimeoutSeconds 1 (which also bounds locate and, as
// max(5 s, 2 x call timeout), the record steps) for GKE, Kubernetes, Logging, SCC and Pub/Sub;
// snapshot.timeoutSeconds 3 for exec and Storage. Every other run has generous deadlines
// (call 10 s, record 20 s, snapshot 60 s), so a busy machine slows it down instead of failing it.
// Each test is standalone: it resets the pod, clears the faults and configures its own instance.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { configureResponder, FUNCTION_NAME } from '../../functions/scc-responder/index.js';
import { captureAudit, LABELS, OPERATION } from '../support/audit-capture.js';
import { fixture, postStructured, structuredEvent, listenOnLoopback } from '../support/cloudevents.js';
import { sha256OfGenerated } from '../support/fake-kube.js';
import { CLUSTER, DEPLOY_POD, LOCATION, NODE, NS, PROJECT } from '../support/fake-kube-world.js';
import type { Fault, FaultPlan } from '../support/faults.js';
import { BUCKET, startStack, type Stack } from '../support/stack.js';

// The modified binary: generated (never held in memory by the fake), larger than the evidence
// store's 4 MiB single-request limit so it goes up as a resumable upload (chunks are PUTs,
// which nothing else in a run sends: the Storage fault hits the evidence upload and nothing
// else), and large enough for the exec stream to be dropped mid-way.
const BINARY_SIZE = 5 * 1024 * 1024;
const BINARY_SEED = 4242;
const BINARY_SHA256 = sha256OfGenerated(BINARY_SIZE, BINARY_SEED);
const POD_PATH = `/api/v1/namespaces/${NS}/pods/${DEPLOY_POD}`;

interface Deadlines {
  callTimeoutSeconds: number;
  snapshotTimeoutSeconds: number;
}
const GENEROUS: Deadlines = { callTimeoutSeconds: 10, snapshotTimeoutSeconds: 60 };

// requireEvidence: stored and no trusted collector: this matrix checks the strict gate over the
// container's own tools (test/integration/trusted-collector.test.ts covers 'attempted').
const policyYaml = (d: Deadlines): string => `version: 1
requireEvidence: stored
snapshot:
  maxBytes: 67108864
  timeoutSeconds: ${d.snapshotTimeoutSeconds}
  debugContainer:
    enabled: false
enrich:
  logWindowMinutes: 30
  maxLogEntries: 50
  maxLogBytes: 262144
  callTimeoutSeconds: ${d.callTimeoutSeconds}
rules:
  - name: fault-matrix-delete
    match:
      categories: ["Execution: Modified Malicious Binary Executed"]
      namespaces: ["${NS}"]
    mode: enforce
    actions:
      - type: labelPod
      - type: annotatePod
      - type: deletePod
        gracePeriodSeconds: 0
        requireController: true
    maxActionsPerHour: 10000
`;

type FaultName = '403' | '404' | '429' | '500' | 'hang' | 'drop';
const FAULT_NAMES: FaultName[] = ['403', '404', '429', '500', 'hang', 'drop'];
const TRANSIENT: Record<FaultName, boolean> = { '403': false, '404': false, '429': true, '500': true, hang: true, drop: true };
const FAULTS: Record<FaultName, Fault> = {
  '403': { status: 403 },
  '404': { status: 404 },
  '429': { status: 429, retryAfter: 1 },
  '500': { status: 500 },
  hang: { hang: true },
  drop: { drop: true },
};

interface Run {
  status: number;
  findingName: string;
  findingId: string;
  podUid: string;
  entries: Record<string, unknown>[];
  /** Step entries by name (the audit's `step` field). */
  steps: Map<string, { name: string; status: string; failure?: string; code?: unknown; reason?: string }>;
  summary: Record<string, unknown>;
  evidence: boolean;
  deletes: { at: number; body?: unknown }[];
  podWrites: number;
}

interface Dependency {
  name: string;
  plan: () => FaultPlan;
  match: string | RegExp;
  /** Build a fresh runtime first (GKE: the cluster description is cached per instance). */
  cold?: boolean;
  /** Overrides of the generic fault (exec: drop mid-stream after 1 MiB). */
  faults?: Partial<Record<FaultName, Fault>>;
  /** Does a transient fault of this dependency ask for redelivery? */
  mattersForRetry: boolean;
  /** The steps the fault must fail. */
  failedSteps: string[];
  /** Is the evidence stored (and so the pod deleted) despite the fault? */
  evidenceStored: boolean | ((f: FaultName) => boolean);
  /** Is the pod deleted? */
  deleted: boolean;
  /** Extra checks for a fault (the meaning of a 404). */
  meaning?: Partial<Record<FaultName, (r: Run) => void>>;
  /** The deadline that ends a hang of this dependency (the others stay generous). */
  hangBound: Partial<Deadlines>;
}

const CALL_BOUND: Partial<Deadlines> = { callTimeoutSeconds: 1 };
const SNAPSHOT_BOUND: Partial<Deadlines> = { snapshotTimeoutSeconds: 3 };

function storageRefusal(status: number): (r: Run) => void {
  return (r) => {
    const snapshot = r.steps.get('snapshot');
    assert.equal(snapshot?.code, status, JSON.stringify(snapshot));
    assert.match(snapshot.reason ?? '', new RegExp(`Cloud Storage upload of \\S+/${r.findingId}/binary failed: fake-gcs: injected ${status}`));
  };
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const DEPENDENCIES: Dependency[] = [
  {
    name: 'GKE (GetCluster)',
    plan: () => stack.world.gke.faults,
    match: 'GetCluster',
    cold: true,
    hangBound: CALL_BOUND,
    mattersForRetry: true,
    failedSteps: ['locate'],
    evidenceStored: false,
    deleted: false,
    meaning: {
      '404': (r) => {
        // The cluster is not found: no Kubernetes access, so nothing is read or touched.
        const locate = r.steps.get('locate');
        assert.equal(locate?.code, 'NOT_FOUND', JSON.stringify(locate));
        assert.match(locate?.reason ?? '', new RegExp(escape(`projects/${PROJECT}/locations/${LOCATION}/clusters/${CLUSTER}`)));
        assert.equal(r.steps.get('snapshot')?.status, 'skipped');
        assert.match(r.steps.get('snapshot')?.reason ?? '', /no Kubernetes access/);
        assert.equal(r.podWrites, 0, 'no write to the pod');
      },
    },
  },
  {
    name: 'Kubernetes REST (GET pod)',
    plan: () => stack.world.kube.faults,
    match: new RegExp(`^GET ${escape(POD_PATH)}$`),
    hangBound: CALL_BOUND,
    mattersForRetry: true,
    failedSteps: ['enrich.pod'],
    // The snapshot does not need the pod read (the manifest then lacks the pod's UID): the
    // copy is stored; a 404 though means the pod is gone and the snapshot stops there.
    evidenceStored: (f) => f !== '404',
    // Without the pod's UID the pod-identity guard refuses every action.
    deleted: false,
    meaning: {
      '404': (r) => {
        // The pod is gone: nothing to act on, nothing to copy, nothing written.
        assert.equal(r.steps.get('enrich.pod')?.code, 404);
        assert.match(r.steps.get('snapshot')?.reason ?? '', /no longer exists/);
        assert.equal(r.steps.get('snapshot')?.failure, 'permanent');
        for (const a of ['contain.labelPod', 'contain.annotatePod']) {
          assert.equal(r.steps.get(a)?.status, 'skipped', a);
          assert.match(r.steps.get(a)?.reason ?? '', /no longer exists \(404\)/, a);
        }
        assert.equal(r.podWrites, 0, 'no write to a pod that is gone');
      },
      '500': (r) => {
        // The refusal names the read's own error, not just "not read".
        for (const a of ['contain.labelPod', 'contain.annotatePod']) assert.match(r.steps.get(a)?.reason ?? '', /the pod was not read \(.*500.*\)/, a);
        assert.equal(r.podWrites, 0, 'no write without the pod read');
      },
    },
  },
  {
    name: 'exec stream',
    plan: () => stack.world.kube.faults,
    match: `EXEC ${NS}/${DEPLOY_POD}/checkout`,
    faults: { drop: { drop: true, dropAfterBytes: 1024 * 1024 } },
    hangBound: SNAPSHOT_BOUND,
    mattersForRetry: true,
    failedSteps: ['snapshot'],
    evidenceStored: false,
    deleted: false,
  },
  {
    name: 'Cloud Logging (ListLogEntries)',
    plan: () => stack.world.logging.faults,
    match: 'ListLogEntries',
    hangBound: CALL_BOUND,
    mattersForRetry: false,
    failedSteps: ['enrich.logs.pod', 'enrich.logs.audit', 'enrich.logs.node'],
    evidenceStored: true,
    deleted: true,
  },
  {
    name: 'Cloud Storage (evidence upload)',
    plan: () => stack.gcs.faults,
    match: `PUT /upload/storage/v1/b/${BUCKET}/o`,
    hangBound: SNAPSHOT_BOUND,
    mattersForRetry: true,
    failedSteps: ['snapshot'],
    evidenceStored: false,
    deleted: false,
    // The reason says what Cloud Storage answered (resumable uploads reject with the error body, not an Error).
    meaning: { '403': storageRefusal(403), '404': storageRefusal(404) },
  },
  {
    name: 'SCC (UpdateSecurityMarks)',
    plan: () => stack.scc.faults,
    match: 'UpdateSecurityMarks',
    hangBound: CALL_BOUND,
    mattersForRetry: true,
    failedSteps: ['record.marks'],
    evidenceStored: true,
    deleted: true,
    meaning: {
      '404': (r) => assert.equal(r.steps.get('record.marks')?.code, 'NOT_FOUND'),
    },
  },
  {
    name: 'Pub/Sub (Publish)',
    plan: () => stack.pubsub.faults,
    match: 'Publish',
    hangBound: CALL_BOUND,
    mattersForRetry: true,
    failedSteps: ['record.publish'],
    evidenceStored: true,
    deleted: true,
    meaning: {
      '404': (r) => assert.equal(r.steps.get('record.publish')?.code, 'NOT_FOUND'),
    },
  },
];

let stack: Stack;
let server: Server;
let url: string;
let dir: string;
const audit = captureAudit();
const allPlans = (): FaultPlan[] => [stack.world.gke.faults, stack.world.kube.faults, stack.world.logging.faults, stack.gcs.faults, stack.scc.faults, stack.pubsub.faults];

// (a) Anything that escapes: recorded for the whole file, checked after each run and at the end.
const escaped: string[] = [];
const onRejection = (reason: unknown): void => void escaped.push(`unhandledRejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
const onException = (err: Error): void => void escaped.push(`uncaughtException: ${err.stack ?? err.message}`);

/** The deadlines the current instance was configured with (none yet). */
let configured: Deadlines | undefined;

/**
 * An instance with the run's deadlines: a fresh one (no cached cluster) when the deadlines
 * change or the run needs a cold one, else the current one. No run depends on an earlier one:
 * a warm instance only skips the cluster lookup the previous run already made.
 */
function configure(d: Deadlines, cold: boolean): void {
  if (!cold && configured?.callTimeoutSeconds === d.callTimeoutSeconds && configured.snapshotTimeoutSeconds === d.snapshotTimeoutSeconds) return;
  const policyFile = join(dir, `policy-${d.callTimeoutSeconds}-${d.snapshotTimeoutSeconds}.yaml`);
  writeFileSync(policyFile, policyYaml(d));
  configureResponder({ env: stack.env({ SCC_RESPONDER_POLICY: policyFile }), auditDestination: audit.destination });
  configured = d;
}

/** A fresh copy of the v1 fixture: unique finding id, detected now, the generated binary's hash. */
function freshFinding(): { notification: Record<string, unknown>; findingName: string; findingId: string } {
  const n = structuredClone(fixture('modified-malicious-binary.v1.json')) as {
    finding: { name: string; canonicalName?: string; eventTime: string; processes: { binary: Record<string, string> }[] };
  };
  const findingId = `fm${Math.random().toString(16).slice(2, 14)}`;
  // Detected now, i.e. after the pod was created (the pod-identity guard refuses younger pods).
  n.finding.eventTime = new Date().toISOString();
  n.finding.name = n.finding.name.replace(/[^/]+$/, findingId);
  if (n.finding.canonicalName) n.finding.canonicalName = n.finding.canonicalName.replace(/[^/]+$/, findingId);
  const binary = n.finding.processes[0]?.binary;
  assert.ok(binary, 'fixture has processes[0].binary');
  Object.assign(binary, { size: String(BINARY_SIZE), hashedSize: String(BINARY_SIZE), sha256: BINARY_SHA256 });
  stack.known(n);
  return { notification: n as unknown as Record<string, unknown>, findingName: n.finding.name, findingId };
}

/** The checkout pod as the finding saw it (an earlier run may have deleted it), with the generated binary. */
function resetPod(): string {
  if (!stack.world.kube.pod(NS, DEPLOY_POD)) {
    stack.world.kube.addPod({
      namespace: NS, name: DEPLOY_POD, uid: `pod-checkout-${Math.random().toString(16).slice(2, 8)}`,
      creationTimestamp: new Date(Date.now() - 3_600_000).toISOString(), nodeName: NODE,
      labels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-7d9f8b6c5d', uid: 'rs-checkout', controller: true }],
      containers: [{ name: 'checkout', image: 'us-docker.pkg.dev/acme-payments-prod/apps/checkout:2.14.1' }],
    });
  }
  const pod = stack.world.kube.pod(NS, DEPLOY_POD);
  assert.ok(pod?.uid);
  const container = pod.containers.find((c) => c.name === 'checkout');
  assert.ok(container);
  container.files = { ...container.files, '/usr/bin/curl': { generated: { size: BINARY_SIZE, seed: BINARY_SEED } } };
  return pod.uid;
}

async function runOnce(dep: Dependency, faultName: FaultName): Promise<Run> {
  for (const p of allPlans()) p.clear();
  const podUid = resetPod();
  configure(faultName === 'hang' ? { ...GENEROUS, ...dep.hangBound } : GENEROUS, dep.cold === true);
  audit.clear();
  const { notification, findingName, findingId } = freshFinding();
  const plan = dep.plan();
  const callsBefore = plan.calls.length;
  const writesBefore = stack.world.kube.writes.length;
  plan.inject({ match: dep.match, ...(dep.faults?.[faultName] ?? FAULTS[faultName]), times: Number.POSITIVE_INFINITY });
  let status: number;
  try {
    status = (await postStructured(url, structuredEvent(notification))).status;
  } finally {
    for (const p of allPlans()) p.clear();
  }
  const faulted = plan.calls.slice(callsBefore).filter((c) => c.fault !== undefined);
  assert.ok(faulted.length > 0, `the injected ${faultName} fault was hit (${String(dep.match)})`);

  const entries = audit.entries().filter((e) => (e[OPERATION] as { id?: string } | undefined)?.id === findingName);
  const steps: Run['steps'] = new Map();
  for (const e of entries) {
    const s = e['step'] as { name?: string; status?: string } | undefined;
    if (s?.name !== undefined && s.status !== undefined) steps.set(s.name, s as { name: string; status: string });
  }
  const podWrites = stack.world.kube.writes.slice(writesBefore).filter((w) => w.path === POD_PATH || w.path.startsWith(`${POD_PATH}/`));
  return {
    status,
    findingName,
    findingId,
    podUid,
    entries,
    steps,
    summary: entries.at(-1) ?? {},
    evidence: stack.gcs.objects(BUCKET).some((o) => o.name.endsWith(`/${findingId}/binary`)),
    deletes: podWrites.filter((w) => w.method === 'DELETE').map((w) => ({ at: w.at, body: w.body })),
    podWrites: podWrites.length,
  };
}

const describeRun = (r: Run): string =>
  `status ${r.status}; entries:\n${r.entries.map((e) => `  ${String(e['severity'])} ${String(e['message']).slice(0, 240)}`).join('\n')}`;

before(async () => {
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  dir = mkdtempSync(join(tmpdir(), 'fault-matrix-'));
  stack = await startStack();
  server = getTestServer(FUNCTION_NAME);
  url = await listenOnLoopback(server);
});

after(async () => {
  server.close();
  configureResponder(undefined);
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
  // Late failures of abandoned calls (a hung call's own deadline, the fakes closing) count too.
  await new Promise((resolve) => setTimeout(resolve, 200));
  process.off('unhandledRejection', onRejection);
  process.off('uncaughtException', onException);
  assert.deepEqual(escaped, [], 'no unhandled rejection or uncaught exception while the fakes shut down');
});

describe('fault matrix: the full pipeline once per (dependency x fault)', () => {
  for (const dep of DEPENDENCIES) {
    for (const faultName of FAULT_NAMES) {
      const retry = TRANSIENT[faultName] && dep.mattersForRetry;
      const evidenceExpected = typeof dep.evidenceStored === 'function' ? dep.evidenceStored(faultName) : dep.evidenceStored;
      test(`${dep.name} x ${faultName}: ${retry ? '500 (redeliver)' : '204 (ack)'}${dep.deleted ? ', pod deleted after its evidence' : ', no delete'}`, { timeout: 120_000 }, async () => {
        const escapedBefore = escaped.length;
        const r = await runOnce(dep, faultName);
        const why = describeRun(r);

        // (a)
        assert.deepEqual(escaped.slice(escapedBefore), [], 'no unhandled rejection or uncaught exception');

        // (b) retry classification, and the steps the fault failed, with the fault's class.
        assert.equal(r.status, retry ? 500 : 204, why);
        for (const name of dep.failedSteps) {
          const s = r.steps.get(name);
          assert.equal(s?.status, 'failed', `${name} failed\n${why}`);
          assert.equal(s.failure, TRANSIENT[faultName] ? 'transient' : 'permanent', `${name}: ${s.reason ?? ''}`);
        }
        dep.meaning?.[faultName]?.(r);

        // (c) no destructive action without stored evidence.
        assert.equal(r.evidence, evidenceExpected, `evidence object stored: ${String(evidenceExpected)}\n${why}`);
        if (!r.evidence) assert.equal(r.deletes.length, 0, `no evidence, no DELETE\n${why}`);
        assert.equal(r.deletes.length, dep.deleted ? 1 : 0, `DELETE of the pod\n${why}`);
        for (const d of r.deletes) {
          assert.ok(JSON.stringify(d.body ?? {}).includes(r.podUid), `the DELETE carries the pod's UID precondition: ${JSON.stringify(d.body)}`);
          const stored = stack.gcs.objects(BUCKET).find((o) => o.name.endsWith(`/${r.findingId}/binary`));
          assert.ok(stored && Date.parse(stored.timeCreated) <= d.at, 'the evidence object existed before the DELETE');
        }

        // (d) a complete audit summary.
        const op = r.summary[OPERATION] as { last?: boolean } | undefined;
        assert.equal(op?.last, true, `the finding's last entry closes the operation\n${why}`);
        const verdict = (r.summary[LABELS] as Record<string, string> | undefined)?.['verdict'];
        assert.equal(verdict, retry ? 'retry' : 'partial', `verdict label\n${why}`);
        const durations = (r.summary['summary'] as { durations?: Record<string, number> } | undefined)?.durations ?? {};
        assert.ok(Object.keys(durations).includes('locate'), `the summary lists the steps' durations: ${JSON.stringify(durations)}`);
        for (const name of Object.keys(durations)) assert.ok(r.steps.has(name), `step ${name} in the summary has its own entry\n${why}`);
        for (const name of dep.failedSteps) assert.ok(name in durations, `failed step ${name} is in the summary`);
      });
    }
  }

  test('Kubernetes 404 (pod gone): deletePod is reported as nothing to do, not as a refused delete', { timeout: 120_000 }, async () => {
    const k8s = DEPENDENCIES.find((d) => d.name === 'Kubernetes REST (GET pod)');
    assert.ok(k8s);
    const podGoneRun = await runOnce(k8s, '404');
    const del = podGoneRun.steps.get('contain.deletePod');
    assert.match(del?.reason ?? '', /no longer exists \(404\)/);
    assert.doesNotMatch(del?.reason ?? '', /refused/);
    assert.doesNotMatch(stack.scc.marksOf(podGoneRun.findingName)?.['scc_responder_action'] ?? '', /delete-refused/);
    assert.notEqual(stack.scc.marksOf(podGoneRun.findingName)?.['scc_responder_state'], 'failed');
  });

  test('nothing escaped during the whole matrix (unhandled rejections, uncaught exceptions)', () => {
    assert.deepEqual(escaped, []);
  });
});
