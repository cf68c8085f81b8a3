// The trusted collector's wait for "running" (addDebugContainer): a watch of the pod opened
// beside the pod read (prepareDebugContainer) or else beside the PATCH, with the bounded poll as the fallback when the watch is refused or breaks.
// Real client-node over HTTPS to the fake API server, whose watch streams what the API server
// streams (chunked JSON lines, ERROR events with a Status). Every test has its own fake.
// Assertions are on the fake's call records (order, keys, queries), never on elapsed time.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { classifyError } from '../../shared/common/errors.js';
import type { KubeCallName } from '../../shared/kube/api-calls.js';
import { WATCH_FALLBACK_REASON_LIMIT, watchFallbackLine, workloadsFromKubeConfig, type ClientNodeWorkloads } from '../../shared/kube/client-node-workloads.js';
import { KubeApiError } from '../../shared/kube/errors.js';
import { openPodWatch } from '../../shared/kube/pod-watch.js';
import type { DebugContainerSpec } from '../../shared/ports.js';
import { startFakeKube, type FakeKube } from '../support/fake-kube.js';

const NS = 'ns';
const POD = 'web-5f-xyz12';
const WATCH_KEY = `WATCH /api/v1/namespaces/${NS}/pods`;
const PATCH_KEY = `PATCH /api/v1/namespaces/${NS}/pods/${POD}/ephemeralcontainers`;
const READ_KEY = `GET /api/v1/namespaces/${NS}/pods/${POD}`;

/**
 * The slow read beside the watch, off: no interval fits before any deadline here, so the
 * happy path's "no read after the PATCH" does not depend on how fast a busy machine is.
 */
const BESIDE_OFF = 3_600_000;

let fake: FakeKube;
let w: ClientNodeWorkloads;
let calls: KubeCallName[];
let fallbacks: string[];

beforeEach(async () => {
  fake = await startFakeKube();
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfigYaml());
  calls = [];
  fallbacks = [];
  w = workloads(kc, BESIDE_OFF);
  fake.addPod({ namespace: NS, name: POD, uid: 'pod-1', nodeName: 'node-a', containers: [{ name: 'app', image: 'eu.gcr.io/p/web:2', pid: 77 }] });
});

function workloads(kc: KubeConfig, besideWatch: number): ClientNodeWorkloads {
  return workloadsFromKubeConfig(kc, { onCall: (name) => calls.push(name), debugPollMs: { first: 5, max: 20, besideWatch }, onWatchFallback: (r) => fallbacks.push(r) });
}

/** Workloads whose slow read beside the watch comes every `besideWatch` ms. */
function withBeside(besideWatch: number): ClientNodeWorkloads {
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfigYaml());
  return workloads(kc, besideWatch);
}

afterEach(async () => {
  await fake.close();
});

/** The spec the trusted collector passes, with the resourceVersion of a read made first. */
async function spec(name: string, extra: Partial<DebugContainerSpec> = {}): Promise<DebugContainerSpec> {
  const pod = await w.readPod(NS, POD);
  calls.length = 0;
  return { namespace: NS, pod: POD, name, image: 'busybox@sha256:0123', targetContainer: 'app', command: ['sleep', '600'], timeoutMs: 30_000, ...(pod.resourceVersion ? { resourceVersion: pod.resourceVersion } : {}), ...extra };
}

/** Keys of the fake's calls from `from` on, in the order they arrived. */
const keysFrom = (from: number): string[] => fake.faults.calls.slice(from).map((c) => c.key);

/** The happy path's promise: nothing reads the pod after the PATCH (the watch told us). */
function assertNoReadAfterPatch(keys: string[]): void {
  const patch = keys.indexOf(PATCH_KEY);
  assert.ok(patch >= 0, `a PATCH in ${keys.join(', ')}`);
  assert.deepEqual(keys.slice(patch + 1).filter((k) => k === READ_KEY), [], `no read of the pod after the PATCH: ${keys.join(', ')}`);
}

