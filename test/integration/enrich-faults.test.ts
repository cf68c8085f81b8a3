// Fault tests per dependency (GKE API, Kubernetes REST, Cloud Logging): 403, 404, 429, 500,
// slow beyond the timeout and a dropped connection each give a recorded failed step with a
// clear reason and the right classification, and every other step still runs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { enrichIncident, type EnrichOptions } from '../../shared/enrich/enrich.js';
import type { StepResult } from '../../shared/common/step.js';
import type { Fault } from '../support/faults.js';
import { DEPLOY_POD, NODE, NS, startWorld, type World } from '../support/fake-kube-world.js';

let world: World;
before(async () => {
  world = await startWorld();
});
after(() => world.close());

const OPTIONS: EnrichOptions = { callTimeoutMs: 15_000, logWindowMinutes: 30, maxLogEntries: 100, maxLogBytes: 256 * 1024 };
// The faulted call never answers, so its timeout fires however busy the machine is; the
// timeout still leaves the calls that are not faulted ample time (they must succeed).
const SLOW: EnrichOptions = { ...OPTIONS, callTimeoutMs: 3000 };

interface Case {
  label: string;
  fault: Fault;
  kind: 'transient' | 'permanent';
  /** gRPC status name for Google APIs, HTTP status for Kubernetes. */
  code: string | number;
  slow?: boolean;
  /** The client library retries this status by itself. */
  retried?: boolean;
}

async function run(options: EnrichOptions = OPTIONS): Promise<{ s: Record<string, StepResult>; data: Awaited<ReturnType<typeof enrichIncident>>['data'] }> {
  const { steps, data } = await enrichIncident(world.incident(), { directory: world.directory(), logs: world.logs() }, options);
  assert.equal(steps.length, 8, 'every step is recorded');
  return { s: Object.fromEntries(steps.map((x) => [x.name, x])), data };
}

function assertFailed(step: StepResult | undefined, c: Case, reason: RegExp): void {
  assert.ok(step, 'step recorded');
  assert.equal(step.status, 'failed', `${step.name} should fail (${step.reason ?? ''})`);
  assert.equal(step.failure, c.kind, `${step.name}: ${step.reason ?? ''}`);
  assert.equal(step.code, c.code, `${step.name}: ${step.reason ?? ''}`);
  assert.match(step.reason ?? '', reason);
}

function assertOk(s: Record<string, StepResult>, names: string[]): void {
  for (const n of names) assert.equal(s[n]?.status, 'ok', `${n} should still run: ${s[n]?.reason ?? ''}`);
}

describe('GKE API (GetCluster) faults', () => {
  const cases: Case[] = [
    { label: '403', fault: { status: 403 }, kind: 'permanent', code: 'PERMISSION_DENIED' },
    { label: '404 (cluster gone)', fault: { status: 404 }, kind: 'permanent', code: 'NOT_FOUND' },
    { label: '429', fault: { status: 429, retryAfter: 5 }, kind: 'transient', code: 'RESOURCE_EXHAUSTED' },
    { label: '500', fault: { status: 500 }, kind: 'transient', code: 'INTERNAL' },
    // gax retries UNAVAILABLE once even with maxRetries 0, then reports DEADLINE_EXCEEDED; the real status is recovered.
    { label: '503 (retried by gax, real status kept)', fault: { status: 503, times: Number.POSITIVE_INFINITY }, kind: 'transient', code: 'UNAVAILABLE', retried: true },
    { label: 'slow beyond the timeout', fault: { hang: true }, kind: 'transient', code: 'TIMEOUT', slow: true },
    // grpc-js reports a stream reset without status as INTERNAL ("RST_STREAM with code 0").
    { label: 'dropped connection', fault: { drop: true }, kind: 'transient', code: 'INTERNAL' },
  ];
  for (const c of cases) {
    test(c.label, async () => {
      const before = world.gke.received.length;
      world.gke.faults.inject({ match: 'GetCluster', ...c.fault });
      let s: Record<string, StepResult>;
      try {
        ({ s } = await run(c.slow ? SLOW : OPTIONS));
      } finally {
        world.gke.faults.clear();
      }
      if (!c.retried) assert.equal(world.gke.received.length - before, 1, 'one GetCluster shared by describe and Kubernetes access');
      assertFailed(s['enrich.cluster'], c, c.slow ? /timed out/ : /./);
      // Without the endpoint there is no Kubernetes access: each Kubernetes step says so.
      for (const n of ['enrich.pod', 'enrich.node', 'enrich.events']) assertFailed(s[n], c, /no Kubernetes access to cluster payments/);
      assert.equal(s['enrich.owners']?.status, 'skipped');
      assert.equal(s['enrich.logs.node']?.status, 'skipped');
      assert.match(s['enrich.logs.node']?.reason ?? '', /instance id unknown: the node was not read/);
      assertOk(s, ['enrich.logs.pod', 'enrich.logs.audit']);
    });
  }
});

