// The real kubectl (the Go client: client-go discovery, REST, WebSocket exec, watch) against
// our fake API server, next to @kubernetes/client-node against the same fake. The fake was
// written alongside the client-node code; kubectl was not, so every difference between what
// the two clients see is a bug in the fake (and a way our tests could pass here and fail on a
// real cluster).
//
// kubectl runs with a temporary kubeconfig (server https://127.0.0.1:PORT, the fake's CA,
// a bearer token) and HOME/KUBECACHEDIR in a temporary directory, with no proxy variables:
// it can reach nothing but the fake on loopback. It must be on the machine (it is part of the
// image): without it every test here fails, saying so.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import selfsigned from 'selfsigned';
import { CoreV1Api, dumpYaml, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { workloadsFromKubeConfig } from '../../shared/kube/client-node-workloads.js';
import { generatedBytes, startFakeKube, type FakeKube, type FakePodSpec } from '../support/fake-kube.js';

const NS = 'shop';
const NODE = 'gke-prod-pool-1-abcd';
/** Every byte value, then again reversed and a generated tail: binary content, byte-exact or nothing. */
const BINARY = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i)), generatedBytes(99, 0, 3 * 65536 + 17)]);
const WHOLE_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

let fake: FakeKube;
let dir: string;
let kubectlBin: string;
let kc: KubeConfig;
let core: CoreV1Api;

/** kubectl from PATH (the image installs it as /usr/bin/kubectl). */
function findKubectl(): string {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean);
  for (const d of [...dirs, '/usr/bin', '/usr/local/bin']) {
    const p = join(d, 'kubectl');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  assert.fail('kubectl is not installed (not on PATH, not in /usr/bin): the kubectl peer suite needs the real kubectl, which the development and CI image provides; install it rather than skipping this suite');
}

interface KubectlResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs kubectl asynchronously (the fake lives in this process: a blocking spawn would starve it). */
function kubectl(args: string[], kubeconfig = join(dir, 'kubeconfig')): Promise<KubectlResult> {
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir, KUBECONFIG: kubeconfig, KUBECACHEDIR: join(dir, 'cache'), NO_PROXY: '127.0.0.1', no_proxy: '127.0.0.1' };
  return new Promise((resolve) => {
    execFile(kubectlBin, ['--request-timeout=60s', ...args], { env, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr: stderr.toString('utf8') });
    });
  });
}

async function kubectlOk(args: string[]): Promise<Buffer> {
  const r = await kubectl(args);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

function addDeploymentPod(name: string, extra: Partial<FakePodSpec> = {}): FakePodSpec {
  const pod: FakePodSpec = {
    namespace: NS,
    name,
    nodeName: NODE,
    creationTimestamp: new Date(Date.now() - 3_600_000 + 437).toISOString(),
    labels: { app: 'web', 'pod-template-hash': '7d9f8b6c5d' },
    annotations: { 'kubectl.kubernetes.io/default-container': 'app' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f8b6c5d', uid: 'rs-web', controller: true }],
    containers: [
      { name: 'app', image: 'us-docker.pkg.dev/acme/apps/web:1.4.2', files: { '/usr/bin/evil': { content: BINARY }, '/etc/motd': { content: Buffer.from('hello\n') } } },
      { name: 'distroless', image: 'gcr.io/distroless/static@sha256:0123', tools: [], files: { '/app': { content: Buffer.from('x') } } },
    ],
    ...extra,
  };
  fake.addPod(pod);
  return pod;
}

/** JSON with every RFC 3339 time replaced by its instant, so a Date round trip compares equal. */
function instants(v: unknown): unknown {
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v)) return `@${Date.parse(v)}`;
  if (Array.isArray(v)) return v.map(instants);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, instants(x)]));
  return v;
}

/** What client-node read, back in wire form (its own serializer, through YAML). */
const wire = (pod: V1Pod): unknown => instants(parseYaml(dumpYaml({ apiVersion: 'v1', kind: 'Pod', ...pod })));

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

before(async () => {
  kubectlBin = findKubectl();
  fake = await startFakeKube();
  dir = mkdtempSync(join(tmpdir(), 'kubectl-peer-'));
  const yaml = fake.kubeconfigYaml();
  assert.match(yaml, /server: https:\/\/127\.0\.0\.1:\d+\n/, 'kubectl is pointed at loopback only');
  writeFileSync(join(dir, 'kubeconfig'), yaml);
  kc = new KubeConfig();
  kc.loadFromString(yaml);
  core = kc.makeApiClient(CoreV1Api);
});

