// Drives the fake Kubernetes API server with the real @kubernetes/client-node over HTTPS
// (self-signed CA, bearer token) and WebSocket exec: the fake must look like a real API
// server to the client library, or the tests built on it prove nothing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  Exec,
  KubeConfig,
  NetworkingV1Api,
  Observable,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type V1Status,
} from '@kubernetes/client-node';
import tar from 'tar-stream';
import { generatedBytes, sha256OfGenerated, startFakeKube, type FakeKube } from '../support/fake-kube.js';

let fake: FakeKube;
let kc: KubeConfig;
let core: CoreV1Api;

function kubeConfigFor(f: FakeKube, token = f.token): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'fake', server: f.url, caData: f.caData }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
    currentContext: 'fake',
  });
  return config;
}

/** The Status body of an ApiException (client-node keeps it as a JSON string). */
function statusOf(err: unknown): { code?: number; reason?: string; message?: string; details?: { retryAfterSeconds?: number } } {
  assert.ok(err instanceof ApiException, `expected ApiException, got ${String(err)}`);
  return typeof err.body === 'string' ? JSON.parse(err.body) : (err.body as Record<string, unknown>);
}

interface ExecOutcome {
  sha256: string;
  bytes: number;
  stdout: Buffer[];
  stderr: string;
  status?: V1Status;
  closedWithoutStatus: boolean;
}

/** Runs one exec with the real client and waits for the socket to close. */
async function runExec(ns: string, pod: string, container: string, argv: string[], opts: { keep?: boolean; config?: KubeConfig } = {}): Promise<ExecOutcome> {
  const hash = createHash('sha256');
  const out: ExecOutcome = { sha256: '', bytes: 0, stdout: [], stderr: '', closedWithoutStatus: false };
  const stdout = new Writable({
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      out.bytes += chunk.length;
      if (opts.keep) out.stdout.push(chunk);
      cb();
    },
  });
  const stderr = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.stderr += chunk.toString();
      cb();
    },
  });
  const exec = new Exec(opts.config ?? kc);
  const ws = await exec.exec(ns, pod, container, argv, stdout, stderr, null, false, (s) => {
    out.status = s;
  });
  await new Promise<void>((resolve) => ws.on('close', () => resolve()));
  out.closedWithoutStatus = out.status === undefined;
  out.sha256 = hash.digest('hex');
  return out;
}

async function untar(buf: Buffer): Promise<{ name: string; size: number; sha256: string }[]> {
  const extract = tar.extract();
  const entries: { name: string; size: number; sha256: string }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const h = createHash('sha256');
      stream.on('data', (c: unknown) => {
        h.update(c as Buffer);
      });
      stream.on('end', () => {
        entries.push({ name: header.name, size: header.size ?? 0, sha256: h.digest('hex') });
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(buf);
  await done;
  return entries;
}

const MiB = 1024 * 1024;

/** client-node rejects a refused exec upgrade with ws's ErrorEvent (not an Error): match its message. */
const upgradeRefused = (code: number) => (err: unknown): boolean => (err as { message?: string }).message === `Unexpected server response: ${code}`;

before(async () => {
  fake = await startFakeKube();
  kc = kubeConfigFor(fake);
  core = kc.makeApiClient(CoreV1Api);
  fake.addNode({ name: 'gke-node-1', labels: { 'cloud.google.com/gke-nodepool': 'pool-1' }, annotations: { 'container.googleapis.com/instance_id': '1234567890' } });
  fake.addObject('Deployment', { namespace: 'shop', name: 'web', replicas: 3, labels: { app: 'web' } });
  const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'deploy-uid', controller: true };
  fake.addObject('ReplicaSet', { namespace: 'shop', name: 'web-7d9f', uid: 'rs-uid', replicas: 3, ownerReferences: [deploy] });
  fake.addObject('StatefulSet', { namespace: 'shop', name: 'db', uid: 'sts-uid', replicas: 1 });
  fake.addObject('DaemonSet', { namespace: 'kube-system', name: 'agent', uid: 'ds-uid' });
  fake.addObject('CronJob', { namespace: 'shop', name: 'nightly', uid: 'cj-uid' });
  fake.addObject('Job', { namespace: 'shop', name: 'nightly-1', uid: 'job-uid', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'cj-uid', controller: true }] });
  fake.addPod({
    namespace: 'shop',
    name: 'web-7d9f-abcde',
    uid: 'pod-uid-1',
    nodeName: 'gke-node-1',
    labels: { app: 'web', tier: 'front' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'rs-uid', controller: true }],
    containers: [
      {
        name: 'app',
        image: 'us-docker.pkg.dev/p/r/web:1.0',
        pid: 4242,
        files: {
          '/usr/bin/evil': { generated: { size: MiB, seed: 7 } },
          '/etc/small': { content: Buffer.from('hello\n') },
          '/root/secret': { content: Buffer.from('x'), unreadable: true },
        },
      },
      { name: 'sidecar', tools: [] },
      { name: 'stopped', running: false },
    ],
  });
  fake.addEvent({ namespace: 'shop', involvedObject: { kind: 'Pod', name: 'web-7d9f-abcde' }, reason: 'Pulled', message: 'Successfully pulled image' });
  fake.addEvent({ namespace: 'shop', involvedObject: { kind: 'Pod', name: 'other' }, reason: 'Pulled', message: 'other pod' });
});
after(() => fake.close());

