// End to end through Google's own Pub/Sub emulator (a real peer, not our fake): a real SCC
// notification published to the findings topic, pushed by the emulator to the Functions
// Framework serving the deployable bundle (dist/bundle) in a child process, the function's
// result read back from the results topic through a pull subscription. Cluster, SCC and
// Cloud Storage are the usual loopback fakes (test/support/stack.ts), policy enforce, so
// there is a DELETE to count.
//
// What the emulator delivers, and how production differs:
// - The emulator's push subscription POSTs a Pub/Sub *push body*
//   (`{"subscription": S, "message": {data, attributes, messageId, message_id, publishTime,
//   publish_time}}`, content-type application/json, no `ce-*` headers). The Functions
//   Framework's legacy Pub/Sub middleware turns that into a background event and then a
//   CloudEvent (type google.cloud.pubsub.topic.v1.messagePublished, source
//   //pubsub.googleapis.com/<topic taken from the request path>, data {message}); the
//   `subscription` field is dropped on the way. So the push endpoint's path must be the
//   topic name (`/projects/P/topics/T`), or the event's source is empty.
// - In production, Eventarc owns the push subscription and delivers a *binary-mode
//   CloudEvent* (`ce-*` headers, the same push body as data) to the function. The test
//   posts that shape to the same server and expects the same outcome.
// - Retries: a 5xx makes the emulator redeliver. Measured here (emulator 0.8.20): the first
//   redelivery comes after ~1 s whatever the retry policy says; later ones follow the
//   subscription's retryPolicy (min 6 s / max 8 s gave gaps of 1.0 s then 7.9 s). Eventarc
//   retries only with `retry_policy = RETRY_POLICY_RETRY`, with backoff of 10-600 s.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { PubSub, type Message, type Subscription, type Topic } from '@google-cloud/pubsub';
import { FUNCTION_NAME } from '../../functions/scc-responder/index.js';
import { RESULT_SCHEMA } from '../../shared/record/result-publisher.js';
import { PLANTED_SECRET } from '../support/audit-capture.js';
import { fixture, postBinary } from '../support/cloudevents.js';
import { DEPLOY_POD, NS } from '../support/fake-kube-world.js';
import { startFunctionProcess, type FunctionProcess } from '../support/function-process.js';
import { resolveSdkRoot, SDK_ROOT_ENV, startPubsubEmulator } from '../support/pubsub-emulator.js';
import { BUCKET, RESULTS_TOPIC, startStack, type Stack } from '../support/stack.js';

const PROJECT = 'acme-security'; // the stack's results topic lives here
const FINDINGS_TOPIC = `projects/${PROJECT}/topics/scc-findings`;
const POLICY = 'policies/enforce-delete-for-deployments.yaml';
/** Generous: a delivery on a busy machine (cold client imports in the function) takes seconds. */
const DEADLINE_MS = 60_000;

type Emulator = Awaited<ReturnType<typeof startPubsubEmulator>>;
let emulator: Emulator;
let stack: Stack;
let fn: FunctionProcess;
let proxy: RecordingProxy;
let pubsub: PubSub;
let findings: Topic;
let resultsSub: Subscription;
const results: Message[] = [];
const subscriberErrors: Error[] = [];

// ---------------------------------------------------------------- helpers

interface Delivery {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: { subscription?: string; message?: { data?: string; messageId?: string; message_id?: string; attributes?: Record<string, string> } };
  status: number;
}

/**
 * Sits between the emulator and the function and records every push (body, headers, the
 * function's status), so the test can see what the emulator really sent and how often. A
 * path under /always-503/ is answered 503 without reaching the function.
 */
interface RecordingProxy {
  url: string;
  deliveries: Delivery[];
  close(): Promise<void>;
}

function parseBody(raw: Buffer): Delivery['body'] {
  try {
    return JSON.parse(raw.toString()) as Delivery['body'];
  } catch {
    return {};
  }
}

