// The fake API server's ephemeral containers and process model, through the real client-node:
// PATCH semantics as the API server has them (merge-patch replaces the list: removing or
// changing an ephemeral container is 422; strategic merge adds by name), Pod Security levels
// (403), a start that is deterministic (on the next read, no timer), and the kernel's ptrace
// rule for /proc/<pid>/exe (same uid and dumpable, or CAP_SYS_PTRACE), each with the control
// that shows the access when the rule is met.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ApiException, CoreV1Api, Exec, KubeConfig, PatchStrategy, setHeaderOptions, type V1EphemeralContainer, type V1Status } from '@kubernetes/client-node';
import { startFakeKube, type FakeKube } from '../support/fake-kube.js';

let fake: FakeKube;
let core: CoreV1Api;
let kc: KubeConfig;
let seq = 0;

const IMAGE = 'busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

function freshPod(over: { uid?: number; dumpable?: boolean; ns?: string } = {}): { ns: string; name: string } {
  seq += 1;
  const ns = over.ns ?? 'shop';
  const name = `web-${seq}`;
  fake.addPod({
    namespace: ns,
    name,
    containers: [{
      name: 'app',
      ...(over.uid === undefined ? {} : { uid: over.uid }),
      files: { '/usr/bin/evil': { content: Buffer.from('evil bytes') } },
      processes: [{ pid: 1, exe: '/usr/bin/evil', cmdline: ['/usr/bin/evil', '--x'], ...(over.dumpable === undefined ? {} : { dumpable: over.dumpable }) }],
    }],
  });
  return { ns, name };
}

const debug = (name: string, securityContext?: Record<string, unknown>): V1EphemeralContainer => ({ name, image: IMAGE, command: ['sleep', '600'], targetContainerName: 'app', ...(securityContext ? { securityContext } : {}) });

function patch(ns: string, name: string, list: V1EphemeralContainer[], strategy: PatchStrategy = PatchStrategy.StrategicMergePatch): Promise<unknown> {
  return core.patchNamespacedPodEphemeralcontainers({ namespace: ns, name, body: { spec: { ephemeralContainers: list } } }, setHeaderOptions('Content-Type', strategy));
}

async function statusCodeOf(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiException, String(err));
    const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as { message?: string };
    return { code: err.code, message: body.message ?? '' };
  }
  assert.fail('expected the API to refuse');
}

async function exec(ns: string, pod: string, container: string, argv: string[]): Promise<{ stdout: string; stderr: string; status?: V1Status }> {
  const out = { stdout: '', stderr: '' } as { stdout: string; stderr: string; status?: V1Status };
  const sink = (k: 'stdout' | 'stderr'): Writable => new Writable({ write: (c: Buffer, _e, cb) => { out[k] += c.toString('latin1'); cb(); } });
  const ws = await new Exec(kc).exec(ns, pod, container, argv, sink('stdout'), sink('stderr'), null, false, (s) => { out.status = s; });
  await new Promise<void>((resolve) => ws.on('close', () => resolve()));
  return out;
}

async function addRunning(ns: string, name: string, c: V1EphemeralContainer): Promise<void> {
  await patch(ns, name, [c]);
  const pod = await core.readNamespacedPod({ namespace: ns, name });
  assert.ok(pod.status?.ephemeralContainerStatuses?.find((s) => s.name === c.name)?.state?.running, 'running on the first read after the PATCH');
}

before(async () => {
  fake = await startFakeKube();
  kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'f', server: fake.url, caData: fake.caData }], users: [{ name: 'u', token: fake.token }], contexts: [{ name: 'f', cluster: 'f', user: 'u' }], currentContext: 'f' });
  core = kc.makeApiClient(CoreV1Api);
});

after(async () => {
  await fake.close();
});