describe('REST with the real client-node', () => {
  test('reads a pod over HTTPS with the CA and token, in the shape client-node deserialises', async () => {
    const pod = await core.readNamespacedPod({ namespace: 'shop', name: 'web-7d9f-abcde' });
    assert.equal(pod.metadata?.uid, 'pod-uid-1');
    assert.equal(pod.spec?.nodeName, 'gke-node-1');
    assert.equal(pod.metadata?.ownerReferences?.[0]?.kind, 'ReplicaSet');
    assert.ok(pod.metadata?.creationTimestamp instanceof Date);
    const app = pod.status?.containerStatuses?.find((c) => c.name === 'app');
    assert.match(app?.containerID ?? '', /^containerd:\/\/[0-9a-f]{64}$/);
    assert.ok(app?.state?.running);
    assert.ok(pod.status?.containerStatuses?.find((c) => c.name === 'stopped')?.state?.terminated);
  });

  test('a wrong token gets 401 and an unknown pod a NotFound Status', async () => {
    const bad = kubeConfigFor(fake, 'wrong').makeApiClient(CoreV1Api);
    await assert.rejects(bad.readNamespacedPod({ namespace: 'shop', name: 'web-7d9f-abcde' }), (err: unknown) => (err as ApiException<string>).code === 401);
    await assert.rejects(core.readNamespacedPod({ namespace: 'shop', name: 'nope' }), (err: unknown) => {
      const s = statusOf(err);
      return (err as ApiException<string>).code === 404 && s.reason === 'NotFound' && s.message === 'pods "nope" not found';
    });
  });

  test('the kubeconfig YAML works with loadFromString', async () => {
    const fromYaml = new KubeConfig();
    fromYaml.loadFromString(fake.kubeconfigYaml());
    assert.equal(fromYaml.getCurrentContext(), 'fake');
    const node = await fromYaml.makeApiClient(CoreV1Api).readNode({ name: 'gke-node-1' });
    assert.equal(node.metadata?.annotations?.['container.googleapis.com/instance_id'], '1234567890');
  });

  test('a plain-HTTP fake (tls: false) works through its kubeconfig', async () => {
    const plain = await startFakeKube({ tls: false, token: 't0k' });
    try {
      plain.addNode({ name: 'n' });
      const c = new KubeConfig();
      c.loadFromString(plain.kubeconfigYaml());
      const node = await c.makeApiClient(CoreV1Api).readNode({ name: 'n' });
      assert.equal(node.metadata?.name, 'n');
      assert.match(plain.url, /^http:\/\//);
    } finally {
      await plain.close();
    }
  });

  test('lists pods by label selector and events by involvedObject.name', async () => {
    const list = await core.listNamespacedPod({ namespace: 'shop', labelSelector: 'app=web,tier=front' });
    assert.deepEqual(list.items.map((p) => p.metadata?.name), ['web-7d9f-abcde']);
    assert.equal((await core.listNamespacedPod({ namespace: 'shop', labelSelector: 'app=nope' })).items.length, 0);
    const events = await core.listNamespacedEvent({ namespace: 'shop', fieldSelector: 'involvedObject.name=web-7d9f-abcde' });
    assert.deepEqual(events.items.map((e) => e.reason), ['Pulled']);
    assert.equal(fake.requests.at(-1)?.query, 'fieldSelector=involvedObject.name%3Dweb-7d9f-abcde');
  });

  test('reads every owner kind through AppsV1Api and BatchV1Api', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const batch = kc.makeApiClient(BatchV1Api);
    const rs = await apps.readNamespacedReplicaSet({ namespace: 'shop', name: 'web-7d9f' });
    assert.equal(rs.metadata?.ownerReferences?.[0]?.kind, 'Deployment');
    assert.equal((await apps.readNamespacedDeployment({ namespace: 'shop', name: 'web' })).spec?.replicas, 3);
    assert.equal((await apps.readNamespacedStatefulSet({ namespace: 'shop', name: 'db' })).metadata?.uid, 'sts-uid');
    assert.equal((await apps.readNamespacedDaemonSet({ namespace: 'kube-system', name: 'agent' })).kind, 'DaemonSet');
    assert.equal((await batch.readNamespacedJob({ namespace: 'shop', name: 'nightly-1' })).metadata?.ownerReferences?.[0]?.kind, 'CronJob');
    assert.equal((await batch.readNamespacedCronJob({ namespace: 'shop', name: 'nightly' })).metadata?.uid, 'cj-uid');
    await assert.rejects(apps.readNamespacedReplicaSet({ namespace: 'shop', name: 'gone' }), (err: unknown) => statusOf(err).message === 'replicasets.apps "gone" not found');
  });

  test('patches pod labels with merge, strategic-merge and the default json-patch', async () => {
    fake.addPod({ namespace: 'patch', name: 'p', labels: { keep: '1', drop: '1' }, containers: [{ name: 'c' }] });
    await core.patchNamespacedPod({ namespace: 'patch', name: 'p', body: { metadata: { labels: { a: 'merge', drop: null } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await core.patchNamespacedPod({ namespace: 'patch', name: 'p', body: { metadata: { annotations: { b: 'smp' } } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
    const after = await core.patchNamespacedPod({ namespace: 'patch', name: 'p', body: [{ op: 'add', path: '/metadata/labels/quarantine~1x', value: 'yes' }] });
    assert.deepEqual(after.metadata?.labels, { keep: '1', a: 'merge', 'quarantine/x': 'yes' });
    assert.deepEqual(after.metadata?.annotations, { b: 'smp' });
    const patches = fake.writes.filter((w) => w.path === '/api/v1/namespaces/patch/pods/p');
    assert.equal(patches.length, 3);
    assert.deepEqual(patches[0]?.body, { metadata: { labels: { a: 'merge', drop: null } } });
    assert.equal(patches[0]?.status, 200);
  });

  test('cordons a node with a merge patch', async () => {
    fake.addNode({ name: 'n2' });
    const node = await core.patchNode({ name: 'n2', body: { spec: { unschedulable: true } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    assert.equal(node.spec?.unschedulable, true);
    assert.equal(fake.node('n2')?.unschedulable, true);
  });

  test('creates a NetworkPolicy once, then answers AlreadyExists', async () => {
    const net = kc.makeApiClient(NetworkingV1Api);
    const body = { metadata: { name: 'deny', namespace: 'shop' }, spec: { podSelector: { matchLabels: { q: '1' } }, policyTypes: ['Ingress', 'Egress'] } };
    const created = await net.createNamespacedNetworkPolicy({ namespace: 'shop', body });
    assert.ok(created.metadata?.uid);
    await assert.rejects(net.createNamespacedNetworkPolicy({ namespace: 'shop', body }), (err: unknown) => {
      const s = statusOf(err);
      return (err as ApiException<string>).code === 409 && s.reason === 'AlreadyExists';
    });
    assert.ok(fake.networkPolicies.has('shop/deny'));
  });
});

describe('DELETE with preconditions, and controllers', () => {
  test('a UID mismatch is a 409 Conflict and leaves the pod', async () => {
    fake.addPod({ namespace: 'del', name: 'x', uid: 'real', containers: [{ name: 'c' }] });
    await assert.rejects(core.deleteNamespacedPod({ namespace: 'del', name: 'x', body: { preconditions: { uid: 'other' } } }), (err: unknown) => {
      const s = statusOf(err);
      return (err as ApiException<string>).code === 409 && s.reason === 'Conflict' && /Precondition failed: UID in precondition: other/.test(s.message ?? '');
    });
    assert.ok(fake.pod('del', 'x'));
    assert.equal(fake.writes.at(-1)?.status, 409);
  });

  test('a ReplicaSet pod deleted with grace 0 is replaced under a new name and uid', async () => {
    fake.replaceAfterMs = 5;
    const owner = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'api-55', uid: 'rs2', controller: true }];
    fake.addPod({ namespace: 'ctl', name: 'api-55-aaaaa', uid: 'u1', labels: { app: 'api' }, ownerReferences: owner, containers: [{ name: 'c' }] });
    await core.deleteNamespacedPod({ namespace: 'ctl', name: 'api-55-aaaaa', gracePeriodSeconds: 0, body: { preconditions: { uid: 'u1' } } });
    assert.equal(fake.pod('ctl', 'api-55-aaaaa'), undefined);
    assert.match(fake.writes.at(-1)?.query ?? '', /gracePeriodSeconds=0/);
    let replacement;
    for (let i = 0; i < 200 && !replacement; i++) {
      replacement = (await core.listNamespacedPod({ namespace: 'ctl', labelSelector: 'app=api' })).items[0];
      if (!replacement) await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(replacement);
    assert.notEqual(replacement.metadata?.name, 'api-55-aaaaa');
    assert.match(replacement.metadata?.name ?? '', /^api-55-[0-9a-f]{5}$/);
    assert.notEqual(replacement.metadata?.uid, 'u1');
    // A second delete of the old name is a 404 (already gone).
    await assert.rejects(core.deleteNamespacedPod({ namespace: 'ctl', name: 'api-55-aaaaa', body: { preconditions: { uid: 'u1' } } }), (err: unknown) => (err as ApiException<string>).code === 404);
  });

  test('a StatefulSet pod is terminating for its grace period, then comes back with the same name and a new uid', async () => {
    fake.replaceAfterMs = 5;
    fake.graceMsPerSecond = 2;
    const owner = [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'sts-uid', controller: true }];
    fake.addPod({ namespace: 'ctl', name: 'db-0', uid: 'old', ownerReferences: owner, containers: [{ name: 'c' }] });
    const deleted = await core.deleteNamespacedPod({ namespace: 'ctl', name: 'db-0', gracePeriodSeconds: 5, body: { preconditions: { uid: 'old' } } });
    assert.ok(deleted.metadata?.deletionTimestamp);
    assert.equal(deleted.metadata?.deletionGracePeriodSeconds, 5);
    let uid: string | undefined = 'old';
    for (let i = 0; i < 400 && (uid === 'old' || uid === undefined); i++) {
      await new Promise((r) => setTimeout(r, 5));
      uid = fake.pod('ctl', 'db-0')?.uid;
    }
    assert.ok(uid && uid !== 'old', 'replacement with a new uid');
  });

  test('dryRun=All validates but deletes nothing', async () => {
    fake.addPod({ namespace: 'dry', name: 'p', uid: 'u', containers: [{ name: 'c' }] });
    await core.deleteNamespacedPod({ namespace: 'dry', name: 'p', dryRun: 'All', body: { preconditions: { uid: 'u' } } });
    assert.ok(fake.pod('dry', 'p'));
  });
});

describe('fault injection on REST routes', () => {
  const path = '/api/v1/namespaces/shop/pods/web-7d9f-abcde';
  for (const status of [403, 404, 409, 500, 503]) {
    test(`an injected ${status} reaches client-node as ApiException ${status} with a Status body`, async () => {
      fake.faults.inject({ match: `GET ${path}`, status });
      await assert.rejects(core.readNamespacedPod({ namespace: 'shop', name: 'web-7d9f-abcde' }), (err: unknown) => {
        const s = statusOf(err);
        return (err as ApiException<string>).code === status && s.code === status && typeof s.message === 'string';
      });
      // Only the next call was affected.
      assert.equal((await core.readNamespacedPod({ namespace: 'shop', name: 'web-7d9f-abcde' })).metadata?.uid, 'pod-uid-1');
    });
  }

  test('429 carries Retry-After', async () => {
    fake.faults.inject({ match: `GET ${path}`, status: 429, retryAfter: 7 });
    await assert.rejects(core.readNamespacedPod({ namespace: 'shop', name: 'web-7d9f-abcde' }), (err: unknown) => {
      const e = err as ApiException<string>;
      return e.code === 429 && e.headers['retry-after'] === '7' && statusOf(err).reason === 'TooManyRequests';
    });
  });

  test('delay is recorded, hang never answers until aborted, drop cuts the body', async () => {
    fake.faults.inject({ match: `GET ${path}`, delayMs: 30 });
    await core.readNamespacedPod({ namespace: 'shop', name: 'web-7d9f-abcde' });
    const rec = fake.faults.calls.filter((c) => c.key === `GET ${path}`).at(-1);
    assert.equal(rec?.fault?.delayMs, 30);
    assert.ok(rec?.end !== undefined && rec.end - rec.start >= 25, JSON.stringify(rec));

    fake.faults.inject({ match: `GET ${path}`, drop: true });
    await assert.rejects(core.readNamespacedPod({ namespace: 'shop', name: 'web-7d9f-abcde' }));

    // Abort once the server holds the hung call (not on a timer: under load a timer could fire
    // before the request was even sent, leaving it to arrive later and occupy the connection).
    fake.faults.inject({ match: `GET ${path}`, hang: true });
    const controller = new AbortController();
    const hung = core.readNamespacedPod(
      { namespace: 'shop', name: 'web-7d9f-abcde' },
      { middleware: [{ pre: (ctx) => (ctx.setSignal(controller.signal), new Observable(Promise.resolve(ctx))), post: (r) => new Observable(Promise.resolve(r)) }], middlewareMergeStrategy: 'append' },
    );
    for (let i = 0; i < 2000 && !fake.faults.calls.some((c) => c.fault?.hang === true); i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(fake.faults.calls.some((c) => c.fault?.hang === true), 'the hung call reached the server');
    controller.abort();
    await assert.rejects(hung, (err: unknown) => (err as Error).name === 'AbortError');
  });
});

describe('exec over WebSocket with the real client-node Exec', () => {
  test('cat of a 1 MiB generated file arrives intact (hash check), status Success, v5 negotiated', async () => {
    const r = await runExec('shop', 'web-7d9f-abcde', 'app', ['cat', '--', '/usr/bin/evil']);
    assert.equal(r.bytes, MiB);
    assert.equal(r.sha256, sha256OfGenerated(MiB, 7));
    assert.equal(r.status?.status, 'Success');
    assert.equal(r.stderr, '');
    assert.equal(fake.execProtocols.at(-1), 'v5.channel.k8s.io');
    assert.match(fake.requests.at(-1)?.query ?? '', /command=cat&command=--&command=%2Fusr%2Fbin%2Fevil/);
  });

  test('generatedBytes is offset-addressable and the hash helper honours a prefix', () => {
    const whole = generatedBytes(7, 0, 100);
    assert.deepEqual(generatedBytes(7, 13, 50), whole.subarray(13, 63));
    assert.equal(sha256OfGenerated(MiB, 7, 100), createHash('sha256').update(whole).digest('hex'));
  });

  test('the server prefers v4 when told to, and output is the same', async () => {
    fake.execProtocol = 'v4.channel.k8s.io';
    try {
      const r = await runExec('shop', 'web-7d9f-abcde', 'app', ['cat', '/etc/small'], { keep: true });
      assert.equal(Buffer.concat(r.stdout).toString(), 'hello\n');
      assert.equal(fake.execProtocols.at(-1), 'v4.channel.k8s.io');
      assert.equal(r.status?.status, 'Success');
    } finally {
      fake.execProtocol = 'v5.channel.k8s.io';
    }
  });

  test('missing and unreadable files fail with cat messages and exit 1', async () => {
    const missing = await runExec('shop', 'web-7d9f-abcde', 'app', ['cat', '--', '/nope']);
    assert.equal(missing.stderr, 'cat: /nope: No such file or directory\n');
    assert.equal(missing.status?.status, 'Failure');
    assert.equal(missing.status?.reason, 'NonZeroExitCode');
    assert.equal(missing.status?.details?.causes?.[0]?.message, '1');
    const denied = await runExec('shop', 'web-7d9f-abcde', 'app', ['cat', '/root/secret']);
    assert.equal(denied.stderr, 'cat: /root/secret: Permission denied\n');
    assert.equal(denied.status?.details?.causes?.[0]?.message, '1');
  });

  test('tar streams a ustar archive named like GNU tar, with its stderr notice', async () => {
    const r = await runExec('shop', 'web-7d9f-abcde', 'app', ['tar', 'cf', '-', '/usr/bin/evil'], { keep: true });
    assert.equal(r.status?.status, 'Success');
    assert.equal(r.stderr, "tar: Removing leading `/' from member names\n");
    const entries = await untar(Buffer.concat(r.stdout));
    assert.deepEqual(entries, [{ name: 'usr/bin/evil', size: MiB, sha256: sha256OfGenerated(MiB, 7) }]);

    const c = await runExec('shop', 'web-7d9f-abcde', 'app', ['tar', 'cf', '-', '-C', '/usr/bin', 'evil'], { keep: true });
    assert.equal(c.stderr, '');
    assert.deepEqual((await untar(Buffer.concat(c.stdout))).map((e) => e.name), ['evil']);

    const missing = await runExec('shop', 'web-7d9f-abcde', 'app', ['tar', 'cf', '-', '/nope']);
    assert.match(missing.stderr, /tar: \/nope: Cannot stat: No such file or directory/);
    assert.equal(missing.status?.details?.causes?.[0]?.message, '2');
  });

  test('a tool missing from the image fails like containerd: InternalError, no exit code', async () => {
    const r = await runExec('shop', 'web-7d9f-abcde', 'sidecar', ['cat', '/etc/small']);
    assert.equal(r.status?.status, 'Failure');
    assert.equal(r.status?.reason, 'InternalError');
    assert.equal(r.status?.code, 500);
    assert.match(
      r.status?.message ?? '',
      /^Internal error occurred: error executing command in container: failed to exec in container: failed to start exec "[0-9a-f]{64}": OCI runtime exec failed: exec failed: unable to start container process: exec: "cat": executable file not found in \$PATH: unknown$/,
    );
    assert.equal(r.status?.details?.causes?.some((c) => c.reason === 'ExitCode'), false, 'containerd reports no exit code');
    assert.equal(r.stderr, '');
  });

  test('the dockershim variant (before Kubernetes 1.24): exit code 126', async () => {
    fake.execNotFound = 'dockershim';
    try {
      const r = await runExec('shop', 'web-7d9f-abcde', 'sidecar', ['cat', '/etc/small']);
      assert.equal(r.status?.message, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "cat": executable file not found in $PATH: unknown');
      assert.deepEqual(r.status?.details?.causes, [{ reason: 'ExitCode', message: '126' }]);
    } finally {
      fake.execNotFound = 'containerd';
    }
  });

  test('a stopped container refuses the upgrade with 400, a missing pod with 404', async () => {
    await assert.rejects(runExec('shop', 'web-7d9f-abcde', 'stopped', ['cat', '/x']), upgradeRefused(400));
    await assert.rejects(runExec('shop', 'gone', 'app', ['cat', '/x']), upgradeRefused(404));
  });

  test('exec faults: status refuses the upgrade, drop closes without status, hang stays silent', async () => {
    const key = 'EXEC shop/web-7d9f-abcde/app';
    fake.faults.inject({ match: key, status: 403 });
    await assert.rejects(runExec('shop', 'web-7d9f-abcde', 'app', ['cat', '/usr/bin/evil']), upgradeRefused(403));

    fake.faults.inject({ match: key, drop: true, dropAfterBytes: 100_000 });
    const dropped = await runExec('shop', 'web-7d9f-abcde', 'app', ['cat', '/usr/bin/evil']);
    assert.equal(dropped.bytes, 100_000);
    assert.equal(dropped.closedWithoutStatus, true);

    fake.faults.inject({ match: key, hang: true });
    const exec = new Exec(kc);
    let gotData = false;
    let gotStatus = false;
    const ws = await exec.exec('shop', 'web-7d9f-abcde', 'app', ['cat', '/usr/bin/evil'], new PassThrough().on('data', () => (gotData = true)), null, null, false, () => (gotStatus = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(gotData || gotStatus, false);
    const closed = new Promise<void>((r) => ws.on('close', () => r()));
    ws.close();
    await closed;
  });

  test('a paused reader stalls the stream (backpressure), and resuming completes it', async () => {
    const size = 64 * MiB;
    fake.addPod({ namespace: 'bp', name: 'p', containers: [{ name: 'c', files: { '/big': { generated: { size, seed: 3 } } } }] });
    const hash = createHash('sha256');
    let bytes = 0;
    let status: V1Status | undefined;
    const exec = new Exec(kc);
    const ref: { ws?: { pause(): void; resume(): void } } = {};
    let paused = false;
    const stdout = new Writable({
      write(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        bytes += chunk.length;
        if (!paused && bytes >= MiB && ref.ws) {
          paused = true;
          ref.ws.pause();
        }
        cb();
      },
    });
    const ws = await exec.exec('bp', 'p', 'c', ['cat', '/big'], stdout, null, null, false, (s) => (status = s));
    ref.ws = ws as unknown as { pause(): void; resume(): void };
    const closed = new Promise<void>((r) => ws.on('close', () => r()));
    for (let i = 0; i < 3000 && !paused; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(paused);
    await new Promise((r) => setTimeout(r, 200));
    const rec = fake.faults.calls.filter((c) => c.key === 'EXEC bp/p/c').at(-1);
    assert.equal(rec?.end, undefined, 'the server must still be waiting for the paused reader');
    assert.ok(bytes < size);
    ref.ws.resume();
    await closed;
    assert.equal(bytes, size);
    assert.equal(hash.digest('hex'), sha256OfGenerated(size, 3));
    assert.equal(status?.status, 'Success');
  });

  test('an ephemeral debug container sees the target under /proc/<pid>/root once running', async () => {
    // Started by the next read of the pod ('next-read'), not after a delay: no timer races the test.
    const before = await core.patchNamespacedPodEphemeralcontainers(
      {
        namespace: 'shop',
        name: 'web-7d9f-abcde',
        body: { spec: { ephemeralContainers: [{ name: 'scc-evidence-1', image: 'busybox@sha256:abc', command: ['sleep', '600'], targetContainerName: 'app' }] } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    assert.equal(before.status?.ephemeralContainerStatuses?.[0]?.state?.waiting?.reason, 'ContainerCreating');
    // Not started until the pod is read again ('next-read'): no timer decides this.
    await assert.rejects(runExec('shop', 'web-7d9f-abcde', 'scc-evidence-1', ['cat', '/proc/4242/root/usr/bin/evil']), upgradeRefused(400));
    const pod = await core.readNamespacedPod({ namespace: 'shop', name: 'web-7d9f-abcde' });
    assert.ok(pod.status?.ephemeralContainerStatuses?.find((s) => s.name === 'scc-evidence-1')?.state?.running, 'running once the pod is read');
    const r = await runExec('shop', 'web-7d9f-abcde', 'scc-evidence-1', ['cat', '/proc/4242/root/usr/bin/evil']);
    assert.equal(r.sha256, sha256OfGenerated(MiB, 7));
    const wrongPid = await runExec('shop', 'web-7d9f-abcde', 'scc-evidence-1', ['cat', '/proc/1/root/usr/bin/evil']);
    assert.equal(wrongPid.status?.status, 'Failure');
    const w = fake.writes.find((x) => x.path.endsWith('/ephemeralcontainers'));
    assert.equal(w?.method, 'PATCH');
  });

  test("'manual' start: reads see the container waiting until startEphemeral()", async () => {
    fake.ephemeralStart = 'manual';
    try {
      await core.patchNamespacedPodEphemeralcontainers(
        { namespace: 'shop', name: 'web-7d9f-abcde', body: { spec: { ephemeralContainers: [{ name: 'scc-evidence-2', image: 'busybox@sha256:abc', command: ['sleep', '600'], targetContainerName: 'app' }] } } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      const state = async (): Promise<string> => {
        const p = await core.readNamespacedPod({ namespace: 'shop', name: 'web-7d9f-abcde' });
        const st = p.status?.ephemeralContainerStatuses?.find((s) => s.name === 'scc-evidence-2')?.state;
        return st?.running ? 'running' : (st?.waiting?.reason ?? '?');
      };
      assert.equal(await state(), 'ContainerCreating');
      assert.equal(await state(), 'ContainerCreating');
      fake.startEphemeral('shop', 'web-7d9f-abcde', 'scc-evidence-2');
      assert.equal(await state(), 'running');
      const r = await runExec('shop', 'web-7d9f-abcde', 'scc-evidence-2', ['cat', '/proc/4242/root/usr/bin/evil']);
      assert.equal(r.sha256, sha256OfGenerated(MiB, 7));
    } finally {
      fake.ephemeralStart = 'next-read';
    }
  });
});

describe("watch of pods, read with client-node's own Watch", () => {
  // client-node's Watch class (not our adapter's pod-watch.ts) reads the stream: the fake's
  // wire format must be what a second, independent client of the real API server expects.
  interface Seen {
    events: { type: string; object: { metadata?: { name?: string }; status?: { ephemeralContainerStatuses?: { name: string; state?: { running?: unknown; waiting?: { reason?: string } } }[] }; code?: number; reason?: string; message?: string } }[];
    done: Promise<unknown>;
    abort: () => void;
  }
  async function watchPods(f: FakeKube, query: Record<string, string>, stopWhen: (s: Seen['events']) => boolean = () => false): Promise<Seen> {
    const events: Seen['events'] = [];
    let finish: (e: unknown) => void = () => undefined;
    const done = new Promise<unknown>((r) => (finish = r));
    // Events may arrive before watch() resolves with the controller: abort as soon as it is known.
    const held: { controller?: AbortController; stop?: boolean } = {};
    held.controller = await new Watch(kubeConfigFor(f)).watch(
      '/api/v1/namespaces/shop/pods',
      query,
      (type, object: Seen['events'][number]['object']) => {
        events.push({ type, object });
        if (stopWhen(events)) {
          held.stop = true;
          held.controller?.abort();
        }
      },
      (err: unknown) => finish(err ?? null),
    );
    if (held.stop) held.controller.abort();
    return { events, done, abort: () => held.controller?.abort() };
  }
  /** The server noticed the end of every watch (it may learn of a client's close a moment later). */
  async function noOpenWatch(fk: FakeKube): Promise<void> {
    for (let i = 0; i < 1000 && fk.openWatches() > 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(fk.openWatches(), 0);
  }
  const ephemeral = (o: Seen['events'][number]['object'], name: string): string => {
    const st = o.status?.ephemeralContainerStatuses?.find((s) => s.name === name)?.state;
    return st?.running ? 'running' : (st?.waiting?.reason ?? 'none');
  };
  let f: FakeKube;
  let fcore: CoreV1Api;
  before(async () => {
    f = await startFakeKube();
    fcore = kubeConfigFor(f).makeApiClient(CoreV1Api);
    for (const name of ['a', 'b']) f.addPod({ namespace: 'shop', name, containers: [{ name: 'app', image: 'busybox' }] });
  });
  after(async () => {
    await f.close();
  });

  test('from a version: only later changes of the selected pod, as MODIFIED lines; an added ephemeral container goes waiting then running', async () => {
    const rv = (await fcore.readNamespacedPod({ namespace: 'shop', name: 'a' })).metadata?.resourceVersion ?? '';
    await fcore.patchNamespacedPod({ namespace: 'shop', name: 'b', body: { metadata: { labels: { other: 'pod' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const seen = await watchPods(f, { fieldSelector: 'metadata.name=a', resourceVersion: rv, timeoutSeconds: '30' }, (e) => e.some((x) => ephemeral(x.object, 'dbg-1') === 'running'));
    await fcore.patchNamespacedPodEphemeralcontainers(
      { namespace: 'shop', name: 'a', body: { spec: { ephemeralContainers: [{ name: 'dbg-1', image: 'busybox@sha256:abc', command: ['sleep', '600'], targetContainerName: 'app' }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    await seen.done;
    assert.deepEqual(seen.events.map((e) => `${e.type} ${e.object.metadata?.name ?? ''} ${ephemeral(e.object, 'dbg-1')}`), ['MODIFIED a ContainerCreating', 'MODIFIED a running']);
    await noOpenWatch(f);
  });

  test('without a version: the current state first, as ADDED', async () => {
    const seen = await watchPods(f, { fieldSelector: 'metadata.name=b', timeoutSeconds: '30' }, (e) => e.length > 0);
    await seen.done;
    assert.deepEqual(seen.events.map((e) => `${e.type} ${e.object.metadata?.name ?? ''}`), ['ADDED b']);
  });

  test('a version older than the kept history: 200, one ERROR event with a 410 Expired Status, then the end', async () => {
    const rv = (await fcore.readNamespacedPod({ namespace: 'shop', name: 'a' })).metadata?.resourceVersion ?? '';
    await fcore.patchNamespacedPod({ namespace: 'shop', name: 'a', body: { metadata: { labels: { bump: '1' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    f.compactWatchHistory();
    const seen = await watchPods(f, { fieldSelector: 'metadata.name=a', resourceVersion: rv, timeoutSeconds: '30' });
    assert.equal(await seen.done, null, 'the stream ends normally');
    assert.equal(seen.events.length, 1);
    assert.equal(seen.events[0]?.type, 'ERROR');
    assert.equal(seen.events[0]?.object.code, 410);
    assert.equal(seen.events[0]?.object.reason, 'Expired');
    assert.match(seen.events[0]?.object.message ?? '', /^too old resource version: \d+ \(\d+\)$/);
  });

  test('timeoutSeconds ends the stream; a refused watch (fault) is an HTTP error', async () => {
    const seen = await watchPods(f, { fieldSelector: 'metadata.name=a', timeoutSeconds: '1' });
    assert.equal(await seen.done, null);
    await noOpenWatch(f);
    f.faults.inject({ match: 'WATCH /api/v1/namespaces/shop/pods', status: 403 });
    const refused = await watchPods(f, { fieldSelector: 'metadata.name=a' });
    assert.equal((await refused.done as { statusCode?: number }).statusCode, 403);
  });

  test('a stalled watch (fault): answered 200, then silent while an ordinary watch beside it gets the change; open until the client closes it', async () => {
    f.faults.inject({ match: 'WATCH /api/v1/namespaces/shop/pods', stall: true });
    const stalled = await watchPods(f, { fieldSelector: 'metadata.name=a', timeoutSeconds: '30' });
    assert.ok(f.faults.calls.some((c) => c.key === 'WATCH /api/v1/namespaces/shop/pods' && c.fault?.stall === true), 'the fault was taken');
    const rv = (await fcore.readNamespacedPod({ namespace: 'shop', name: 'a' })).metadata?.resourceVersion ?? '';
    const ordinary = await watchPods(f, { fieldSelector: 'metadata.name=a', resourceVersion: rv, timeoutSeconds: '30' }, (e) => e.length > 0);
    await fcore.patchNamespacedPod({ namespace: 'shop', name: 'a', body: { metadata: { labels: { stall: 'check' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await ordinary.done;
    assert.deepEqual(ordinary.events.map((e) => e.type), ['MODIFIED'], 'the change was streamed to the ordinary watch');
    assert.deepEqual(stalled.events, [], 'nothing on the stalled one');
    // The ordinary one was aborted: the server may learn of it a moment later.
    for (let i = 0; i < 1000 && f.openWatches() > 1; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(f.openWatches(), 1, 'the stalled watch is held open');
    stalled.abort();
    await stalled.done;
    await noOpenWatch(f);
  });
});
