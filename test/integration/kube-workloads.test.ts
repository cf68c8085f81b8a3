// The client-node Workloads adapter against the fake API server: mapping to our views,
// error classification of every failure the API can give, and exec with backpressure.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { classifyError } from '../../shared/common/errors.js';
import { classifyExecResult } from '../../shared/evidence/exec-outcome.js';
import { runStep } from '../../shared/common/step.js';
import { KUBE_API_CALLS, type KubeCallName } from '../../shared/kube/api-calls.js';
import { workloadsFromEndpoint, workloadsFromKubeConfig, type ClientNodeWorkloads } from '../../shared/kube/client-node-workloads.js';
import { KubeApiError } from '../../shared/kube/errors.js';
import { ExecUpgradeError } from '../../shared/kube/exec-socket.js';
import { sha256OfGenerated, startFakeKube, type FakeKube } from '../support/fake-kube.js';

const MiB = 1024 * 1024;
let fake: FakeKube;
let w: ClientNodeWorkloads;
const calls: { name: KubeCallName; target: string }[] = [];

function hashSink(): Writable & { sha256(): string; bytes: number; ended: boolean } {
  const h = createHash('sha256');
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      h.update(chunk);
      sink.bytes += chunk.length;
      cb();
    },
  }) as Writable & { sha256(): string; bytes: number; ended: boolean };
  sink.bytes = 0;
  sink.ended = false;
  sink.on('finish', () => (sink.ended = true));
  sink.sha256 = () => h.copy().digest('hex');
  return sink;
}