describe('ephemeral containers: PATCH as the API server does it', () => {
  test('strategic merge adds by name; repeating the same spec is a no-op; start is deterministic', async () => {
    const { ns, name } = freshPod();
    await addRunning(ns, name, debug('dbg-1'));
    await patch(ns, name, [debug('dbg-1')]);
    await patch(ns, name, [debug('dbg-2')]);
    assert.deepEqual(fake.pod(ns, name)?.ephemeralContainers?.map((e) => e.name), ['dbg-1', 'dbg-2']);
  });

  test('merge-patch replaces the list: leaving one out is 422 (an ephemeral container can never be removed)', async () => {
    const { ns, name } = freshPod();
    await patch(ns, name, [debug('dbg-1')]);
    const r = await statusCodeOf(patch(ns, name, [debug('dbg-2')], PatchStrategy.MergePatch));
    assert.equal(r.code, 422);
    assert.match(r.message, /existing ephemeral containers "dbg-1" may not be removed/);
    // Control: the full list plus a new one is accepted.
    await patch(ns, name, [debug('dbg-1'), debug('dbg-2')], PatchStrategy.MergePatch);
    assert.deepEqual(fake.pod(ns, name)?.ephemeralContainers?.map((e) => e.name), ['dbg-1', 'dbg-2']);
  });

  test('changing the spec under the same name is 422, whatever the patch type', async () => {
    const { ns, name } = freshPod();
    await patch(ns, name, [debug('dbg-1')]);
    for (const strategy of [PatchStrategy.StrategicMergePatch, PatchStrategy.MergePatch]) {
      const r = await statusCodeOf(patch(ns, name, [{ ...debug('dbg-1'), image: 'busybox@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' }], strategy));
      assert.equal(r.code, 422, strategy);
      assert.match(r.message, /may not be changed/);
    }
  });

  test('Pod Security baseline refuses CAP_SYS_PTRACE (403); privileged accepts it', async () => {
    const { ns, name } = freshPod({ ns: 'baseline-ns' });
    fake.podSecurity.set('baseline-ns', 'baseline');
    const r = await statusCodeOf(patch(ns, name, [debug('dbg-p', { capabilities: { add: ['SYS_PTRACE'] } })]));
    assert.equal(r.code, 403);
    assert.match(r.message, /violates PodSecurity "baseline:latest".*SYS_PTRACE/);
    await patch(ns, name, [debug('dbg-ok', { capabilities: { drop: ['ALL'] } })]);
    const priv = freshPod({ ns: 'privileged-ns' });
    await patch(priv.ns, priv.name, [debug('dbg-p', { capabilities: { add: ['SYS_PTRACE'] } })]);
  });
});

describe('the ptrace rule for /proc/<pid>/exe', () => {
  test('same uid (root and root) reads the exe link and the binary', async () => {
    const { ns, name } = freshPod();
    await addRunning(ns, name, debug('dbg'));
    const ls = await exec(ns, name, 'dbg', ['ls', '-l', '/proc/1/exe']);
    assert.match(ls.stdout, /\/proc\/1\/exe -> \/usr\/bin\/evil$/m);
    const cat = await exec(ns, name, 'dbg', ['cat', '--', '/proc/1/exe']);
    assert.equal(cat.stdout, 'evil bytes');
  });

  test('another uid is refused; the same uid via runAsUser, or CAP_SYS_PTRACE, is allowed', async () => {
    const { ns, name } = freshPod({ uid: 1000 });
    await addRunning(ns, name, debug('as-root'));
    const denied = await exec(ns, name, 'as-root', ['cat', '--', '/proc/1/exe']);
    assert.match(denied.stderr, /Permission denied/);
    assert.equal(denied.status?.status, 'Failure');
    // cmdline and status stay world-readable.
    const status = await exec(ns, name, 'as-root', ['head', '-c', '2048', '/proc/1/status']);
    assert.match(status.stdout, /^Uid:\t1000/m);
    await addRunning(ns, name, debug('as-1000', { runAsUser: 1000 }));
    assert.equal((await exec(ns, name, 'as-1000', ['cat', '--', '/proc/1/exe'])).stdout, 'evil bytes');
    await addRunning(ns, name, debug('ptrace', { capabilities: { add: ['SYS_PTRACE'] } }));
    assert.equal((await exec(ns, name, 'ptrace', ['cat', '--', '/proc/1/exe'])).stdout, 'evil bytes');
  });

  test('a process that is not dumpable needs CAP_SYS_PTRACE even with the same uid', async () => {
    const { ns, name } = freshPod({ dumpable: false });
    await addRunning(ns, name, debug('same-uid'));
    assert.match((await exec(ns, name, 'same-uid', ['cat', '--', '/proc/1/exe'])).stderr, /Permission denied/);
    await addRunning(ns, name, debug('ptrace', { capabilities: { add: ['SYS_PTRACE'] } }));
    assert.equal((await exec(ns, name, 'ptrace', ['cat', '--', '/proc/1/exe'])).stdout, 'evil bytes');
  });

  test('a deleted binary: the link says (deleted), /proc/<pid>/exe still opens, /proc/<pid>/root<path> does not', async () => {
    const { ns, name } = freshPod();
    delete fake.pod(ns, name)?.containers[0]?.files?.['/usr/bin/evil'];
    await addRunning(ns, name, debug('dbg'));
    assert.match((await exec(ns, name, 'dbg', ['ls', '-l', '/proc/1/exe'])).stdout, /-> \/usr\/bin\/evil \(deleted\)$/m);
    assert.equal((await exec(ns, name, 'dbg', ['cat', '--', '/proc/1/exe'])).stdout, 'evil bytes');
    assert.match((await exec(ns, name, 'dbg', ['cat', '--', '/proc/1/root/usr/bin/evil'])).stderr, /No such file/);
  });
});

