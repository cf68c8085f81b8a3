// Enrichment end to end against the fakes with the real clients: GKE ClusterManagerClient
// (endpoint, CA, labels), client-node with a Google-style bearer token, and Cloud Logging.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { enrichIncident, type EnrichOptions } from '../../shared/enrich/enrich.js';
import type { StepResult } from '../../shared/common/step.js';
import { BARE_POD, INSTANCE_ID, JOB_POD, NODE, STS_POD, startWorld, type World } from '../support/fake-kube-world.js';

let world: World;
before(async () => {
  world = await startWorld();
});
after(() => world.close());

const OPTIONS: EnrichOptions = { callTimeoutMs: 15_000, logWindowMinutes: 30, maxLogEntries: 100, maxLogBytes: 256 * 1024 };
const byName = (steps: StepResult[]): Record<string, StepResult> => Object.fromEntries(steps.map((s) => [s.name, s]));

describe('a Deployment pod (the fixture)', () => {
  test('every step ok, owner chain up to the Deployment, node instance id in the node query', async () => {
    const getClusterBefore = world.gke.received.length;
    const { steps, data } = await enrichIncident(world.incident(), { directory: world.directory(), logs: world.logs() }, OPTIONS);
    const s = byName(steps);
    assert.deepEqual(steps.map((x) => x.name), ['enrich.cluster', 'enrich.pod', 'enrich.owners', 'enrich.node', 'enrich.events', 'enrich.logs.pod', 'enrich.logs.audit', 'enrich.logs.node']);
    for (const step of steps) assert.equal(step.status, 'ok', `${step.name}: ${step.reason ?? ''}`);

    // cluster
    assert.equal(data.cluster?.currentMasterVersion, '1.33.4-gke.1245000');
    assert.equal(data.cluster?.networkPolicyEnforced, true, 'Dataplane V2 enforces NetworkPolicy');
    assert.equal(data.cluster?.controlPlaneEndpoint, 'public-ip', 'the fake answers a plain endpoint: the public IP path');
    assert.deepEqual(data.cluster?.ownerHints, { team: 'payments', owner: 'jane_doe', 'cost-center': 'cc-42' });
    assert.equal(world.gke.received.length - getClusterBefore, 1, 'describe and Kubernetes access share one GetCluster');

    // pod + owners
    assert.equal(data.pod?.uid, 'pod-checkout');
    assert.equal(data.targetContainer?.name, 'checkout');
    assert.equal(data.targetContainer?.imageID, 'us-docker.pkg.dev/acme-payments-prod/apps/checkout@sha256:4b1e');
    assert.equal(data.targetContainer?.restartCount, 1);
    assert.match(data.targetContainer?.containerID ?? '', /^containerd:\/\//);
    assert.deepEqual(data.owners.map((o) => `${o.kind}/${o.name}`), ['ReplicaSet/checkout-7d9f8b6c5d', 'Deployment/checkout']);
    assert.deepEqual(data.topController, { kind: 'Deployment', name: 'checkout' });
    assert.equal(data.willBeReplaced, true);
    assert.equal(s['enrich.owners']?.data, 'ReplicaSet/checkout-7d9f8b6c5d -> Deployment/checkout');

    // node
    assert.equal(data.node?.name, NODE);
    assert.equal(data.node?.instanceId, INSTANCE_ID);
    assert.deepEqual(data.nodeFacts, { nodePool: 'default-pool', zone: 'us-central1-b', machineType: 'e2-standard-4' });

    // events
    assert.deepEqual(data.events?.map((e) => e.reason), ['Pulled', 'Started']);

    // logs: the node instance id reached the node-console filter the Logging API received
    const nodeFilter = world.logging.requests.map((r) => r.filter).find((f) => f.includes('gce_instance'));
    assert.ok(nodeFilter?.includes(`resource.labels.instance_id="${INSTANCE_ID}"`), nodeFilter);
    assert.equal(data.logs.node?.count, 1);
    assert.match(data.logs.node?.first?.text ?? '', /apparmor/);
    assert.equal(data.logs.pod?.count, 2, 'the two lines of this pod inside the window');
    assert.equal(data.logs.pod?.first?.text, 'GET /health 200');
    assert.equal(data.logs.pod?.last?.text, 'downloading http://203.0.113.50/x.sh');
    assert.equal(data.logs.pod?.truncated, false);
    for (const r of world.logging.requests) {
      assert.match(r.filter, /timestamp>="2026-11-27T08:44:02.113Z"/, 'explicit window: getEntries must not add its 24 h default');
      assert.deepEqual(r.resourceNames, ['projects/acme-payments-prod']);
    }
    // audit: who exec'd into the pod and who changed it
    assert.deepEqual(
      data.logs.audit?.actors?.map((a) => [a.principal, a.action, a.count]),
      [['eve@example.com', 'exec', 2], ['ci-deployer@acme-payments-prod.iam.gserviceaccount.com', 'patch', 1]],
    );
    assert.equal(data.logs.audit?.actors?.[0]?.firstAt, '2026-11-27T09:13:30.000Z');
  });

  test('the entry cap truncates and says so', async () => {
    const { data } = await enrichIncident(world.incident(), { directory: world.directory(), logs: world.logs() }, { ...OPTIONS, maxLogEntries: 1 });
    assert.equal(data.logs.pod?.count, 1);
    assert.equal(data.logs.pod?.truncated, true);
    const podReqs = world.logging.requests.filter((r) => r.filter.includes('k8s_container'));
    assert.equal(podReqs.at(-1)?.pageSize, 1);
  });

  test('the byte cap truncates too', async () => {
    const { data } = await enrichIncident(world.incident(), { directory: world.directory(), logs: world.logs() }, { ...OPTIONS, maxLogBytes: 150 });
    assert.equal(data.logs.pod?.truncated, true);
    assert.ok((data.logs.pod?.count ?? 0) < 2);
  });
});

describe('owner chains', () => {
  test('a StatefulSet pod: chain is the StatefulSet, it will be replaced', async () => {
    const { steps, data } = await enrichIncident(world.incident(STS_POD), { directory: world.directory(), logs: world.logs() }, OPTIONS);
    assert.equal(byName(steps)['enrich.owners']?.status, 'ok');
    assert.deepEqual(data.owners.map((o) => `${o.kind}/${o.name}`), ['StatefulSet/ledger']);
    assert.deepEqual(data.topController, { kind: 'StatefulSet', name: 'ledger' });
    assert.equal(data.willBeReplaced, true);
  });

  test('a bare pod: no owner, not replaced', async () => {
    const { steps, data } = await enrichIncident(world.incident(BARE_POD), { directory: world.directory(), logs: world.logs() }, OPTIONS);
    const owners = byName(steps)['enrich.owners'];
    assert.equal(owners?.status, 'skipped');
    assert.match(owners?.reason ?? '', /bare pod/);
    assert.deepEqual(data.owners, []);
    assert.equal(data.topController, undefined);
    assert.equal(data.willBeReplaced, false);
    assert.match(data.replacement ?? '', /no controller/);
  });

  test('a Job pod: Job -> CronJob', async () => {
    const { data } = await enrichIncident(world.incident(JOB_POD), { directory: world.directory(), logs: world.logs() }, OPTIONS);
    assert.deepEqual(data.owners.map((o) => `${o.kind}/${o.name}`), ['Job/nightly-29310', 'CronJob/nightly']);
    assert.equal(data.willBeReplaced, true);
  });
});

describe('Kubernetes access through GKE', () => {
  test('the Workloads client is cached per cluster until shortly before the token expires', async () => {
    let now = 1_000_000;
    let tokens = 0;
    const directory = world.directory({
      now: () => now,
      refreshMarginMs: 60_000,
      tokenSource: async () => {
        tokens += 1;
        return { token: world.kube.token, expiresAt: now + 10 * 60_000 };
      },
    });
    const ref = world.incident().cluster;
    assert.ok(ref);
    const [a, b] = await Promise.all([directory.workloads(ref), directory.workloads(ref)]);
    assert.equal(a, b);
    assert.equal(tokens, 1);
    now += 8 * 60_000; // still 2 min before expiry, more than the 1 min margin
    assert.equal(await directory.workloads(ref), a);
    now += 90_000; // inside the margin: a new token and client
    const c = await directory.workloads(ref);
    assert.notEqual(c, a);
    assert.equal(tokens, 2);
    assert.equal((await c.readNode(NODE)).instanceId, INSTANCE_ID);
  });

  test('the bearer token from the token source is what the Kubernetes API sees', async () => {
    const directory = world.directory({ tokenSource: async () => ({ token: 'not-the-token', expiresAt: Date.now() + 3_600_000 }) });
    const { steps } = await enrichIncident(world.incident(), { directory, logs: world.logs() }, OPTIONS);
    const pod = byName(steps)['enrich.pod'];
    assert.equal(pod?.status, 'failed');
    assert.equal(pod?.code, 401);
    assert.equal(pod?.failure, 'permanent');
  });

  test('a failure of GetCluster is not cached: the next call asks again', async () => {
    const directory = world.directory();
    const ref = world.incident().cluster;
    assert.ok(ref);
    world.gke.faults.inject({ match: 'GetCluster', status: 503 });
    await assert.rejects(directory.describe(ref));
    assert.equal((await directory.describe(ref)).name, 'payments');
  });
});

describe('concurrency', () => {
  test('with 1 s per call, independent calls overlap on the fakes', async () => {
    // The latency is long next to the time it takes to issue the calls, even on a machine
    // whose cores are all busy: calls started together are in flight together.
    for (const f of [world.kube.faults, world.gke.faults, world.logging.faults]) {
      f.latencyMs = 1000;
      f.calls.length = 0;
    }
    try {
      const { steps } = await enrichIncident(world.incident(), { directory: world.directory(), logs: world.logs() }, OPTIONS);
      for (const step of steps) assert.equal(step.status, 'ok', `${step.name}: ${step.reason ?? ''}`);
      const kubeOverlap = world.kube.faults.maxOverlap();
      const logOverlap = world.logging.faults.maxOverlap();
      const all = world.allCalls().maxOverlap();
      // pod, node and events are read at the same time; the pod and audit queries run together
      // (the node query waits for the node's instance id); logs start while GKE is asked.
      assert.ok(kubeOverlap >= 3, `kubernetes overlap ${kubeOverlap}`);
      assert.ok(logOverlap >= 2, `logging overlap ${logOverlap}`);
      assert.ok(all >= 3, `overall overlap ${all}`);
      const gkeAndLogs = world.allCalls().maxOverlap((c) => c.key === 'GetCluster' || c.key === 'ListLogEntries');
      assert.equal(gkeAndLogs, 3, 'GetCluster and the pod + audit queries are in flight together');
      // 1 GetCluster + pod/node/events + 2 owners + 3 log queries = 9 calls of 1 s: serial would be >= 9 s.
      assert.equal(world.kube.faults.calls.length + world.gke.faults.calls.length + world.logging.faults.calls.length, 9);
    } finally {
      for (const f of [world.kube.faults, world.gke.faults, world.logging.faults]) f.latencyMs = 0;
    }
  });
});