/** The fake has no watch left open (the client closed it); bounded wait on the server noticing. */
async function watchesClosed(): Promise<void> {
  for (let i = 0; i < 1000 && fake.openWatches() > 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(fake.openWatches(), 0, 'the watch was closed');
  const watch = fake.faults.calls.filter((c) => c.key === WATCH_KEY);
  assert.ok(watch.length > 0, 'the watch reached the fake');
  for (let i = 0; i < 1000 && watch.some((c) => c.end === undefined); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(watch.every((c) => c.end !== undefined), 'every watch request ended');
}

const running = (name: string): boolean => fake.pod(NS, POD)?.ephemeralContainers?.find((e) => e.name === name)?.running === true;

describe('addDebugContainer waits with a watch opened beside the PATCH', () => {
  test('running event: resolves with no read of the pod after the PATCH; one watch of that pod from the read version', async () => {
    const s = await spec('scc-evidence-w1');
    const from = fake.faults.calls.length;
    const reqFrom = fake.requests.length;
    await w.addDebugContainer(s);
    assert.ok(running('scc-evidence-w1'));
    const keys = keysFrom(from);
    assertNoReadAfterPatch(keys);
    assert.deepEqual(keys.filter((k) => k !== WATCH_KEY && k !== PATCH_KEY), [], `only the watch and the PATCH: ${keys.join(', ')}`);
    assert.deepEqual(calls, ['watchPod', 'addDebugContainer'], 'the watch is sent just before the PATCH');
    // The server may see the watch after the PATCH's answer (the PATCH goes on the pod read's
    // connection, the watch may need one of its own): from the read's version it misses nothing.
    assert.ok(fake.faults.calls.slice(from).some((c) => c.key === WATCH_KEY), 'the watch reached the fake');
    const q = new URLSearchParams(fake.requests.slice(reqFrom).find((r) => /watch=true/.test(r.query))?.query ?? '');
    assert.equal(q.get('fieldSelector'), `metadata.name=${POD}`);
    assert.equal(q.get('resourceVersion'), s.resourceVersion);
    const timeout = Number(q.get('timeoutSeconds'));
    assert.ok(timeout >= 1 && timeout <= 30, `timeoutSeconds bounded by the deadline: ${timeout}`);
    assert.deepEqual(fallbacks, []);
    await watchesClosed();
  });

  test('without a resourceVersion the watch starts from the current state (ADDED) and still resolves', async () => {
    const { resourceVersion: _rv, ...s } = await spec('scc-evidence-w2');
    const from = fake.faults.calls.length;
    await w.addDebugContainer(s);
    assertNoReadAfterPatch(keysFrom(from));
    assert.equal(new URLSearchParams(fake.requests.find((r) => /watch=true/.test(r.query))?.query ?? '').get('resourceVersion'), null);
    assert.deepEqual(fallbacks, []);
    await watchesClosed();
  });

  test("'timer' start: the kubelet's status change arrives as a MODIFIED event", async () => {
    fake.ephemeralStart = 'timer';
    const s = await spec('scc-evidence-w3');
    const from = fake.faults.calls.length;
    await w.addDebugContainer(s);
    assertNoReadAfterPatch(keysFrom(from));
    assert.ok(running('scc-evidence-w3'));
    await watchesClosed();
  });

  test('terminated: the same permanent error as the poll, no read after the PATCH', async () => {
    fake.ephemeralStartExits = { reason: 'StartError', exitCode: 128, message: 'exec: "sleep": executable file not found in $PATH' };
    const s = await spec('scc-evidence-w4');
    const from = fake.faults.calls.length;
    await assert.rejects(w.addDebugContainer(s), (err: unknown) => {
      const c = classifyError(err);
      assert.equal(c.kind, 'permanent');
      assert.match(c.reason, /debug container scc-evidence-w4 terminated before it could be used \(StartError\)/);
      return true;
    });
    assertNoReadAfterPatch(keysFrom(from));
    await watchesClosed();
  });

  test('never running: TimeoutError naming the last state the watch saw', async () => {
    fake.ephemeralStartFails = 'ImagePullBackOff';
    const s = await spec('scc-evidence-w5', { timeoutMs: 1500 });
    const from = fake.faults.calls.length;
    await assert.rejects(w.addDebugContainer(s), (err: unknown) => {
      assert.equal(classifyError(err).code, 'TIMEOUT');
      assert.match((err as Error).message, /did not start \(last state waiting: ImagePullBackOff\)/);
      return true;
    });
    assertNoReadAfterPatch(keysFrom(from));
    await watchesClosed();
  });

  test('the caller aborts while waiting: rejects with its reason, the watch is closed', async () => {
    fake.ephemeralStart = 'manual';
    const s = await spec('scc-evidence-w6');
    const ac = new AbortController();
    const p = w.addDebugContainer(s, ac.signal);
    await until('the PATCH answered and the watch open', () => fake.writes.some((x) => x.path.endsWith('/ephemeralcontainers') && x.status !== undefined) && fake.openWatches() === 1);
    ac.abort(new Error('finding deadline'));
    await assert.rejects(p, /finding deadline/);
    await watchesClosed();
  });
});

describe('addDebugContainer falls back to the bounded poll when the watch fails', () => {
  test('watch refused (403: an RBAC without watch): the poll finds it running, the reason is logged once', async () => {
    fake.faults.inject({ match: WATCH_KEY, status: 403, message: `pods is forbidden: User "responder" cannot watch resource "pods" in API group "" in the namespace "${NS}"` });
    const s = await spec('scc-evidence-f1');
    const from = fake.faults.calls.length;
    await w.addDebugContainer(s);
    assert.ok(running('scc-evidence-f1'));
    const keys = keysFrom(from);
    assert.ok(keys.indexOf(READ_KEY) > keys.indexOf(PATCH_KEY), `read after the PATCH: ${keys.join(', ')}`);
    assert.equal(fallbacks.length, 1);
    assert.match(fallbacks[0] ?? '', /HTTP 403 Forbidden: pods is forbidden: User "responder" cannot watch/);
    await watchesClosed();
  });

  test('watch stream dropped after its first event: falls back and the poll finds it running', async () => {
    fake.faults.inject({ match: WATCH_KEY, drop: true });
    const s = await spec('scc-evidence-f2');
    const from = fake.faults.calls.length;
    await w.addDebugContainer(s);
    assert.ok(running('scc-evidence-f2'));
    const keys = keysFrom(from);
    assert.ok(keys.indexOf(READ_KEY) > keys.indexOf(PATCH_KEY), `read after the PATCH: ${keys.join(', ')}`);
    assert.ok(fake.faults.calls.slice(from).some((c) => c.key === WATCH_KEY && c.fault?.drop === true), 'the fake cut the watch');
    assert.equal(fallbacks.length, 1);
    await watchesClosed();
  });

  test('watch stream cut inside an event: falls back', async () => {
    fake.faults.inject({ match: WATCH_KEY, drop: true, dropAfterBytes: 40 });
    const s = await spec('scc-evidence-f3');
    await w.addDebugContainer(s);
    assert.ok(running('scc-evidence-f3'));
    assert.equal(fallbacks.length, 1);
    await watchesClosed();
  });

  test('410 Expired (the read version is older than the server keeps): the ERROR event leads to the poll', async () => {
    const s = await spec('scc-evidence-f4');
    await w.patchPodMetadata(NS, POD, { uid: 'pod-1', labels: { later: 'change' } });
    fake.compactWatchHistory();
    const from = fake.faults.calls.length;
    await w.addDebugContainer(s);
    assert.ok(running('scc-evidence-f4'));
    const keys = keysFrom(from);
    assert.ok(keys.indexOf(READ_KEY) > keys.indexOf(PATCH_KEY), `read after the PATCH: ${keys.join(', ')}`);
    assert.equal(fallbacks.length, 1);
    assert.match(fallbacks[0] ?? '', /410 Expired: too old resource version/);
    await watchesClosed();
  });

  test('the poll fallback keeps its own bounds: terminated is still the permanent error', async () => {
    fake.faults.inject({ match: WATCH_KEY, status: 500 });
    fake.ephemeralStartExits = { reason: 'StartError', exitCode: 128 };
    const s = await spec('scc-evidence-f5');
    await assert.rejects(w.addDebugContainer(s), /terminated before it could be used \(StartError\)/);
    assert.equal(fallbacks.length, 1);
    await watchesClosed();
  });
});

describe('a watch accepted but silent (200, no event) costs one slow read interval, not the deadline', () => {
  test('the slow read beside the watch finds it running: no TimeoutError, no fallback, the watch closed', async () => {
    fake.faults.inject({ match: WATCH_KEY, stall: true });
    w = withBeside(20);
    const s = await spec('scc-evidence-s1');
    const from = fake.faults.calls.length;
    await w.addDebugContainer(s);
    assert.ok(running('scc-evidence-s1'));
    const keys = keysFrom(from);
    assert.ok(fake.faults.calls.slice(from).some((c) => c.key === WATCH_KEY && c.fault?.stall === true), 'the fake stalled the watch');
    assert.ok(keys.indexOf(READ_KEY) > keys.indexOf(PATCH_KEY), `read after the PATCH: ${keys.join(', ')}`);
    assert.deepEqual(calls.slice(0, 2), ['watchPod', 'addDebugContainer']);
    assert.ok(calls.slice(2).length > 0 && calls.slice(2).every((c) => c === 'readPod'), `only slow reads after the PATCH: ${calls.join(', ')}`);
    assert.deepEqual(fallbacks, [], 'the watch did not fail: it was closed once the read decided');
    await watchesClosed();
  });

  test('terminated seen by the slow read: the same permanent error', async () => {
    fake.faults.inject({ match: WATCH_KEY, stall: true });
    fake.ephemeralStartExits = { reason: 'StartError', exitCode: 128 };
    w = withBeside(20);
    const s = await spec('scc-evidence-s2');
    await assert.rejects(w.addDebugContainer(s), (err: unknown) => {
      assert.equal(classifyError(err).kind, 'permanent');
      assert.match((err as Error).message, /debug container scc-evidence-s2 terminated before it could be used \(StartError\)/);
      return true;
    });
    await watchesClosed();
  });

  test('never running behind a silent watch: the TimeoutError names the state the slow read saw', async () => {
    fake.faults.inject({ match: WATCH_KEY, stall: true });
    fake.ephemeralStartFails = 'ImagePullBackOff';
    w = withBeside(50);
    const s = await spec('scc-evidence-s3', { timeoutMs: 1500 });
    await assert.rejects(w.addDebugContainer(s), (err: unknown) => {
      assert.equal(classifyError(err).code, 'TIMEOUT');
      assert.match((err as Error).message, /did not start \(last state waiting: ImagePullBackOff\)/);
      return true;
    });
    await watchesClosed();
  });

  test('negative control: without the slow read (interval past the deadline) the silent watch holds the wait to a TimeoutError', async () => {
    fake.faults.inject({ match: WATCH_KEY, stall: true });
    const s = await spec('scc-evidence-s4', { timeoutMs: 1500 });
    const from = fake.faults.calls.length;
    await assert.rejects(w.addDebugContainer(s), (err: unknown) => {
      assert.equal(classifyError(err).code, 'TIMEOUT');
      assert.match((err as Error).message, /did not start \(last state no status yet\)/);
      return true;
    });
    assert.deepEqual(keysFrom(from).filter((k) => k === READ_KEY), [], 'nothing read the pod');
    assert.equal(running('scc-evidence-s4'), false, 'the kubelet never got the read that starts it');
    await watchesClosed();
  });
});

describe("the fallback's default log line (no onWatchFallback given)", () => {
  test('one structured WARNING line on stderr naming the operation and its target', async () => {
    fake.faults.inject({ match: WATCH_KEY, status: 403, message: 'pods is forbidden: User "responder" cannot watch resource "pods"' });
    const kc = new KubeConfig();
    kc.loadFromString(fake.kubeconfigYaml());
    const plain = workloadsFromKubeConfig(kc, { debugPollMs: { first: 5, max: 20, besideWatch: BESIDE_OFF } });
    const s = await spec('scc-evidence-l1');
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      if (typeof chunk === 'string' && chunk.includes('scc-evidence-l1')) {
        lines.push(chunk);
        return true;
      }
      return write(chunk, ...rest);
    }) as typeof process.stderr.write;
    try {
      await plain.addDebugContainer(s);
    } finally {
      process.stderr.write = write;
    }
    assert.ok(running('scc-evidence-l1'));
    assert.equal(lines.length, 1, `one line: ${lines.join('')}`);
    const entry = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    assert.equal(entry['severity'], 'WARNING');
    assert.equal(entry['operation'], 'addDebugContainer');
    assert.equal(entry['call'], 'watchPod');
    assert.deepEqual([entry['namespace'], entry['pod'], entry['container']], [NS, POD, 'scc-evidence-l1']);
    assert.match(String(entry['message']), /ended before it ran \(.*HTTP 403 Forbidden: pods is forbidden.*\): reading the pod instead/);
    await watchesClosed();
  });

  test('the reason is redacted and bounded: a credential echoed by a proxy never reaches the line', () => {
    const token = 'ya29.A0ARrdaM-k9Xq2vLm3Tn8pWz7Yb6Uc5Vd4Ef3Gh2Ij1Kl0MnOpQrStUvWxYz';
    const ctx = { operation: 'addDebugContainer' as const, namespace: NS, pod: POD, container: 'c' };
    const entry = JSON.parse(watchFallbackLine(`proxy said: Authorization: Bearer ${token} ${'x'.repeat(3 * WATCH_FALLBACK_REASON_LIMIT)}`, ctx)) as { message: string };
    assert.ok(!entry.message.includes(token), entry.message.slice(0, 200));
    assert.ok(!entry.message.includes(token.slice(0, 20)), 'no part of it either');
    assert.ok(entry.message.length < WATCH_FALLBACK_REASON_LIMIT + 100, `bounded: ${entry.message.length}`);
    // Negative control: the same line builder keeps an ordinary reason whole.
    assert.match((JSON.parse(watchFallbackLine('the server closed the stream', ctx)) as { message: string }).message, /^the server closed the stream$/);
  });
});