before(async () => {
  fake = await startFakeKube();
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfigYaml());
  w = workloadsFromKubeConfig(kc, { onCall: (name, target) => calls.push({ name, target }), debugPollMs: { first: 5, max: 20 } });
  fake.addNode({ name: 'node-a', labels: { 'cloud.google.com/gke-nodepool': 'default-pool', 'topology.kubernetes.io/zone': 'europe-west1-b' }, annotations: { 'container.googleapis.com/instance_id': '998877' }, providerID: 'gce://proj/europe-west1-b/node-a' });
  fake.addObject('Deployment', { namespace: 'ns', name: 'web', uid: 'd1', replicas: 2 });
  fake.addObject('ReplicaSet', { namespace: 'ns', name: 'web-5f', uid: 'r1', replicas: 2, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd1', controller: true }] });
  fake.addObject('StatefulSet', { namespace: 'ns', name: 'db', uid: 's1', replicas: 3 });
  fake.addObject('DaemonSet', { namespace: 'ns', name: 'agent', uid: 'ds1' });
  fake.addObject('Job', { namespace: 'ns', name: 'batch-1', uid: 'j1', replicas: 4 });
  fake.addObject('CronJob', { namespace: 'ns', name: 'batch', uid: 'cj1' });
  fake.addPod({
    namespace: 'ns',
    name: 'web-5f-xyz12',
    uid: 'pod-1',
    nodeName: 'node-a',
    serviceAccountName: 'web-sa',
    labels: { app: 'web' },
    annotations: { note: 'x' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5f', uid: 'r1', controller: true }],
    containers: [
      { name: 'app', image: 'eu.gcr.io/p/web:2', imageID: 'eu.gcr.io/p/web@sha256:aaaa', restartCount: 2, pid: 77, files: { '/bin/evil': { generated: { size: MiB, seed: 11 } }, '/secret': { content: Buffer.from('s'), unreadable: true } } },
      { name: 'distroless', tools: [] },
      { name: 'stopped', running: false },
    ],
  });
  fake.addEvent({ namespace: 'ns', involvedObject: { kind: 'Pod', name: 'web-5f-xyz12' }, reason: 'Started', message: 'Started container app', lastTimestamp: '2026-01-01T00:00:02Z' });
  fake.addEvent({ namespace: 'ns', involvedObject: { kind: 'Pod', name: 'web-5f-xyz12' }, reason: 'Pulled', message: 'pulled', lastTimestamp: '2026-01-01T00:00:01Z' });
});
after(() => fake.close());

describe('reads map to our views', () => {
  test('readPod', async () => {
    const pod = await w.readPod('ns', 'web-5f-xyz12');
    assert.equal(pod.uid, 'pod-1');
    assert.equal(pod.nodeName, 'node-a');
    assert.equal(pod.serviceAccountName, 'web-sa');
    assert.deepEqual(pod.labels, { app: 'web' });
    assert.deepEqual(pod.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5f', uid: 'r1', controller: true }]);
    const app = pod.containers.find((c) => c.name === 'app');
    assert.equal(app?.state, 'running');
    assert.equal(app?.image, 'eu.gcr.io/p/web:2');
    assert.equal(app?.imageID, 'eu.gcr.io/p/web@sha256:aaaa');
    assert.equal(app?.restartCount, 2);
    assert.match(app?.containerID ?? '', /^containerd:\/\//);
    assert.equal(pod.containers.find((c) => c.name === 'stopped')?.state, 'terminated');
    assert.match(pod.creationTimestamp ?? '', /^\d{4}-\d\d-\d\dT/);
    assert.equal(calls.at(-1)?.name, 'readPod');
  });

  test('readNode carries the instance id', async () => {
    const node = await w.readNode('node-a');
    assert.equal(node.instanceId, '998877');
    assert.equal(node.providerID, 'gce://proj/europe-west1-b/node-a');
    assert.equal(node.unschedulable, false);
    assert.deepEqual(node.conditions[0], { type: 'Ready', status: 'True', reason: 'KubeletReady' });
  });

  test('readOwner for every kind in the table, and a refusal for others', async () => {
    const rs = await w.readOwner('ns', { kind: 'ReplicaSet', name: 'web-5f' });
    assert.equal(rs.ownerReferences[0]?.kind, 'Deployment');
    assert.equal(rs.replicas, 2);
    assert.equal((await w.readOwner('ns', { kind: 'Deployment', name: 'web' })).uid, 'd1');
    assert.equal((await w.readOwner('ns', { kind: 'StatefulSet', name: 'db' })).replicas, 3);
    assert.equal((await w.readOwner('ns', { kind: 'DaemonSet', name: 'agent' })).replicas, undefined);
    assert.equal((await w.readOwner('ns', { kind: 'Job', name: 'batch-1' })).replicas, 4);
    assert.equal((await w.readOwner('ns', { kind: 'CronJob', name: 'batch' })).kind, 'CronJob');
    const before = fake.requests.length;
    await assert.rejects(w.readOwner('ns', { kind: 'Rollout', name: 'x' }), (err: unknown) => classifyError(err).kind === 'permanent' && /not readable/.test((err as Error).message));
    assert.equal(fake.requests.length, before, 'no request for a kind outside the table');
  });

  test('listPodEvents (sorted, oldest first) and listPods', async () => {
    const events = await w.listPodEvents('ns', 'web-5f-xyz12');
    assert.deepEqual(events.map((e) => e.reason), ['Pulled', 'Started']);
    assert.equal(events[1]?.source, 'kubelet');
    const pods = await w.listPods('ns', 'app=web');
    assert.deepEqual(pods.map((p) => p.name), ['web-5f-xyz12']);
  });

  test('every call went through a KUBE_API_CALLS name', () => {
    assert.ok(calls.length > 0);
    for (const c of calls) assert.ok(c.name in KUBE_API_CALLS, c.name);
  });

  test('workloadsFromEndpoint verifies the server against the given CA', async () => {
    const viaEndpoint = workloadsFromEndpoint({ server: fake.url, caData: fake.caData, token: fake.token });
    assert.equal((await viaEndpoint.readNode('node-a')).name, 'node-a');
    const noCa = workloadsFromEndpoint({ server: fake.url, token: fake.token });
    await assert.rejects(noCa.readNode('node-a'), (err: unknown) => /certificate|self.signed|verify/i.test(`${(err as Error).message} ${String((err as Error).cause)}`));
    const badToken = workloadsFromEndpoint({ server: fake.url.replace('https://', ''), caData: fake.caData, token: 'nope' });
    await assert.rejects(badToken.readNode('node-a'), (err: unknown) => err instanceof KubeApiError && err.statusCode === 401 && classifyError(err).kind === 'permanent');
  });
});

describe('writes', () => {
  test('deletePod: deleted with the UID precondition, then not-found, and a UID mismatch throws 409', async () => {
    fake.addPod({ namespace: 'w', name: 'p', uid: 'u1', containers: [{ name: 'c' }] });
    await assert.rejects(w.deletePod('w', 'p', { uid: 'other' }), (err: unknown) => {
      const c = classifyError(err);
      return err instanceof KubeApiError && err.statusCode === 409 && c.kind === 'permanent' && /Precondition failed/.test(c.reason);
    });
    assert.equal(await w.deletePod('w', 'p', { uid: 'u1', gracePeriodSeconds: 0 }), 'deleted');
    const del = fake.writes.filter((x) => x.method === 'DELETE' && x.path === '/api/v1/namespaces/w/pods/p').at(-1);
    assert.deepEqual((del?.body as { preconditions?: unknown }).preconditions, { uid: 'u1' });
    assert.match(del?.query ?? '', /gracePeriodSeconds=0/);
    assert.equal(await w.deletePod('w', 'p', { uid: 'u1' }), 'not-found');
  });

  test('patchPodMetadata sends a merge patch; cordonNode sets unschedulable', async () => {
    fake.addPod({ namespace: 'w', name: 'q', labels: { a: '1' }, containers: [{ name: 'c' }] });
    await w.patchPodMetadata('w', 'q', { uid: fake.pod('w', 'q')?.uid ?? '', labels: { quarantine: 'scc-1' }, annotations: { 'scc/finding': 'f' } });
    assert.deepEqual(fake.pod('w', 'q')?.labels, { a: '1', quarantine: 'scc-1' });
    assert.deepEqual(fake.pod('w', 'q')?.annotations, { 'scc/finding': 'f' });
    fake.addNode({ name: 'node-c' });
    await w.cordonNode('node-c');
    assert.equal(fake.node('node-c')?.unschedulable, true);
    assert.deepEqual(fake.writes.filter((x) => x.path === '/api/v1/nodes/node-c').at(-1)?.body, { spec: { unschedulable: true } });
  });

  test('createNetworkPolicy: created, then exists', async () => {
    const body = { name: 'scc-quarantine-1', namespace: 'w', podSelector: { quarantine: 'scc-1' }, labels: { 'app.kubernetes.io/managed-by': 'scc-responder' } };
    assert.equal(await w.createNetworkPolicy(body), 'created');
    assert.equal(await w.createNetworkPolicy(body), 'exists');
    const np = fake.networkPolicies.get('w/scc-quarantine-1') as { spec: { podSelector: unknown; policyTypes: string[] } };
    assert.deepEqual(np.spec.podSelector, { matchLabels: { quarantine: 'scc-1' } });
    assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
  });
});

describe('failures are classified with the Status message', () => {
  const path = 'GET /api/v1/namespaces/ns/pods/web-5f-xyz12';
  const cases: [number, 'transient' | 'permanent'][] = [[403, 'permanent'], [404, 'permanent'], [409, 'permanent'], [429, 'transient'], [500, 'transient'], [503, 'transient']];
  for (const [status, kind] of cases) {
    test(`${status} -> ${kind}`, async () => {
      fake.faults.inject({ match: path, status, retryAfter: status === 429 ? 3 : undefined, message: `injected ${status} message` });
      await assert.rejects(w.readPod('ns', 'web-5f-xyz12'), (err: unknown) => {
        const c = classifyError(err);
        assert.equal(c.kind, kind);
        assert.equal(c.code, status);
        assert.match(c.reason, new RegExp(`readPod pods ns/web-5f-xyz12: HTTP ${status} \\w+: injected ${status} message`));
        if (status === 429) assert.equal((err as KubeApiError).retryAfterSeconds, 3);
        return true;
      });
    });
  }

  test('a dropped connection is transient', async () => {
    fake.faults.inject({ match: path, drop: true });
    await assert.rejects(w.readPod('ns', 'web-5f-xyz12'), (err: unknown) => {
      const c = classifyError(err);
      assert.equal(c.kind, 'transient', JSON.stringify(c));
      return true;
    });
  });

  test('a hang ends at the step timeout as a transient TIMEOUT, and the request is aborted', async () => {
    fake.faults.inject({ match: path, hang: true });
    const step = await runStep('enrich.pod', (signal) => w.readPod('ns', 'web-5f-xyz12', signal), { timeoutMs: 100 });
    assert.equal(step.status, 'failed');
    assert.equal(step.failure, 'transient');
    assert.equal(step.code, 'TIMEOUT');
    assert.equal((await w.readPod('ns', 'web-5f-xyz12')).uid, 'pod-1');
  });
});

describe('exec', () => {
  const base = { namespace: 'ns', pod: 'web-5f-xyz12', container: 'app', timeoutMs: 10_000 };

  test('cat of 1 MiB reaches the caller intact; the caller stdout is left open; status Success', async () => {
    const out = hashSink();
    const r = await w.exec({ ...base, command: ['cat', '--', '/bin/evil'], stdout: out });
    assert.deepEqual(r, { exitCode: 0, status: 'Success', stderr: '' });
    assert.equal(out.bytes, MiB);
    assert.equal(out.sha256(), sha256OfGenerated(MiB, 11));
    assert.equal(out.writableEnded, false, 'the adapter must not end the caller stdout');
  });

  test('missing file, unreadable file, missing tool', async () => {
    const missing = await w.exec({ ...base, command: ['cat', '--', '/nope'], stdout: hashSink() });
    assert.equal(missing.exitCode, 1);
    assert.equal(missing.status, 'Failure');
    assert.equal(missing.reason, 'NonZeroExitCode');
    assert.equal(missing.stderr, 'cat: /nope: No such file or directory\n');
    const denied = await w.exec({ ...base, command: ['cat', '/secret'], stdout: hashSink() });
    assert.equal(denied.stderr, 'cat: /secret: Permission denied\n');
    const noTool = await w.exec({ ...base, container: 'distroless', command: ['cat', '/bin/evil'], stdout: hashSink() });
    // containerd: InternalError with the runtime's error and no exit code.
    assert.equal(noTool.exitCode, null);
    assert.equal(noTool.status, 'Failure');
    assert.equal(noTool.reason, 'InternalError');
    assert.match(noTool.message ?? '', /^Internal error occurred: error executing command in container: .*executable file not found in \$PATH/);
    assert.equal(classifyExecResult(noTool, 'cat').outcome, 'tool-missing');
  });

  test('refused upgrades carry the HTTP status and the Status message', async () => {
    await assert.rejects(w.exec({ ...base, container: 'stopped', command: ['cat', '/x'], stdout: hashSink() }), (err: unknown) => {
      const c = classifyError(err);
      assert.ok(err instanceof KubeApiError && err.cause instanceof ExecUpgradeError);
      assert.equal(c.code, 400);
      assert.equal(c.kind, 'permanent');
      assert.match(c.reason, /container stopped is not running/);
      return true;
    });
    await assert.rejects(w.exec({ ...base, pod: 'gone', command: ['cat', '/x'], stdout: hashSink() }), (err: unknown) => classifyError(err).code === 404 && /pods "gone" not found/.test((err as Error).message));
    fake.faults.inject({ match: 'EXEC ns/web-5f-xyz12/app', status: 403 });
    await assert.rejects(w.exec({ ...base, command: ['cat', '/bin/evil'], stdout: hashSink() }), (err: unknown) => classifyError(err).code === 403 && classifyError(err).kind === 'permanent');
    fake.faults.inject({ match: 'EXEC ns/web-5f-xyz12/app', status: 503, retryAfter: 2 });
    await assert.rejects(w.exec({ ...base, command: ['cat', '/bin/evil'], stdout: hashSink() }), (err: unknown) => classifyError(err).kind === 'transient' && (err as KubeApiError).retryAfterSeconds === 2);
  });

  test('a stream dropped mid-way resolves with exitCode null and status Unknown, bytes delivered so far', async () => {
    fake.faults.inject({ match: 'EXEC ns/web-5f-xyz12/app', drop: true, dropAfterBytes: 300_000 });
    const out = hashSink();
    const r = await w.exec({ ...base, command: ['cat', '/bin/evil'], stdout: out });
    assert.equal(r.exitCode, null);
    assert.equal(r.status, 'Unknown');
    assert.equal(out.bytes, 300_000);
  });

  test('a hung exec times out (TimeoutError) and the socket is closed', async () => {
    fake.faults.inject({ match: 'EXEC ns/web-5f-xyz12/app', hang: true });
    await assert.rejects(w.exec({ ...base, timeoutMs: 150, command: ['cat', '/bin/evil'], stdout: hashSink() }), (err: unknown) => classifyError(err).code === 'TIMEOUT' && classifyError(err).kind === 'transient');
    const rec = fake.faults.calls.filter((c) => c.key === 'EXEC ns/web-5f-xyz12/app').at(-1);
    // Polled, not timed: the close is seen within seconds on a busy machine.
    for (let i = 0; i < 1000 && rec?.end === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    assert.notEqual(rec?.end, undefined, 'the fake saw the socket close');
  });

  test('an aborted signal ends the exec with the abort reason', async () => {
    const controller = new AbortController();
    fake.faults.inject({ match: 'EXEC ns/web-5f-xyz12/app', hang: true });
    const p = w.exec({ ...base, command: ['cat', '/bin/evil'], stdout: hashSink(), signal: controller.signal });
    setTimeout(() => controller.abort(new Error('finding deadline')), 30);
    await assert.rejects(p, /finding deadline/);
  });

  test('a stalled stdout pauses the socket (backpressure) and the copy completes once it drains', async () => {
    const size = 48 * MiB;
    fake.addPod({ namespace: 'bp', name: 'p', containers: [{ name: 'c', files: { '/big': { generated: { size, seed: 5 } } } }] });
    const h = createHash('sha256');
    let bytes = 0;
    let release: (() => void) | undefined;
    let stalled = false;
    const slow = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _e, cb) {
        h.update(chunk);
        bytes += chunk.length;
        if (!stalled && bytes >= 2 * MiB) {
          stalled = true;
          release = cb; // hold the callback: the target is "full" until the test releases it
          return;
        }
        cb();
      },
    });
    const p = w.exec({ namespace: 'bp', pod: 'p', container: 'c', command: ['cat', '/big'], stdout: slow, timeoutMs: 30_000 });
    for (let i = 0; i < 3000 && !stalled; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(stalled);
    await new Promise((r) => setTimeout(r, 300));
    const rec = fake.faults.calls.filter((c) => c.key === 'EXEC bp/p/c').at(-1);
    assert.equal(rec?.end, undefined, 'server still blocked: the adapter stopped reading');
    assert.ok(bytes < size);
    release?.();
    const r = await p;
    assert.equal(r.status, 'Success');
    assert.equal(bytes, size);
    assert.equal(h.digest('hex'), sha256OfGenerated(size, 5));
  });

  test('debug container: added, waited for, then reads the target through /proc/<pid>/root', async () => {
    await w.addDebugContainer({ namespace: 'ns', pod: 'web-5f-xyz12', name: 'scc-evidence-abc', image: 'busybox@sha256:0123', targetContainer: 'app', command: ['sleep', '600'], timeoutMs: 30_000 });
    const patch = fake.writes.find((x) => x.path.endsWith('/ephemeralcontainers'));
    assert.deepEqual((patch?.body as { spec: { ephemeralContainers: { targetContainerName: string }[] } }).spec.ephemeralContainers[0]?.targetContainerName, 'app');
    const out = new PassThrough();
    const h = createHash('sha256');
    out.on('data', (c: Buffer) => h.update(c));
    const r = await w.exec({ ...base, container: 'scc-evidence-abc', command: ['cat', '/proc/77/root/bin/evil'], stdout: out });
    assert.equal(r.status, 'Success');
    assert.equal(h.digest('hex'), sha256OfGenerated(MiB, 11));
  });

  test('debug container that never starts: bounded wait, timeout names the last state', async () => {
    fake.ephemeralStartFails = 'ImagePullBackOff';
    try {
      await assert.rejects(
        w.addDebugContainer({ namespace: 'ns', pod: 'web-5f-xyz12', name: 'scc-evidence-bad', image: 'nope@sha256:1', targetContainer: 'app', command: ['sleep', '600'], timeoutMs: 3000 }),
        (err: unknown) => classifyError(err).code === 'TIMEOUT' && /ImagePullBackOff/.test((err as Error).message),
      );
    } finally {
      delete fake.ephemeralStartFails;
    }
  });
});