describe('find over the exec WebSocket (the collector\'s first round)', () => {
  const sweep = (leaf: string, ...cmd: string[]): string[] => ['find', '/proc', '-mindepth', '2', '-maxdepth', '2', '-name', leaf, '-exec', ...cmd, '{}', '+'];

  test('exe links of every pid, the collector\'s own sleep included; a link the kernel refuses is a line without a target, find still exits 0', async () => {
    const { ns, name } = freshPod({ uid: 1000 });
    await addRunning(ns, name, debug('as-root'));
    const r = await exec(ns, name, 'as-root', sweep('exe', 'ls', '-ln'));
    assert.match(r.stdout, /^lrwxrwxrwx +1 1000 +0 +0 \w{3} +\d+ [\d:]+ \/proc\/1\/exe$/m, 'uid 1000: readlink refused, the line is still there');
    assert.match(r.stdout, /\/proc\/4194\/exe -> \/bin\/sleep$/m, 'the collector sees itself');
    assert.equal(r.stderr, 'ls: /proc/1/exe: cannot read link: Permission denied\n');
    assert.equal(r.status?.status, 'Success');
  });

  test('a command find runs that fails makes find exit 1 (here ls on an fd directory the kernel refuses); an unsupported find fails loudly', async () => {
    const { ns, name } = freshPod({ uid: 1000 });
    await addRunning(ns, name, debug('as-root'));
    const r = await exec(ns, name, 'as-root', sweep('fd', 'ls', '-ln'));
    assert.match(r.stderr, /^ls: can't open '\/proc\/1\/fd': Permission denied$/m);
    assert.match(r.stdout, /^\/proc\/1\/fd:\ntotal 0\n\n\/proc\/4194\/fd:\ntotal 0\n$/);
    assert.equal(r.status?.status, 'Failure');
    assert.equal(r.status?.details?.causes?.[0]?.message, '1');
    const bad = await exec(ns, name, 'as-root', ['find', '/proc', '-name', 'exe']);
    assert.match(bad.stderr, /the fake supports only find/);
    assert.equal(bad.status?.status, 'Failure');
  });

  test('head -v over every cmdline: a header for each file, the first without a newline before it', async () => {
    const { ns, name } = freshPod();
    await addRunning(ns, name, debug('dbg'));
    const r = await exec(ns, name, 'dbg', sweep('cmdline', 'head', '-v', '-c', '4096'));
    assert.equal(r.stdout, '==> /proc/1/cmdline <==\n/usr/bin/evil\0--x\0\n==> /proc/4194/cmdline <==\nsleep\x00600\x00');
    assert.equal(r.status?.status, 'Success');
  });
});