describe('a failed PATCH closes the watch and fails as before', () => {
  test('PATCH refused (403) with the watch open: the PATCH error, classified as before; the watch closed', async () => {
    // The refusal waits for the watch to be open on the server (the PATCH may arrive first).
    const watchOpen = until('the watch open', () => fake.openWatches() === 1);
    fake.faults.inject({ match: PATCH_KEY, status: 403, message: `pods "${POD}" is forbidden: User "responder" cannot patch resource "pods/ephemeralcontainers"`, release: watchOpen });
    const s = await spec('scc-evidence-p1');
    const from = fake.faults.calls.length;
    await assert.rejects(w.addDebugContainer(s), (err: unknown) => {
      assert.ok(err instanceof KubeApiError);
      assert.equal(err.call, 'addDebugContainer');
      assert.equal(err.statusCode, 403);
      assert.equal(classifyError(err).code, 403);
      return true;
    });
    assert.deepEqual(keysFrom(from).filter((k) => k === READ_KEY), [], 'no poll after a failed PATCH');
    assert.deepEqual(fallbacks, []);
    await watchesClosed();
  });

  test('PATCH fails before the watch is answered: the watch request is abandoned, not left open', async () => {
    // The watch is never answered (hang); the PATCH's refusal comes a little later, so the
    // watch request has reached the fake by then and the client must let go of it.
    fake.faults.inject({ match: WATCH_KEY, hang: true });
    fake.faults.inject({ match: PATCH_KEY, status: 404, message: `pods "${POD}" not found`, delayMs: 200 });
    const s = await spec('scc-evidence-p2');
    await assert.rejects(w.addDebugContainer(s), (err: unknown) => err instanceof KubeApiError && err.statusCode === 404 && err.call === 'addDebugContainer');
    assert.deepEqual(fallbacks, []);
    await watchesClosed();
  });
});