async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const proxy: RecordingProxy = {
    url: '',
    deliveries: [],
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = parseBody(raw);
      const path = req.url ?? '/';
      if (path.startsWith('/always-503/')) {
        proxy.deliveries.push({ path, headers: req.headers, body, status: 503 });
        res.writeHead(503).end();
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && (k === 'content-type' || k.startsWith('ce-'))) headers[k] = v;
      const answer = (status: number, text: string, type = 'text/plain'): void => {
        proxy.deliveries.push({ path, headers: req.headers, body, status });
        res.writeHead(status, { 'content-type': type }).end(text);
      };
      fetch(new URL(path, target), { method: req.method ?? 'POST', headers, body: raw })
        .then(async (r) => answer(r.status, await r.text(), r.headers.get('content-type') ?? 'text/plain'))
        .catch((err: unknown) => answer(502, String(err)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

async function waitFor<T>(what: string, probe: () => T | undefined, deadlineMs = DEADLINE_MS): Promise<T> {
  const start = performance.now();
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (performance.now() - start > deadlineMs) {
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}; function output tail:\n${fn.output().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A fresh copy of the v1 fixture with a unique finding id, detected now (after the test pods exist). */
function freshFinding(): { notification: Record<string, unknown>; findingName: string; id: string } {
  const n = structuredClone(fixture('modified-malicious-binary.v1.json')) as { finding: { name: string; canonicalName?: string; eventTime: string } };
  const id = `f${Math.random().toString(16).slice(2, 14)}`;
  n.finding.eventTime = new Date().toISOString();
  n.finding.name = n.finding.name.replace(/[^/]+$/, id);
  if (n.finding.canonicalName) n.finding.canonicalName = n.finding.canonicalName.replace(/[^/]+$/, id);
  // SCC holds this finding: the function confirms every finding with SCC before acting.
  stack.known(n);
  return { notification: n as unknown as Record<string, unknown>, findingName: n.finding.name, id };
}

function resetPod(): void {
  if (stack.world.kube.pod(NS, DEPLOY_POD)) return;
  stack.world.kube.addPod({
    namespace: NS, name: DEPLOY_POD, uid: `pod-checkout-${Math.random().toString(16).slice(2, 8)}`, creationTimestamp: new Date(Date.now() - 3_600_000).toISOString(), nodeName: 'gke-payments-default-pool-1a2b3c4d-x7k9',
    labels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-7d9f8b6c5d', uid: 'rs-checkout', controller: true }],
    containers: [{ name: 'checkout', image: 'us-docker.pkg.dev/acme-payments-prod/apps/checkout:2.14.1', files: { '/usr/bin/curl': { content: Buffer.from('test') } } }],
  });
}

/** Pod DELETE requests in the fake Kubernetes API's request log, whatever it answered. */
const podDeletes = () => stack.world.kube.writes.filter((w) => w.method === 'DELETE' && w.path.endsWith(`/pods/${DEPLOY_POD}`));
const deletes = (): number => podDeletes().length;
const evidence = (id: string): string[] => stack.gcs.objects(BUCKET).map((o) => o.name).filter((n) => n.endsWith(`${id}/binary`));
const resultsFor = (findingName: string): Message[] => results.filter((m) => m.orderingKey === findingName);
const deliveriesOf = (messageId: string): Delivery[] => proxy.deliveries.filter((d) => d.body.message?.messageId === messageId);

const functionEnv = (): NodeJS.ProcessEnv => stack.env({ SCC_RESPONDER_POLICY: POLICY, SCC_RESPONDER_ENDPOINT_PUBSUB: emulator.host });

// ---------------------------------------------------------------- setup

before(async () => {
  const started = performance.now();
  let emulatorReady = 0;
  // Assigned as each resolves, so that after() stops whatever did start if another part fails.
  await Promise.all([
    startPubsubEmulator({ projectId: PROJECT }).then((e) => {
      emulatorReady = performance.now() - started;
      emulator = e;
    }),
    startStack().then((s) => (stack = s)),
  ]);
  fn = await startFunctionProcess(FUNCTION_NAME, functionEnv());
  proxy = await startRecordingProxy(fn.url);
  pubsub = new PubSub({ projectId: PROJECT, apiEndpoint: emulator.host });
  [findings] = await pubsub.createTopic(FINDINGS_TOPIC);
  await findings.createSubscription('scc-responder-push', {
    // The topic name as the path: the Functions Framework reads the event's source from it.
    pushConfig: { pushEndpoint: `${proxy.url}/${FINDINGS_TOPIC}` },
    ackDeadlineSeconds: 60,
    retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 2 } },
  });
  const [resultsTopic] = await pubsub.createTopic(RESULTS_TOPIC);
  [resultsSub] = await resultsTopic.createSubscription('scc-responder-results-pull', { enableMessageOrdering: true });
  resultsSub.on('message', (m: Message) => {
    results.push(m);
    m.ack();
  });
  resultsSub.on('error', (err: Error) => subscriberErrors.push(err));
  console.log(`# pubsub emulator ready in ${Math.round(emulatorReady)} ms (pid ${emulator.pid}); setup total ${Math.round(performance.now() - started)} ms`);
});

after(async () => {
  // Each step guarded: a failed setup must still stop what did start.
  await resultsSub?.close().catch(() => undefined);
  await pubsub?.close().catch(() => undefined);
  await fn?.stop();
  await proxy?.close();
  await emulator?.stop();
  await stack?.close();
});

beforeEach(() => {
  resetPod();
  stack.world.kube.faults.clear();
  stack.scc.faults.clear();
  stack.gcs.faults.clear();
});

/** The one result for a finding, once it has arrived. */
async function resultOf(findingName: string): Promise<Message> {
  return waitFor(`a result for ${findingName} on ${RESULTS_TOPIC}`, () => resultsFor(findingName)[0]);
}

/** The deliveries of one message, once the function has answered `count` of them. */
async function deliveries(messageId: string, count: number): Promise<Delivery[]> {
  return waitFor(`${count} push deliveries of message ${messageId}`, () => (deliveriesOf(messageId).length >= count ? deliveriesOf(messageId) : undefined));
}

function assertResult(result: Message, findingName: string): void {
  assert.equal(result.orderingKey, findingName, 'ordering key = finding name');
  assert.deepEqual(result.attributes, {
    producer: 'scc-container-responder',
    schema: RESULT_SCHEMA,
    finding: findingName,
    category: 'Execution: Modified Malicious Binary Executed',
    severity: 'CRITICAL',
    action: 'labelled,annotated,deleted',
    cluster: 'payments',
    verdict: 'handled',
    mode: 'enforce',
    rule: 'delete-prod-deployments',
    project: 'acme-payments-prod',
  });
  const text = result.data.toString();
  assert.ok(!text.includes(PLANTED_SECRET), 'the planted secret never reaches the results topic');
  // The results topic carries a summary of the report (no raw arguments unless the policy asks).
  const summary = JSON.parse(text) as { findingName?: string; finding?: { pod?: string; namespace?: string } };
  assert.equal(summary.findingName, findingName);
  assert.equal(summary.finding?.namespace, NS);
  assert.equal(summary.finding?.pod, DEPLOY_POD);
}

describe('through the emulator: findings topic -> push -> function (dist/bundle) -> results topic', () => {
  test('a published SCC notification: pushed as a push body, acked on the first delivery, evidence + one DELETE, result with attributes and ordering key', async () => {
    const { notification, findingName, id } = freshFinding();
    const deletesBefore = deletes();
    const data = Buffer.from(JSON.stringify(notification));
    const messageId = await findings.publishMessage({ data, attributes: { notificationConfig: 'ctd-responder' } });

    const result = await resultOf(findingName);
    assertResult(result, findingName);
    // What the emulator pushed: a Pub/Sub push body, not a CloudEvent, and the function acked it.
    const [delivery, ...more] = await deliveries(messageId, 1);
    assert.ok(delivery);
    assert.deepEqual(more, []);
    assert.equal(delivery.status, 204);
    assert.equal(delivery.path, `/${FINDINGS_TOPIC}`);
    assert.equal(delivery.headers['content-type'], 'application/json');
    assert.deepEqual(Object.keys(delivery.headers).filter((h) => h.startsWith('ce-')), [], 'no CloudEvent headers');
    assert.equal(delivery.body.subscription, `projects/${PROJECT}/subscriptions/scc-responder-push`);
    assert.equal(delivery.body.message?.data, data.toString('base64'));
    assert.equal(delivery.body.message?.message_id, messageId);
    assert.deepEqual(delivery.body.message?.attributes, { notificationConfig: 'ctd-responder' });
    // ... which the Functions Framework turned into a structured CloudEvent for the handler.
    const envelope = (JSON.parse(result.data.toString()) as { envelope?: Record<string, unknown> }).envelope;
    assert.deepEqual(envelope && { kind: envelope['kind'], eventType: envelope['eventType'], messageId: envelope['messageId'] }, {
      kind: 'cloudevent-structured',
      eventType: 'google.cloud.pubsub.topic.v1.messagePublished',
      messageId,
    });

    assert.equal(evidence(id).length, 1, 'one evidence object');
    assert.equal(deletes(), deletesBefore + 1, 'one DELETE');
    assert.equal(stack.scc.marksOf(findingName)?.['scc_responder_state'], 'contained');
    assert.deepEqual(subscriberErrors, []);
  });

  test('a transient failure (SCC answers 503 once): the function answers 5xx, the emulator redelivers, the redelivery completes with one evidence object and one DELETE', async () => {
    const { notification, findingName, id } = freshFinding();
    stack.scc.faults.inject({ match: 'UpdateSecurityMarks', status: 503 });
    const deletesBefore = deletes();
    const messageId = await findings.publishMessage({ json: notification });

    const pushes = await deliveries(messageId, 2);
    assert.deepEqual(pushes.map((d) => d.status), [500, 204], 'first delivery 5xx, the redelivery acked');
    assert.equal(pushes[1]?.body.message?.data, pushes[0]?.body.message?.data, 'the same message was redelivered');
    assert.equal(stack.scc.faults.calls.filter((c) => c.key === 'UpdateSecurityMarks' && c.fault?.status === 503).length, 1, 'the fault fired once');
    assert.equal(evidence(id).length, 1, 'one evidence object across both deliveries');
    assert.equal(deletes(), deletesBefore + 1, 'one DELETE across both deliveries');
    assert.equal(podDeletes().at(-1)?.status, 200);
    assert.equal(stack.scc.marksOf(findingName)?.['scc_responder_state'], 'contained');

    // Each delivery publishes its report (subscribers de-duplicate on the ordering key), and
    // the ordering key keeps them in delivery order on the results topic.
    const reports = await waitFor('a report per delivery', () => (resultsFor(findingName).length >= 2 ? resultsFor(findingName) : undefined));
    assert.equal(reports.length, 2);
    const parsed = reports.map((r) => JSON.parse(r.data.toString()) as { receivedAt: string; outcome?: { verdict?: string; failedSteps?: string[] } });
    assert.ok((parsed[0]?.receivedAt ?? '') < (parsed[1]?.receivedAt ?? ''), 'reports arrive in delivery order');
    for (const r of reports) {
      assert.equal(r.orderingKey, findingName);
      assert.equal(r.attributes['action'], 'labelled,annotated,deleted');
    }
    // Observed, not asserted (reported to the lead): the first delivery's report is published
    // alongside the marks write, so it reads `handled` although that delivery then asked for
    // a retry; the redelivery finds the pod gone and reads `partial` (enrich.pod failed).
    console.log(`# transient case verdicts: ${parsed.map((p) => `${p.outcome?.verdict} [${(p.outcome?.failedSteps ?? []).join(',')}]`).join(' then ')}`);
  });

  test('the production shape: a binary-mode CloudEvent as Eventarc delivers it, posted to the same server, gives the same outcome', async () => {
    const { notification, findingName, id } = freshFinding();
    const deletesBefore = deletes();
    const res = await postBinary(fn.url, notification);
    assert.equal(res.status, 204, fn.output().slice(-2000));
    assertResult(await resultOf(findingName), findingName);
    assert.equal(evidence(id).length, 1);
    assert.equal(deletes(), deletesBefore + 1);
  });
});

describe('controls', () => {
  test('the emulator redelivers a message answered 5xx again and again, and never one answered 2xx (a non-JSON message: acked as bad input, nothing deleted, nothing published)', async () => {
    const [control] = await pubsub.createTopic(`projects/${PROJECT}/topics/scc-control`);
    const [nacking] = await control.createSubscription('always-503', {
      pushConfig: { pushEndpoint: `${proxy.url}/always-503/${control.name}` },
      retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 2 } },
    });
    try {
      const deletesBefore = deletes();
      const resultsBefore = results.length;
      const garbageId = await findings.publishMessage({ data: Buffer.from('{"finding": not json') });
      const nackedId = await control.publishMessage({ data: Buffer.from('always refused') });
      const [acked] = await deliveries(garbageId, 1);
      assert.equal(acked?.status, 204, 'bad input is acknowledged, not retried');
      // Its log line comes through the child's stdout pipe, possibly after the answer.
      await waitFor('the rejection in the function log', () => (/message rejected: [^"]*not JSON/.test(fn.output()) ? true : undefined));
      // Event-based window: the emulator redelivers the refused message twice more after the
      // bad one was acked; had it meant to redeliver the acked one, it would have by then.
      const seen = (await deliveries(nackedId, 1)).length;
      const refused = await deliveries(nackedId, seen + 2);
      assert.ok(refused.every((d) => d.status === 503), JSON.stringify(refused.map((d) => d.status)));
      assert.equal(deliveriesOf(garbageId).length, 1, 'the acked message was not redelivered');
      assert.equal(deletes(), deletesBefore, 'nothing deleted');
      assert.equal(results.length, resultsBefore, 'nothing published');
    } finally {
      await nacking.delete();
    }
  });
});

describe('startPubsubEmulator names what is missing (no silent skip)', () => {
  /** Runs startPubsubEmulator under a modified environment (it reads it before its first await). */
  function startWith(env: Record<string, string | undefined>): Promise<unknown> {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    const set = (vars: Record<string, string | undefined>): void => {
      for (const [k, v] of Object.entries(vars)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    };
    set(env);
    try {
      return startPubsubEmulator();
    } finally {
      set(saved);
    }
  }

  test('no emulator under the SDK root', async () => {
    await assert.rejects(startWith({ [SDK_ROOT_ENV]: '/nonexistent/google-cloud-sdk' }), /Pub\/Sub emulator not found: \/nonexistent\/google-cloud-sdk\/platform\/pubsub-emulator\/bin\/cloud-pubsub-emulator does not exist .*google-cloud-cli-pubsub-emulator/);
  });

  test('no Java', async () => {
    const { root } = resolveSdkRoot();
    await assert.rejects(startWith({ [SDK_ROOT_ENV]: root, JAVA_HOME: undefined, PATH: '/nonexistent' }), /Java not found: .* no `java` on PATH and JAVA_HOME is unset/);
    await assert.rejects(startWith({ [SDK_ROOT_ENV]: root, JAVA_HOME: '/nonexistent/jdk' }), /Java not found: .*JAVA_HOME=\/nonexistent\/jdk has no executable bin\/java/);
  });

  test('the running emulator is a Java process we can signal by its PID', () => {
    assert.doesNotThrow(() => process.kill(emulator.pid, 0));
    assert.match(readFileSync(`/proc/${emulator.pid}/cmdline`, 'utf8'), /java\0.*cloud-pubsub-emulator.*\0--host=127\.0\.0\.1\0--port=\d+/);
  });
});