describe('Kubernetes API faults on the pod read', () => {
  const podPath = `GET /api/v1/namespaces/${NS}/pods/${DEPLOY_POD}`;
  const cases: Case[] = [
    { label: '403', fault: { status: 403 }, kind: 'permanent', code: 403 },
    { label: '404 (pod already gone)', fault: { status: 404, message: `pods "${DEPLOY_POD}" not found` }, kind: 'permanent', code: 404 },
    { label: '429', fault: { status: 429, retryAfter: 2 }, kind: 'transient', code: 429 },
    { label: '500', fault: { status: 500 }, kind: 'transient', code: 500 },
    { label: 'slow beyond the timeout', fault: { hang: true }, kind: 'transient', code: 'TIMEOUT', slow: true },
  ];
  for (const c of cases) {
    test(c.label, async () => {
      world.kube.faults.inject({ match: podPath, ...c.fault });
      const { s, data } = await run(c.slow ? SLOW : OPTIONS);
      const reason = c.code === 404 ? /pod payments\/checkout-7d9f8b6c5d-q2x8z no longer exists \(HTTP 404\)/ : c.slow ? /timed out/ : new RegExp(`readPod pods payments/${DEPLOY_POD}: HTTP ${c.code}`);
      assertFailed(s['enrich.pod'], c, reason);
      assert.equal(data.podNotFound, c.code === 404 ? true : undefined);
      assert.equal(data.pod, undefined);
      assert.equal(s['enrich.owners']?.status, 'skipped');
      assert.equal(data.willBeReplaced, undefined, 'unknown, not false, when the pod was not read');
      // The node comes from the finding, so it (and its log query) still runs.
      assertOk(s, ['enrich.cluster', 'enrich.node', 'enrich.events', 'enrich.logs.pod', 'enrich.logs.audit', 'enrich.logs.node']);
      assert.equal(data.node?.name, NODE);
    });
  }

  test('dropped connection', async () => {
    world.kube.faults.inject({ match: podPath, drop: true });
    const { s } = await run();
    const pod = s['enrich.pod'];
    assert.equal(pod?.status, 'failed');
    assert.equal(pod?.failure, 'transient', pod?.reason);
    assert.match(pod?.reason ?? '', /readPod pods payments\/checkout-7d9f8b6c5d-q2x8z/);
    assertOk(s, ['enrich.cluster', 'enrich.node', 'enrich.events', 'enrich.logs.pod', 'enrich.logs.audit', 'enrich.logs.node']);
  });

  test('a 403 on the ReplicaSet keeps the pod, fails the owner step, and still names the controller', async () => {
    world.kube.faults.inject({ match: `GET /apis/apps/v1/namespaces/${NS}/replicasets/checkout-7d9f8b6c5d`, status: 403 });
    const { s, data } = await run();
    assertFailed(s['enrich.owners'], { label: '', fault: {}, kind: 'permanent', code: 403 }, /readOwner ReplicaSet payments\/checkout-7d9f8b6c5d: HTTP 403 Forbidden/);
    assert.deepEqual(data.topController, { kind: 'ReplicaSet', name: 'checkout-7d9f8b6c5d' });
    assert.equal(data.willBeReplaced, true);
    assertOk(s, ['enrich.pod', 'enrich.node']);
  });

  test('a 500 on the node read skips the node-console query with the reason', async () => {
    world.kube.faults.inject({ match: `GET /api/v1/nodes/${NODE}`, status: 500 });
    const { s } = await run();
    assertFailed(s['enrich.node'], { label: '', fault: {}, kind: 'transient', code: 500 }, /readNode nodes/);
    assert.equal(s['enrich.logs.node']?.status, 'skipped');
    assert.match(s['enrich.logs.node']?.reason ?? '', /the node was not read \(kubernetes readNode/);
    assert.ok(!world.logging.requests.slice(-2).some((r) => r.filter.includes('gce_instance')));
  });

  test('a 503 on events fails only the events step', async () => {
    world.kube.faults.inject({ match: `GET /api/v1/namespaces/${NS}/events`, status: 503 });
    const { s } = await run();
    assertFailed(s['enrich.events'], { label: '', fault: {}, kind: 'transient', code: 503 }, /listPodEvents/);
    assertOk(s, ['enrich.cluster', 'enrich.pod', 'enrich.owners', 'enrich.node', 'enrich.logs.pod', 'enrich.logs.audit', 'enrich.logs.node']);
  });
});

describe('Cloud Logging faults', () => {
  const cases: Case[] = [
    { label: '403', fault: { status: 403 }, kind: 'permanent', code: 'PERMISSION_DENIED' },
    { label: '404', fault: { status: 404 }, kind: 'permanent', code: 'NOT_FOUND' },
    { label: '429', fault: { status: 429 }, kind: 'transient', code: 'RESOURCE_EXHAUSTED' },
    { label: '500', fault: { status: 500 }, kind: 'transient', code: 'INTERNAL' },
    // gax retries UNAVAILABLE and then says DEADLINE_EXCEEDED: the real status is recovered.
    { label: '503 (retried by gax, real status kept)', fault: { status: 503 }, kind: 'transient', code: 'UNAVAILABLE', retried: true },
    { label: 'slow beyond the timeout', fault: { hang: true }, kind: 'transient', code: 'TIMEOUT', slow: true },
    { label: 'dropped connection', fault: { drop: true }, kind: 'transient', code: 'INTERNAL' },
  ];
  for (const c of cases) {
    test(c.label, async () => {
      world.logging.faults.inject({ match: 'ListLogEntries', times: Number.POSITIVE_INFINITY, ...c.fault });
      try {
        const { s, data } = await run(c.slow ? SLOW : OPTIONS);
        for (const n of ['enrich.logs.pod', 'enrich.logs.audit', 'enrich.logs.node']) assertFailed(s[n], c, c.slow ? /timed out/ : /./);
        assert.deepEqual(data.logs, {});
        assertOk(s, ['enrich.cluster', 'enrich.pod', 'enrich.owners', 'enrich.node', 'enrich.events']);
      } finally {
        world.logging.faults.clear();
      }
    });
  }
});