describe('negative control', () => {
  test('with the watch refused by the fake, the happy-path check (no read after the PATCH) fails', async () => {
    fake.faults.inject({ match: WATCH_KEY, status: 403, times: Infinity });
    const s = await spec('scc-evidence-n1');
    const from = fake.faults.calls.length;
    await w.addDebugContainer(s);
    assert.throws(() => assertNoReadAfterPatch(keysFrom(from)), /no read of the pod after the PATCH/);
  });
});

// ---------------------------------------------------------------- the watch opened early

const WATCH_REQUEST = `GET /api/v1/namespaces/${NS}/pods (watch)`;

/** Polls a condition (the bound only ends a broken build; nothing here is timed). */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 3000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), `gave up waiting: ${what}`);
}

/** Workloads with no exec spares: their connections would be logged beside the PATCH's. */
function noSpares(): ClientNodeWorkloads {
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfigYaml());
  return workloadsFromKubeConfig(kc, { onCall: (name) => calls.push(name), debugPollMs: { first: 5, max: 20, besideWatch: BESIDE_OFF }, onWatchFallback: (r) => fallbacks.push(r), execSpares: 0 });
}

/**
 * One collector the way the snapshot adds it: prepareDebugContainer beside the pod read, then
 * addDebugContainer with it (or, `adopt` false, without it: the wait opens its own watch).
 * Returns the fake's mark taken just before addDebugContainer.
 */
