// Approval mode through the real function (Functions Framework test server, the real
// composition root, real client libraries against the SCC gRPC fake, the fake Kubernetes API
// server and the fake Cloud Storage). A person approves by setting ONE security mark on SCC's
// copy of the finding; SCC re-notifies; the function reads the mark from SCC's copy only.
// Checked: first delivery -> pending record, awaiting-approval marks, label done, no DELETE;
// approval -> exactly one DELETE with the recorded pod UID precondition and no second
// evidence collection; deny; expiry (the runtime's clock moved, no sleeping); a mark for
// another run; a replay after completion; two concurrent approval deliveries; the echo of our
// own marks; a forged message claiming an approval SCC's copy does not carry (the negative
// control of the "read from SCC only" rule); a replaced pod.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { configureResponder, FUNCTION_NAME } from '../../functions/scc-responder/index.js';
import { createRuntime } from '../../functions/composition/runtime.js';
import { handleMessage } from '../../shared/respond/handle.js';
import { captureAudit, OPERATION } from '../support/audit-capture.js';
import { freshFinding, listenOnLoopback, postStructured, structuredEvent } from '../support/cloudevents.js';
import { DEPLOY_POD, NS } from '../support/fake-kube-world.js';
import type { FakeLogEntry } from '../support/fake-logging.js';
import { BUCKET, RESULTS_TOPIC, startStack, type Stack } from '../support/stack.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const POLICY = `version: 1
enrich:
  callTimeoutSeconds: 5
rules:
  - name: approve-delete
    match:
      categories: ["Execution: Modified Malicious Binary Executed"]
      namespaces: ["${NS}"]
    mode: approve
    approval:
      expiresAfterHours: 4
    actions:
      - type: labelPod
      - type: deletePod