after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('kubectl against the fake API server', () => {
  test('kubectl get pod -o json sees what client-node reads, as an API server serves it', async () => {
    addDeploymentPod('web-get');
    const fromKubectl = JSON.parse((await kubectlOk(['get', 'pod', '-n', NS, 'web-get', '-o', 'json'])).toString('utf8')) as Record<string, unknown>;
    const fromClientNode = await core.readNamespacedPod({ namespace: NS, name: 'web-get' });
    assert.deepEqual(instants(fromKubectl), wire(fromClientNode));

    // The served shape: whole-second times, and the fields defaulting adds.
    const meta = fromKubectl['metadata'] as Record<string, unknown>;
    assert.match(String(meta['creationTimestamp']), WHOLE_SECONDS);
    assert.equal(fromClientNode.metadata?.creationTimestamp?.getTime(), Date.parse(String(meta['creationTimestamp'])));
    assert.equal(fromClientNode.metadata?.creationTimestamp?.getUTCMilliseconds(), 0);
    const spec = fromKubectl['spec'] as Record<string, unknown>;
    assert.deepEqual(spec['securityContext'], {});
    assert.equal(spec['dnsPolicy'], 'ClusterFirst');
    assert.equal(spec['restartPolicy'], 'Always');
    assert.equal(spec['schedulerName'], 'default-scheduler');
    assert.equal(spec['terminationGracePeriodSeconds'], 30);
    assert.equal(spec['enableServiceLinks'], true);
    const status = fromKubectl['status'] as { containerStatuses: { state: { running?: { startedAt: string } } }[]; startTime: string; qosClass: string };
    assert.match(status.startTime, WHOLE_SECONDS);
    assert.match(status.containerStatuses[0]?.state.running?.startedAt ?? '', WHOLE_SECONDS);
    assert.equal(status.qosClass, 'BestEffort');

    // Discovery resolved `pod` the way a real cluster's does (legacy discovery, no OpenAPI needed).
    const paths = fake.requests.map((r) => r.path);
    for (const p of ['/api', '/apis', '/api/v1']) assert.ok(paths.includes(p), `kubectl asked for ${p}`);
  });

  test('kubectl get by short name and label selector lists what client-node lists', async () => {
    addDeploymentPod('web-list-1', { labels: { app: 'listed', tier: 'a' } });
    addDeploymentPod('web-list-2', { labels: { app: 'listed', tier: 'b' } });
    const out = JSON.parse((await kubectlOk(['get', 'po', '-n', NS, '-l', 'app=listed,tier!=b', '-o', 'json'])).toString('utf8')) as { items: { metadata: { name: string } }[] };
    const viaClientNode = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=listed,tier!=b' });
    assert.deepEqual(out.items.map((i) => i.metadata.name), ['web-list-1']);
    assert.deepEqual(out.items.map((i) => instants(i)), viaClientNode.items.map(wire));
  });

  test('kubectl exec -- cat FILE is byte-exact (all 256 byte values) and equals what client-node execs', async () => {
    addDeploymentPod('web-exec');
    const out = await kubectlOk(['exec', '-n', NS, 'web-exec', '-c', 'app', '--', 'cat', '/usr/bin/evil']);
    assert.equal(out.length, BINARY.length);
    assert.ok(out.equals(BINARY), 'kubectl received the file byte for byte');

    const chunks: Buffer[] = [];
    const sink = new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) });
    const r = await workloadsFromKubeConfig(kc).exec({ namespace: NS, pod: 'web-exec', container: 'app', command: ['cat', '/usr/bin/evil'], stdout: sink, timeoutMs: 60_000 });
    assert.equal(r.exitCode, 0);
    assert.equal(sha(Buffer.concat(chunks)), sha(out), 'client-node and kubectl received the same bytes');
    assert.ok(fake.execProtocols.includes('v5.channel.k8s.io'), `kubectl negotiated a channel protocol: ${fake.execProtocols.join(', ')}`);
  });

  test('kubectl exec: a missing file is cat exit 1; a missing executable is containerd\'s InternalError', async () => {
    addDeploymentPod('web-exec-fail');
    const missing = await kubectl(['exec', '-n', NS, 'web-exec-fail', '-c', 'app', '--', 'cat', '/nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cat: \/nope: No such file or directory/);
    assert.match(missing.stderr, /command terminated with exit code 1/);

    const noTool = await kubectl(['exec', '-n', NS, 'web-exec-fail', '-c', 'distroless', '--', 'cat', '/app']);
    assert.notEqual(noTool.code, 0);
    assert.match(noTool.stderr, /Internal error occurred: error executing command in container: failed to exec in container: .*exec: "cat": executable file not found in \$PATH/);
    assert.doesNotMatch(noTool.stderr, /exit code 126/);
  });

  test('kubectl cp copies out through tar in the container, byte-exact; without tar it fails', async () => {
    addDeploymentPod('web-cp');
    const dest = join(dir, 'evil.copy');
    await kubectlOk(['cp', '-c', 'app', `${NS}/web-cp:/usr/bin/evil`, dest]);
    assert.ok(readFileSync(dest).equals(BINARY), 'the copied file is byte-exact');
    const tarCall = fake.requests.find((r) => r.path === `/api/v1/namespaces/${NS}/pods/web-cp/exec`);
    assert.ok(tarCall?.query.includes('command=tar'), `kubectl cp ran tar in the pod: ${tarCall?.query ?? 'no exec'}`);

    const noTar = await kubectl(['cp', '-c', 'distroless', `${NS}/web-cp:/app`, join(dir, 'app.copy')]);
    assert.notEqual(noTar.code, 0);
    assert.match(`${noTar.stderr}${noTar.stdout.toString('utf8')}`, /executable file not found/);
  });

  test('kubectl label pod: client-node reads the labels kubectl wrote, and their removal', async () => {
    addDeploymentPod('web-label');
    await kubectlOk(['label', 'pod', '-n', NS, 'web-label', 'scc-responder/quarantine=true', 'app=relabelled', '--overwrite']);
    const labelled = await core.readNamespacedPod({ namespace: NS, name: 'web-label' });
    assert.equal(labelled.metadata?.labels?.['scc-responder/quarantine'], 'true');
    assert.equal(labelled.metadata?.labels?.['app'], 'relabelled');
    const patch = fake.writes.filter((w) => w.path === `/api/v1/namespaces/${NS}/pods/web-label`).at(-1);
    assert.equal(patch?.method, 'PATCH');
    assert.equal(patch?.status, 200);

    await kubectlOk(['label', 'pod', '-n', NS, 'web-label', 'scc-responder/quarantine-']);
    const unlabelled = await core.readNamespacedPod({ namespace: NS, name: 'web-label' });
    assert.equal(unlabelled.metadata?.labels?.['scc-responder/quarantine'], undefined);
    // Without --overwrite an existing label is not changed, as on a real server (kubectl checks first).
    const refused = await kubectl(['label', 'pod', '-n', NS, 'web-label', 'app=other']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /already has a value \(relabelled\)/);
  });

  test('kubectl debug --target adds the ephemeral container client-node then sees (targeting the container, running once read)', async () => {
    addDeploymentPod('web-debug');
    const image = 'busybox@sha256:d80cd694d3e9467884fcb94b8ca1e20437d8a501096cdf367a5a1918a34fc2fd';
    await kubectlOk(['debug', '-n', NS, 'web-debug', `--image=${image}`, '--target=app', '-c', 'kdebug', '--', 'sleep', '600']);
    const patch = fake.writes.filter((w) => w.path === `/api/v1/namespaces/${NS}/pods/web-debug/ephemeralcontainers`).at(-1);
    assert.equal(patch?.method, 'PATCH', 'kubectl debug patched the ephemeralcontainers subresource');
    assert.equal(patch?.status, 200);
    const pod = await core.readNamespacedPod({ namespace: NS, name: 'web-debug' });
    const ec = pod.spec?.ephemeralContainers?.find((c) => c.name === 'kdebug');
    assert.equal(ec?.targetContainerName, 'app');
    assert.equal(ec?.image, image);
    assert.ok(pod.status?.ephemeralContainerStatuses?.find((c) => c.name === 'kdebug')?.state?.running, 'running once the pod is read');
    // A second container of the same name is refused, as the API server refuses it.
    const again = await kubectl(['debug', '-n', NS, 'web-debug', `--image=${image}`, '--target=app', '-c', 'kdebug', '--', 'sleep', '1']);
    assert.notEqual(again.code, 0);
  });

  test('kubectl delete pod waits (watch) until it is gone; the ReplicaSet and the Job controller replace it', async () => {
    const pod = addDeploymentPod('web-delete');
    const out = await kubectlOk(['delete', 'pod', '-n', NS, 'web-delete']);
    assert.match(out.toString('utf8'), /pod "web-delete" deleted/);
    await assert.rejects(core.readNamespacedPod({ namespace: NS, name: 'web-delete' }), (err: unknown) => (err as { code?: number }).code === 404);
    assert.ok(fake.requests.some((r) => r.path === `/api/v1/namespaces/${NS}/pods` && /watch=(true|1)/.test(r.query)), 'kubectl waited with a watch');
    const replaced = (await core.listNamespacedPod({ namespace: NS, labelSelector: 'pod-template-hash=7d9f8b6c5d' })).items.filter((p) => p.metadata?.name?.startsWith('web-7d9f8b6c5d-'));
    assert.ok(replaced.length >= 1, 'a ReplicaSet pod replaced the deleted one');
    assert.notEqual(replaced[0]?.metadata?.uid, pod.uid);

    // A Job pod deleted before it finished is replaced too (the Job controller counts it failed).
    fake.addObject('Job', { namespace: NS, name: 'report-1', uid: 'job-report-1' });
    fake.addPod({
      namespace: NS, name: 'report-1-x7k2p', nodeName: NODE, creationTimestamp: new Date(Date.now() - 60_000).toISOString(),
      labels: { 'batch.kubernetes.io/controller-uid': 'job-report-1', 'batch.kubernetes.io/job-name': 'report-1' },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'report-1', uid: 'job-report-1', controller: true }],
      containers: [{ name: 'report' }],
    });
    await kubectlOk(['delete', 'pod', '-n', NS, 'report-1-x7k2p']);
    const jobPods = await waitFor(async () => {
      const json = JSON.parse((await kubectlOk(['get', 'pods', '-n', NS, '-l', 'batch.kubernetes.io/controller-uid=job-report-1', '-o', 'json'])).toString('utf8')) as { items: V1Pod[] };
      return json.items.length > 0 ? json.items : undefined;
    });
    assert.equal(jobPods.length, 1);
    assert.notEqual(jobPods[0]?.metadata?.name, 'report-1-x7k2p');
    assert.equal(jobPods[0]?.spec?.restartPolicy, 'Never');
  });
});