async function preparedCollector(ww: ClientNodeWorkloads, name: string, adopt = true): Promise<number> {
  const prepared = ww.prepareDebugContainer({ namespace: NS, pod: POD, timeoutMs: 30_000 });
  await ww.readPod(NS, POD);
  await until('the prepared watch is open on the server', () => fake.openWatches() === 1);
  const mark = fake.mark();
  await ww.addDebugContainer({ namespace: NS, pod: POD, name, image: 'busybox@sha256:0123', targetContainer: 'app', command: ['sleep', '600'], timeoutMs: 30_000, ...(adopt ? { prepared } : {}) });
  prepared.close();
  await watchesClosed();
  return mark;
}

/**
 * The PATCH's moment costs the watch nothing: after `mark` (just before addDebugContainer) no
 * watch request was sent, and the one the wait used reached the fake before `mark`, on a
 * connection opened before it.
 */
function assertWatchReadyAtPatch(mark: number): void {
  const log = JSON.stringify(fake.connectionLog.filter((e) => e.seq > mark));
  assert.ok(fake.connectionLog.some((e) => e.seq > mark && e.kind === 'request' && e.key === PATCH_KEY), 'the PATCH reached the fake');
  assert.deepEqual(fake.connectionLog.filter((e) => e.seq > mark && e.kind === 'request' && e.key === WATCH_REQUEST), [], `no watch request sent at the PATCH's moment: ${log}`);
  const watch = fake.connectionLog.filter((e) => e.seq < mark && e.kind === 'request' && e.key === WATCH_REQUEST).at(-1);
  assert.ok(watch, 'a watch reached the fake before addDebugContainer');
  const opened = fake.connectionLog.find((e) => e.kind === 'connection' && e.conn === watch.conn);
  assert.ok(opened && opened.seq < mark, `the watch's connection was opened before addDebugContainer: ${log}`);
}

