// The Kubernetes REST calls of one Workloads share kept-alive connections: client-node 2.0.1
// alone opens a new TCP + TLS connection per call (a new undici Agent each time), which costs
// two extra round trips per call against a real API server. Counted at tls.connect.
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { Agent } from 'undici';
import { reuseConnections, workloadsFromEndpoint } from '../../shared/kube/client-node-workloads.js';
import { carrierOf, startFakeKube, type FakeKube } from '../support/fake-kube.js';

const NS = 'payments';
let kube: FakeKube;
let connects = 0;
const original = tls.connect;

before(async () => {
  kube = await startFakeKube();
  kube.addPod({ namespace: NS, name: 'web-0', uid: 'pod-web', containers: [{ name: 'web', image: 'nginx' }] });
  (tls as { connect: typeof tls.connect }).connect = ((...args: Parameters<typeof tls.connect>) => {
    connects += 1;
    return original(...args);
  }) as typeof tls.connect;
});
after(async () => {
  (tls as { connect: typeof tls.connect }).connect = original;
  await kube.close();
});

describe('Kubernetes connections', () => {
  // undici's pool may open a second connection early on; after that, calls reuse them. The pod
  // read is a critical call (an Agent of its own), the list goes on the shared one.
  test('after the first calls, further REST calls open no TLS connection', async () => {
    const w = workloadsFromEndpoint({ server: kube.url, caData: kube.caData, token: kube.token });
    connects = 0;
    await w.readPod(NS, 'web-0');
    await w.readPod(NS, 'web-0');
    await w.listPods(NS, '');
    await w.listPods(NS, '');
    const early = connects;
    assert.ok(early >= 2 && early <= 4, `${early} connections for the first four calls`);
    for (let i = 0; i < 5; i++) assert.equal((await w.readPod(NS, 'web-0')).uid, 'pod-web');
    await w.listPods(NS, '');
    assert.equal(connects, early, 'six more calls, no new connection');
  });

  test('a failed call (404) does not stop reuse, and errors keep their status', async () => {
    const w = workloadsFromEndpoint({ server: kube.url, caData: kube.caData, token: kube.token });
    await w.readPod(NS, 'web-0');
    await w.listPods(NS, '');
    await new Promise((r) => setTimeout(r, 5));
    connects = 0;
    await assert.rejects(w.readPod(NS, 'missing'), (err: unknown) => (err as { code?: number }).code === 404);
    await new Promise((r) => setTimeout(r, 5));
    await w.readPod(NS, 'web-0');
    await new Promise((r) => setTimeout(r, 5));
    await w.listPods(NS, '');
    assert.equal(connects, 0);
  });

  test('a pod DELETE (its UID precondition is a body) keeps its connection: the next call opens none', async () => {
    kube.addPod({ namespace: NS, name: 'web-del', uid: 'pod-del', containers: [{ name: 'web', image: 'nginx' }] });
    const w = workloadsFromEndpoint({ server: kube.url, caData: kube.caData, token: kube.token });
    await w.readPod(NS, 'web-0');
    await new Promise((r) => setTimeout(r, 5)); // undici reuses a connection one loop cycle after its answer
    connects = 0;
    assert.equal(await w.deletePod(NS, 'web-del', { uid: 'pod-del' }), 'deleted');
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await w.readPod(NS, 'web-0')).uid, 'pod-web');
    assert.equal(connects, 0, 'the read after the DELETE reused the connection');
  });

  test('negative control: plain undici closes the connection after a DELETE with a body, so the next request connects again', async () => {
    kube.addPod({ namespace: NS, name: 'web-del2', uid: 'pod-del2', containers: [{ name: 'web', image: 'nginx' }] });
    const agent = new Agent({ connect: { ca: Buffer.from(kube.caData, 'base64').toString('utf8') } });
    const headers = { authorization: `Bearer ${kube.token}`, 'content-type': 'application/json' };
    try {
      await (await agent.request({ origin: kube.url, path: `/api/v1/namespaces/${NS}/pods/web-0`, method: 'GET', headers })).body.text();
      await new Promise((r) => setTimeout(r, 5));
      connects = 0;
      const del = await agent.request({ origin: kube.url, path: `/api/v1/namespaces/${NS}/pods/web-del2`, method: 'DELETE', headers, body: JSON.stringify({ preconditions: { uid: 'pod-del2' } }) });
      await del.body.text();
      assert.equal(del.statusCode, 200);
      await new Promise((r) => setTimeout(r, 5));
      await (await agent.request({ origin: kube.url, path: `/api/v1/namespaces/${NS}/pods/web-0`, method: 'GET', headers })).body.text();
      assert.equal(connects, 1, 'the GET after the DELETE opened a new connection');
    } finally {
      await agent.close();
    }
  });

  /** The connection (the fake's connectionLog `conn`) that carried request `key` since `from`. */
  const carriedBy = (from: number, key: string): number | undefined => carrierOf(kube.connectionLog, from, key)?.conn;
  const readKey = (name: string): string => `GET /api/v1/namespaces/${NS}/pods/${name}`;

  // A new instance: the pod read opens the only connection and the PATCH follows its answer
  // at once, before undici hands that connection back (a full event-loop cycle later).
  test('critical calls on a new Workloads: the collector PATCH and the DELETE take the pod read\'s connection', async () => {
    kube.addPod({ namespace: NS, name: 'web-crit', uid: 'pod-crit', containers: [{ name: 'web', image: 'nginx' }] });
    const w = workloadsFromEndpoint({ server: kube.url, caData: kube.caData, token: kube.token });
    const from = kube.mark();
    connects = 0;
    const pod = await w.readPod(NS, 'web-crit');
    await w.addDebugContainer({ namespace: NS, pod: 'web-crit', name: 'scc-evidence-c1', image: 'busybox@sha256:0', targetContainer: 'web', command: ['sleep', '60'], timeoutMs: 10_000, ...(pod.resourceVersion === undefined ? {} : { resourceVersion: pod.resourceVersion }) });
    assert.equal(await w.deletePod(NS, 'web-crit', { uid: 'pod-crit' }), 'deleted');
    const read = carriedBy(from, readKey('web-crit'));
    assert.ok(read !== undefined, 'the read reached the fake');
    assert.equal(carriedBy(from, `PATCH /api/v1/namespaces/${NS}/pods/web-crit/ephemeralcontainers`), read, 'the PATCH went on the read\'s connection');
    assert.equal(carriedBy(from, `DELETE /api/v1/namespaces/${NS}/pods/web-crit`), read, 'the DELETE went on the read\'s connection');
  });

  test('critical calls keep their connection while other reads run beside them on the shared pool', async () => {
    kube.addPod({ namespace: NS, name: 'web-crit2', uid: 'pod-crit2', containers: [{ name: 'web', image: 'nginx' }] });
    const w = workloadsFromEndpoint({ server: kube.url, caData: kube.caData, token: kube.token });
    const from = kube.mark();
    await w.readPod(NS, 'web-crit2');
    // Enrichment's reads start from the same answer as the DELETE: they must not take its connection.
    const [, , deleted] = await Promise.all([w.listPods(NS, ''), w.listPods(NS, 'app=web'), w.deletePod(NS, 'web-crit2', { uid: 'pod-crit2' })]);
    assert.equal(deleted, 'deleted');
    const read = carriedBy(from, readKey('web-crit2'));
    assert.ok(read !== undefined, 'the read reached the fake');
    assert.equal(carriedBy(from, `DELETE /api/v1/namespaces/${NS}/pods/web-crit2`), read);
  });

  test('negative control: on one pool, a request sent as the previous answer arrives opens a new connection', async () => {
    const agent = new Agent({ connect: { ca: Buffer.from(kube.caData, 'base64').toString('utf8') } });
    const headers = { authorization: `Bearer ${kube.token}` };
    try {
      connects = 0;
      await (await agent.request({ origin: kube.url, path: `/api/v1/namespaces/${NS}/pods/web-0`, method: 'GET', headers })).body.text();
      await (await agent.request({ origin: kube.url, path: `/api/v1/namespaces/${NS}/pods/web-0`, method: 'GET', headers })).body.text();
      assert.equal(connects, 2, 'undici had not handed the first connection back yet');
    } finally {
      await agent.close();
    }
  });

  test('reuseConnections is idempotent on one KubeConfig', () => {
    const kc = new KubeConfig();
    const first = (kc as unknown as { createDispatcher: unknown }).createDispatcher;
    reuseConnections(kc);
    const patched = (kc as unknown as { createDispatcher: unknown }).createDispatcher;
    reuseConnections(kc);
    assert.notEqual(patched, first, 'client-node 2.x still has createDispatcher: patched');
    assert.equal((kc as unknown as { createDispatcher: unknown }).createDispatcher, patched);
  });
});