/** Polls (bounded by count, not by time) until `probe` returns a value. */
async function waitFor<T>(probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('condition not reached after 100 polls');
}

describe('negative controls: kubectl notices when the fake is broken', () => {
  test('discovery broken (404 on /api): kubectl get fails', async () => {
    addDeploymentPod('web-nodisco');
    fake.faults.inject({ match: /^GET \/api$/, status: 404, times: Number.POSITIVE_INFINITY });
    try {
      // A fresh cache directory: a cached discovery document would hide the breakage.
      const r = await kubectl(['get', 'pod', '-n', NS, 'web-nodisco', '-o', 'json', `--cache-dir=${mkdtempSync(join(dir, 'nocache-'))}`]);
      assert.notEqual(r.code, 0, 'kubectl get must fail without discovery');
      assert.match(r.stderr, /could not find the requested resource|couldn't get current server API group list|server doesn't have a resource type/);
    } finally {
      fake.faults.clear();
    }
  });

  test('exec stream cut before the status: kubectl does not get the file (the byte-exact check fails)', async () => {
    addDeploymentPod('web-cut');
    fake.faults.inject({ match: `EXEC ${NS}/web-cut/app`, drop: true, dropAfterBytes: 1000 });
    try {
      const r = await kubectl(['exec', '-n', NS, 'web-cut', '-c', 'app', '--', 'cat', '/usr/bin/evil']);
      assert.ok(r.code !== 0 || !r.stdout.equals(BINARY), 'a cut stream must not pass as the file');
      assert.ok(!r.stdout.equals(BINARY));
    } finally {
      fake.faults.clear();
    }
  });

  test('a kubeconfig with another CA: kubectl refuses the fake\'s certificate (TLS is verified)', async () => {
    const other = await selfsigned.generate([{ name: 'commonName', value: 'some other CA' }], { keyType: 'ec', algorithm: 'sha256', extensions: [{ name: 'basicConstraints', cA: true, critical: true }] });
    const yaml = fake.kubeconfigYaml().replace(/certificate-authority-data: \S+/, `certificate-authority-data: ${Buffer.from(other.cert).toString('base64')}`);
    const file = join(dir, 'wrong-ca.kubeconfig');
    writeFileSync(file, yaml);
    const r = await kubectl(['get', 'pods', '-n', NS, `--cache-dir=${mkdtempSync(join(dir, 'wrongca-'))}`], file);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /x509: certificate signed by unknown authority|certificate/);
  });
});