describe('prepareDebugContainer: the watch opened beside the pod read is the one the wait uses', () => {
  test('two collectors in a row on one Workloads (a warm instance): each time the watch is at the server, on its connection, before addDebugContainer', async () => {
    const ww = noSpares();
    for (const name of ['scc-evidence-e1', 'scc-evidence-e2']) {
      const from = fake.faults.calls.length;
      const mark = await preparedCollector(ww, name);
      assert.ok(running(name));
      assertWatchReadyAtPatch(mark);
      assertNoReadAfterPatch(keysFrom(from));
      assert.equal(fake.faults.calls.slice(from).filter((c) => c.key === WATCH_KEY).length, 1, 'one watch per collector');
    }
    // Opened from the current state (no resourceVersion): the server's ADDED comes first.
    const watches = fake.requests.filter((r) => /watch=true/.test(r.query)).map((r) => new URLSearchParams(r.query));
    assert.equal(watches.length, 2);
    for (const q of watches) assert.equal(q.get('resourceVersion'), null);
    assert.deepEqual(fallbacks, []);
  });

  test("negative control: without the prepared watch (addDebugContainer opens its own) the PATCH's-moment check fails", async () => {
    const ww = noSpares();
    const mark = await preparedCollector(ww, 'scc-evidence-e3', false);
    assert.ok(running('scc-evidence-e3'));
    assert.throws(() => assertWatchReadyAtPatch(mark), /no watch request sent at the PATCH's moment/);
  });

  test('an aborted watch takes only its own connection: the REST calls after it reuse theirs', async () => {
    const ww = noSpares();
    await ww.listPods(NS, ''); // the shared pool's connection (the collector's calls have an Agent of their own)
    await preparedCollector(ww, 'scc-evidence-e4');
    await until('the aborted watch connection closed on the server', () => fake.openConnections().length === fake.openConnections().filter((c) => c.requests > 0).length);
    // Calls a moment apart (undici reuses a connection one event-loop turn after its answer).
    const mark = fake.mark();
    for (const call of [() => ww.readPod(NS, POD), () => ww.patchPodMetadata(NS, POD, { uid: 'pod-1', labels: { seen: 'yes' } }), () => ww.readPod(NS, POD)]) {
      await call();
      await new Promise((r) => setTimeout(r, 5));
    }
    const opened = fake.connectionLog.filter((e) => e.seq > mark && e.kind === 'connection');
    assert.deepEqual(opened, [], `no new connection for REST calls after the watch ended: ${JSON.stringify(fake.connectionLog.filter((e) => e.seq > mark))}`);
  });

  test('negative control: a watch on the shared pool, aborted, leaves a dead connection the next REST call pays for', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(fake.kubeconfigYaml());
    const ww = workloadsFromKubeConfig(kc, { execSpares: 0 });
    const ac = new AbortController();
    // The shared pool's first connection carries the watch (no dispatcherFor: the KubeConfig's Agent).
    const stream = openPodWatch(kc, { namespace: NS, name: POD, timeoutSeconds: 30 }, ac.signal);
    await until('the watch is open on the server', () => fake.openWatches() === 1);
    // A shared-pool call (the pod read has an Agent of its own, like the watches').
    await ww.listPods(NS, '');
    await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    await stream.then((s) => s.cancel()).catch(() => undefined);
    await watchesClosed();
    await new Promise((r) => setTimeout(r, 5));
    const mark = fake.mark();
    await ww.listPods(NS, '');
    assert.ok(fake.connectionLog.some((e) => e.seq > mark && e.kind === 'connection'), 'the call after the aborted watch opened a connection');
  });

  test('a prepared watch refused (403) leads to the bounded poll with one logged reason, as before', async () => {
    fake.faults.inject({ match: WATCH_KEY, status: 403, message: `pods is forbidden: User "responder" cannot watch resource "pods" in API group "" in the namespace "${NS}"` });
    const prepared = w.prepareDebugContainer({ namespace: NS, pod: POD, timeoutMs: 30_000 });
    const s = await spec('scc-evidence-e5', { prepared });
    const from = fake.faults.calls.length;
    await w.addDebugContainer(s);
    prepared.close();
    assert.ok(running('scc-evidence-e5'));
    const keys = keysFrom(from);
    assert.ok(keys.indexOf(READ_KEY) > keys.indexOf(PATCH_KEY), `read after the PATCH: ${keys.join(', ')}`);
    assert.deepEqual(keys.filter((k) => k === WATCH_KEY), [], 'no second watch: the refused one was the wait’s');
    assert.equal(fallbacks.length, 1);
    assert.match(fallbacks[0] ?? '', /HTTP 403 Forbidden/);
  });

  test('a prepared watch cut after its first event (before the PATCH): the poll finds it running, one logged reason', async () => {
    fake.faults.inject({ match: WATCH_KEY, drop: true });
    const prepared = w.prepareDebugContainer({ namespace: NS, pod: POD, timeoutMs: 30_000 });
    const s = await spec('scc-evidence-e6', { prepared });
    await until('the fake cut the watch', () => fake.faults.calls.some((c) => c.key === WATCH_KEY && c.fault?.drop === true) && fake.openWatches() === 0);
    await w.addDebugContainer(s);
    prepared.close();
    assert.ok(running('scc-evidence-e6'));
    assert.equal(fallbacks.length, 1);
    await watchesClosed();
  });

  test('a prepared watch never used is closed by close(); one prepared for another pod is not used', async () => {
    fake.addPod({ namespace: NS, name: 'other-0', uid: 'pod-2', nodeName: 'node-a', containers: [{ name: 'app', image: 'eu.gcr.io/p/web:2', pid: 78 }] });
    const unused = w.prepareDebugContainer({ namespace: NS, pod: POD, timeoutMs: 30_000 });
    await until('the watch is open on the server', () => fake.openWatches() === 1);
    unused.close();
    await watchesClosed();
    const other = w.prepareDebugContainer({ namespace: NS, pod: 'other-0', timeoutMs: 30_000 });
    const s = await spec('scc-evidence-e7', { prepared: other });
    const reqFrom = fake.requests.length;
    await w.addDebugContainer(s);
    assert.ok(running('scc-evidence-e7'));
    const own = fake.requests.slice(reqFrom).filter((r) => /watch=true/.test(r.query)).map((r) => new URLSearchParams(r.query));
    assert.ok(own.some((q) => q.get('fieldSelector') === `metadata.name=${POD}` && q.get('resourceVersion') === s.resourceVersion), 'its own watch of the pod, from the read version');
    other.close();
    await watchesClosed();
    assert.deepEqual(fallbacks, []);
  });
});