`;

const NOTIFY_POLICY = POLICY.replace('    actions:\n', '    notify:\n      - { channel: slack, secret: slack-hook }\n      - { channel: pagerduty, secret: pd-key }\n    actions:\n');

let stack: Stack;
let receiver: WebhookReceiver;
let notifyPolicyFile: string;
let pristinePod: unknown;
let server: Server;
let url: string;
let dir: string;
let policyFile: string;
const audit = captureAudit();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'approval-'));
  policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, POLICY);
  notifyPolicyFile = join(dir, 'notify-policy.yaml');
  writeFileSync(notifyPolicyFile, NOTIFY_POLICY);
  receiver = await startWebhookReceiver();
  writeFileSync(join(dir, 'ca.pem'), receiver.caPem);
  stack = await startStack();
  pristinePod = structuredClone(stack.world.kube.pod(NS, DEPLOY_POD));
  server = getTestServer(FUNCTION_NAME);
  url = await listenOnLoopback(server);
});

after(async () => {
  server.close();
  configureResponder(undefined);
  await receiver.close();
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  audit.clear();
  configure();
});

/** A fresh runtime (a new instance); `now` moves its clock (approval expiry), nothing else. */
function configure(now?: () => Date, file = policyFile): void {
  const env = stack.env({
    SCC_RESPONDER_POLICY: file,
    SCC_RESPONDER_SECRET_SOURCE: 'env',
    SCC_RESPONDER_WEBHOOK_CA_FILE: join(dir, 'ca.pem'),
    SCC_RESPONDER_ENDPOINT_PAGERDUTY: `127.0.0.1:${receiver.port}`,
    SCC_RESPONDER_NOTIFY_SLACK_HOOK: `${receiver.origin}/services/T0001/B0001/slacktoken`,
    SCC_RESPONDER_NOTIFY_PD_KEY: 'pdroutingkey0123456789abcdef012',
  });
  configureResponder({ env, auditDestination: audit.destination, ...(now ? { now } : {}) });
}

/** The pod as the world made it, with `uid` (a replacement when it differs). */
function putPod(uid?: string): void {
  const pod = structuredClone(pristinePod) as Parameters<Stack['world']['kube']['addPod']>[0];
  const asBuffers = (v: unknown): unknown =>
    v instanceof Uint8Array ? Buffer.from(v) : Array.isArray(v) ? v.map(asBuffers) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asBuffers(x)])) : v;
  const spec = asBuffers(pod) as typeof pod;
  if (uid !== undefined) spec.uid = uid;
  stack.world.kube.addPod(spec);
}

interface Pending {
  notification: Record<string, unknown>;
  findingName: string;
  findingId: string;
  runId: string;
  /** Index into the fake API server's logs where the approval delivery starts. */
  writesAt: number;
  requestsAt: number;
  /** Where the first delivery started in the same logs. */
  firstWritesAt: number;
  firstRequestsAt: number;
}

/** The notification as SCC sends it after a marks update: the finding with SCC's current marks. */
function withMarks(notification: Record<string, unknown>, marks: Record<string, string>): Record<string, unknown> {
  const n = structuredClone(notification) as { finding: Record<string, unknown> };
  n.finding['securityMarks'] = { name: `${String(n.finding['name'])}/securityMarks`, marks };
  return n as unknown as Record<string, unknown>;
}

async function deliver(notification: Record<string, unknown>): Promise<number> {
  return (await postStructured(url, structuredEvent(notification))).status;
}

/** First delivery of a fresh finding under the approve-mode rule. */
async function firstDelivery(fixtureName?: string): Promise<Pending> {
  putPod();
  const { notification, findingName, findingId } = freshFinding('ap', fixtureName);
  stack.known(notification);
  const firstWritesAt = stack.world.kube.writes.length;
  const firstRequestsAt = stack.world.kube.requests.length;
  const status = await deliver(notification);
  assert.ok(status < 300, `first delivery acked (${status})`);
  const marks = stack.scc.marksOf(findingName) ?? {};
  const runId = marks['scc_responder_run'] ?? '';
  assert.ok(runId.length > 0, 'the run mark is written');
  return { notification, findingName, findingId, runId, writesAt: stack.world.kube.writes.length, requestsAt: stack.world.kube.requests.length, firstWritesAt, firstRequestsAt };
}

/** A person sets the approval mark on SCC's copy; SCC re-notifies with the finding's marks. */
function setDecision(p: Pending, value: string): Record<string, unknown> {
  const marks = { ...(stack.scc.marksOf(p.findingName) ?? {}), scc_responder_approval: value };
  stack.scc.setMarks(p.findingName, marks);
  return withMarks(p.notification, marks);
}

function podDeletes(from: number): { body?: unknown; status?: number }[] {
  return stack.world.kube.writes.slice(from).filter((w) => w.method === 'DELETE' && w.path.endsWith(`/pods/${DEPLOY_POD}`));
}

/** Evidence collection calls (exec into the pod, an ephemeral container) since `from`. */
function collections(from: number): string[] {
  return stack.world.kube.requests.slice(from).filter((r) => r.path.includes('/exec') || r.path.includes('/ephemeralcontainers')).map((r) => `${r.method} ${r.path}`);
}

function objectsOf(findingId: string): string[] {
  return stack.gcs.objects(BUCKET).filter((o) => o.name.includes(`/${findingId}/`)).map((o) => o.name);
}

function entriesOf(findingName: string): Record<string, unknown>[] {
  return audit.entries().filter((e) => (e[OPERATION] as { id?: string } | undefined)?.id === findingName);
}

async function publishedFor(findingName: string): Promise<Record<string, unknown>[]> {
  return stack.pubsub.messages.filter((m) => m.topic === RESULTS_TOPIC).map((m) => JSON.parse(m.data.toString('utf8')) as Record<string, unknown>).filter((m) => m['findingName'] === findingName);
}

test('first delivery: label at once, DELETE pending; the report, results topic carry the approve/deny commands', async () => {
  const p = await firstDelivery();
  const marks = stack.scc.marksOf(p.findingName) ?? {};
  assert.equal(marks['scc_responder_state'], 'awaiting-approval');
  assert.equal(marks['scc_responder_action'], 'labelled,delete-pending');
  assert.equal(marks['scc_responder_mode'], 'approve');
  assert.equal(podDeletes(p.firstWritesAt).length, 0, 'no DELETE before approval');
  const writes = stack.world.kube.writes.slice(p.firstWritesAt).map((w) => `${w.method} ${w.path}`);
  assert.ok(writes.includes(`PATCH /api/v1/namespaces/${NS}/pods/${DEPLOY_POD}`), `labelled at once: ${writes.join('; ')}`);
  assert.equal(stack.world.kube.pod(NS, DEPLOY_POD)?.labels?.['scc-responder/finding'], p.findingId, 'the label is on the pod');
  assert.ok(stack.world.kube.pod(NS, DEPLOY_POD), 'the pod is still there');
  const objects = objectsOf(p.findingId);
  assert.ok(objects.some((o) => o.endsWith('/pending-approval.json')), objects.join(', '));
  const record = JSON.parse((await stack.gcs.read(BUCKET, objects.find((o) => o.endsWith('/pending-approval.json')) ?? '')).toString('utf8')) as Record<string, unknown>;
  assert.equal(record['runId'], p.runId);
  assert.deepEqual((record['actions'] as { type: string }[]).map((a) => a.type), ['deletePod']);
  assert.equal((record['pod'] as { uid: string }).uid, 'pod-checkout');
  assert.equal((record['evidence'] as { stored: boolean }).stored, true);
  const approve = `gcloud scc findings update-marks ${p.findingId} --organization=`;
  assert.match((record['commands'] as { approve: string }).approve, new RegExp(`^${approve}\\d+ --source=\\d+ --security-marks=scc_responder_approval=approve:${p.runId} --update-mask=marks.scc_responder_approval$`));
  const published = await publishedFor(p.findingName);
  assert.equal((published.at(-1)?.['approval'] as { status: string; commands: { deny: string } }).status, 'pending');
  assert.match((published.at(-1)?.['approval'] as { commands: { deny: string } }).commands.deny, new RegExp(`deny:${p.runId}`));
  const md = (await stack.gcs.read(BUCKET, objects.find((o) => o.endsWith('/report.md')) ?? '')).toString('utf8');
  assert.ok(md.includes(`scc_responder_approval=approve:${p.runId}`), 'report.md carries the approve command in a fence');
});

test('notifications: Slack carries the approve/deny commands; PagerDuty stays open while pending, resolves after the approved DELETE', async () => {
  configure(undefined, notifyPolicyFile);
  receiver.clear();
  const p = await firstDelivery();
  const slack = (): string[] => receiver.requests.filter((r) => r.path.startsWith('/services/')).map((r) => JSON.stringify(r.body));
  const pd = (): string[] => receiver.requests.filter((r) => r.path.startsWith('/v2/enqueue')).map((r) => String((r.body as { event_action?: string }).event_action));
  assert.equal(slack().length, 1);
  assert.ok(slack()[0]?.includes(`scc_responder_approval=approve:${p.runId}`), slack()[0]);
  assert.ok(slack()[0]?.includes(`scc_responder_approval=deny:${p.runId}`));
  assert.deepEqual(pd(), ['trigger'], 'pending: not resolved');
  receiver.clear();
  assert.ok((await deliver(setDecision(p, `approve:${p.runId}`))) < 300);
  assert.equal(podDeletes(p.writesAt).length, 1);
  assert.deepEqual(pd(), ['trigger', 'resolve'], 'contained after approval: resolved');
  assert.equal(slack().length, 1, 'the approval run notifies too');
  assert.ok(!slack()[0]?.includes('approve:'), 'the approval run\'s message carries no pending commands');
});

test('the echo of our own awaiting-approval marks is acknowledged: nothing done', async () => {
  const p = await firstDelivery();
  const echo = withMarks(p.notification, stack.scc.marksOf(p.findingName) ?? {});
  audit.clear();
  assert.ok((await deliver(echo)) < 300);
  assert.equal(stack.world.kube.writes.length, p.writesAt, 'no write');
  assert.ok(entriesOf(p.findingName).some((e) => String(e['message']).includes('already handled')));
});

test('approve: exactly one DELETE with the recorded UID precondition, evidence not collected again; the replay changes nothing', async () => {
  const p = await firstDelivery();
  const msg = setDecision(p, `approve:${p.runId}`);
  stack.world.logging.entries.push(approvalAuditEntry(p.findingName, `approve:${p.runId}`, 'alice@example.com'));
  assert.ok((await deliver(msg)) < 300);
  const deletes = podDeletes(p.writesAt);
  assert.equal(deletes.length, 1, JSON.stringify(deletes));
  assert.equal((deletes[0]?.body as { preconditions?: { uid?: string } }).preconditions?.uid, 'pod-checkout');
  assert.ok(collections(p.firstRequestsAt).length > 0, 'the first delivery collected the evidence (so the next check can fail)');
  assert.deepEqual(collections(p.requestsAt), [], 'no exec and no ephemeral container on approval');
  const marks = stack.scc.marksOf(p.findingName) ?? {};
  assert.equal(marks['scc_responder_state'], 'contained');
  assert.equal(marks['scc_responder_action'], 'deleted');
  assert.equal(marks['scc_responder_mode'], 'approve');
  assert.notEqual(marks['scc_responder_run'], p.runId, 'the approval run wrote the marks');
  assert.ok(marks['scc_responder_evidence']?.startsWith('gs://'), "the first run's evidence mark stays");
  const report = objectsOf(p.findingId).find((o) => o.endsWith('/approval/report.json'));
  assert.ok(report, 'the decision report closes the pending record');
  const stored = JSON.parse((await stack.gcs.read(BUCKET, report)).toString('utf8')) as { approval: { status: string; approvedBy: { principal?: string; lookup: string } } };
  assert.equal(stored.approval.status, 'approved');
  assert.equal(stored.approval.approvedBy.principal, 'alice@example.com', 'the principal of the UpdateSecurityMarks call that set this approval, from the audit log');
  assert.match(stored.approval.approvedBy.lookup, /^Cloud Audit Logs entry of .*: https:\/\/console\.cloud\.google\.com\/logs\/query;query=.*UpdateSecurityMarks/);
  assert.equal((await publishedFor(p.findingName)).length, 2, 'first run and approval each publish once');

  // Replayed approval (the same message again, after completion): SCC's copy says contained.
  putPod();
  const at = stack.world.kube.writes.length;
  assert.ok((await deliver(msg)) < 300);
  assert.equal(podDeletes(at).length, 0, 'no second DELETE');
  // Even if SCC still showed awaiting-approval (our marks write lost), the closed record holds.
  stack.scc.setMarks(p.findingName, { ...marks, scc_responder_state: 'awaiting-approval', scc_responder_approval: `approve:${p.runId}` });
  assert.ok((await deliver(msg)) < 300);
  assert.equal(podDeletes(at).length, 0, 'no second DELETE after a lost marks write either');
});

test('a v2 finding (locations/): the commands carry --location, and the approval deletes once', async () => {
  const p = await firstDelivery('modified-malicious-binary.v2.json');
  const location = /\/locations\/([^/]+)\//.exec(p.findingName)?.[1];
  assert.ok(location, p.findingName);
  const published = await publishedFor(p.findingName);
  const approval = published.at(-1)?.['approval'] as { commands: { approve: string } };
  assert.match(approval.commands.approve, new RegExp(` --location=${location} --security-marks=scc_responder_approval=approve:${p.runId} `));
  assert.match(String((published.at(-1)?.['outcome'] as { summary: string }).summary), /waiting for approval: deletePod until /);
  assert.ok((await deliver(setDecision(p, `approve:${p.runId}`))) < 300);
  assert.equal(podDeletes(p.writesAt).length, 1);
  assert.equal(stack.scc.marksOf(p.findingName)?.['scc_responder_state'], 'contained');
});

/** Delivers `msg` while every call matching `match` answers 503; the fault is cleared after. */
async function deliverWhileFailing(msg: Parameters<typeof deliver>[0], match: string): Promise<number> {
  stack.world.kube.faults.inject({ match, status: 503, times: Infinity });
  try {
    return await deliver(msg);
  } finally {
    stack.world.kube.faults.clear();
  }
}

test('a transient DELETE failure on approval asks for a redelivery; the redelivery deletes once and closes the record', async () => {
  const p = await firstDelivery();
  const msg = setDecision(p, `approve:${p.runId}`);
  const status = await deliverWhileFailing(msg, `DELETE /api/v1/namespaces/${NS}/pods/${DEPLOY_POD}`);
  assert.ok(status >= 500, `redelivery requested (${status})`);
  assert.equal(stack.scc.marksOf(p.findingName)?.['scc_responder_state'], 'awaiting-approval', 'marks wait for the final attempt');
  assert.equal(objectsOf(p.findingId).some((o) => o.endsWith('/approval/report.json')), false, 'the record stays open');
  assert.ok((await deliver(msg)) < 300);
  assert.equal(podDeletes(p.writesAt).filter((w) => w.status === 200).length, 1);
  assert.equal(stack.scc.marksOf(p.findingName)?.['scc_responder_state'], 'contained');
});

test('a pod read failing with 503 on approval does not consume the approval: redelivery, then one DELETE', async () => {
  const p = await firstDelivery();
  const msg = setDecision(p, `approve:${p.runId}`);
  const status = await deliverWhileFailing(msg, `GET /api/v1/namespaces/${NS}/pods/${DEPLOY_POD}`);
  assert.ok(status >= 500, `redelivery requested (${status})`);
  assert.equal(podDeletes(p.writesAt).length, 0);
  assert.equal(objectsOf(p.findingId).some((o) => o.endsWith('/approval/report.json')), false, 'the record stays open');
  assert.ok((await deliver(msg)) < 300);
  assert.equal(podDeletes(p.writesAt).length, 1);
});

test('approve mode with marks off: the pending record is written and a WARNING says no approval can arrive', async () => {
  configureResponder({ env: stack.env({ SCC_RESPONDER_POLICY: policyFile, SCC_RESPONDER_MARKS: 'false' }), auditDestination: audit.destination });
  putPod();
  const { notification, findingName, findingId } = freshFinding('ap');
  stack.known(notification);
  const writesAt = stack.world.kube.writes.length;
  assert.ok((await deliver(notification)) < 300);
  assert.equal(podDeletes(writesAt).length, 0);
  assert.ok(objectsOf(findingId).some((o) => o.endsWith('/pending-approval.json')));
  assert.ok(entriesOf(findingName).some((e) => e['severity'] === 'WARNING' && String(e['message']).includes('no approval mark can reach them')));
});

test('deny: marks denied, an audit entry, nothing touched', async () => {
  const p = await firstDelivery();
  assert.ok((await deliver(setDecision(p, `deny:${p.runId}`))) < 300);
  assert.equal(stack.world.kube.writes.length, p.writesAt, 'no write to the cluster');
  const marks = stack.scc.marksOf(p.findingName) ?? {};
  assert.equal(marks['scc_responder_state'], 'denied');
  assert.equal(marks['scc_responder_action'], 'delete-denied');
  assert.ok(entriesOf(p.findingName).some((e) => String(e['message']).includes('denied')));
  // No audit entry for this mark (Data Access logs off): no principal, the reason and the link instead.
  const report = objectsOf(p.findingId).find((o) => o.endsWith('/approval/report.json'));
  assert.ok(report);
  const stored = JSON.parse((await stack.gcs.read(BUCKET, report)).toString('utf8')) as { approval: { approvedBy: { principal?: string; lookup: string } } };
  assert.equal(stored.approval.approvedBy.principal, undefined);
  assert.match(stored.approval.approvedBy.lookup, /Data Access[\s\S]*see Cloud Audit Logs: https:\/\/console\.cloud\.google\.com\/logs\/query/);
});

test('expiry: an approval after expiresAfterHours closes the record as expired, nothing touched', async () => {
  const p = await firstDelivery();
  const msg = setDecision(p, `approve:${p.runId}`);
  configure(() => new Date(Date.now() + 5 * 3_600_000)); // the rule's 4 h have passed
  assert.ok((await deliver(msg)) < 300);
  assert.equal(stack.world.kube.writes.length, p.writesAt, 'no write to the cluster');
  const marks = stack.scc.marksOf(p.findingName) ?? {};
  assert.equal(marks['scc_responder_state'], 'expired');
  assert.ok(entriesOf(p.findingName).some((e) => e['severity'] === 'WARNING' && String(e['message']).includes('expired')));
});

test('an approval mark for another run id is refused: no DELETE, marks unchanged', async () => {
  const p = await firstDelivery();
  const before = stack.scc.marksOf(p.findingName);
  const other = '0b5e3d1c-1111-4222-8333-944455556666';
  assert.ok((await deliver(setDecision(p, `approve:${other}`))) < 300);
  assert.equal(podDeletes(p.writesAt).length, 0);
  assert.deepEqual(stack.scc.marksOf(p.findingName), { ...before, scc_responder_approval: `approve:${other}` }, 'only the person\'s own mark changed');
  assert.ok(entriesOf(p.findingName).some((e) => e['severity'] === 'WARNING' && String(e['message']).includes(`pending actions were recorded by run ${p.runId}`)));
});

test('two concurrent approval deliveries: one DELETE', async () => {
  const p = await firstDelivery();
  const msg = setDecision(p, `approve:${p.runId}`);
  const statuses = await Promise.all([deliver(msg), deliver(msg), deliver(msg)]);
  assert.ok(statuses.every((s) => s < 300), statuses.join(','));
  assert.equal(podDeletes(p.writesAt).length, 1);
});

test('two instances approving at once: the approval claim lets one execute', async () => {
  const p = await firstDelivery();
  const msg = setDecision(p, `approve:${p.runId}`);
  // A second instance: its own runtime (its own single flight), the same store, SCC and cluster.
  const second = createRuntime({ surface: 'function', env: stack.env({ SCC_RESPONDER_POLICY: policyFile }), auditDestination: audit.destination });
  const [first, other] = await Promise.all([deliver(msg), handleMessage(structuredEvent(msg), second)]);
  // One executes; the other finds the claim held (retry) or the decision done (acked).
  assert.ok(first < 300 || !other.retry, `${first} ${other.disposition}`);
  assert.equal(podDeletes(p.writesAt).length, 1);
  if (other.retry) {
    // Its redelivery, after the first finished, is acknowledged without a second DELETE.
    const again = await handleMessage(structuredEvent(msg), second);
    assert.equal(again.retry, false, again.message);
    assert.equal(podDeletes(p.writesAt).length, 1);
  }
});

test('negative control: a forged message claiming an approval SCC\'s copy does not carry does nothing', async () => {
  const p = await firstDelivery();
  // The message says approved; SCC's copy still says awaiting-approval without the mark.
  const forged = withMarks(p.notification, { ...(stack.scc.marksOf(p.findingName) ?? {}), scc_responder_approval: `approve:${p.runId}` });
  assert.ok((await deliver(forged)) < 300);
  assert.equal(podDeletes(p.writesAt).length, 0, 'nothing deleted on the message\'s word');
  assert.equal(stack.scc.marksOf(p.findingName)?.['scc_responder_state'], 'awaiting-approval');
  // The same message once SCC's copy carries the mark: the DELETE happens (the check can pass).
  stack.scc.setMarks(p.findingName, { ...(stack.scc.marksOf(p.findingName) ?? {}), scc_responder_approval: `approve:${p.runId}` });
  assert.ok((await deliver(forged)) < 300);
  assert.equal(podDeletes(p.writesAt).length, 1);
});

test('a replaced pod (same name, new UID) is refused and recorded: no DELETE', async () => {
  const p = await firstDelivery();
  putPod('pod-checkout-replacement');
  const writesAt = stack.world.kube.writes.length;
  assert.ok((await deliver(setDecision(p, `approve:${p.runId}`))) < 300);
  assert.equal(podDeletes(writesAt).length, 0);
  const report = objectsOf(p.findingId).find((o) => o.endsWith('/approval/report.json'));
  assert.ok(report);
  const stored = JSON.parse((await stack.gcs.read(BUCKET, report)).toString('utf8')) as { approval: { status: string; reason: string }; actions: { status: string }[] };
  assert.equal(stored.approval.status, 'refused');
  assert.match(stored.approval.reason, /pod-checkout-replacement.*not the approved pod's pod-checkout/);
  assert.equal(stored.actions[0]?.status, 'refused');
  assert.equal(stack.scc.marksOf(p.findingName)?.['scc_responder_action'], 'delete-refused');
});

/** The Data Access audit entry SCC writes when a person sets the approval mark (what findMarkAuthor reads). */
function approvalAuditEntry(findingName: string, value: string, principal: string): FakeLogEntry {
  const method = 'google.cloud.securitycenter.v1.SecurityCenter.UpdateSecurityMarks';
  const parent = findingName.split('/').slice(0, 2).join('/');
  return {
    logName: `${parent}/logs/cloudaudit.googleapis.com%2Fdata_access`,
    resource: { type: 'audited_resource', labels: { service: 'securitycenter.googleapis.com', method } },
    timestamp: new Date().toISOString(),
    severity: 'NOTICE',
    audit: { serviceName: 'securitycenter.googleapis.com', methodName: method, resourceName: `${findingName}/securityMarks`, principalEmail: principal },
    request: { '@type': 'type.googleapis.com/google.cloud.securitycenter.v1.UpdateSecurityMarksRequest', securityMarks: { name: `${findingName}/securityMarks`, marks: { scc_responder_approval: value } }, updateMask: 'marks.scc_responder_approval' },
  };
}
