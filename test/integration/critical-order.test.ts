// Critical call first (shared/common/turn.ts): on the way from a finding to the DELETE, each
// critical request leaves before the work that does not lead to the DELETE (enrichment, owner
// chain, prefetches, the early wave). The whole function (Functions Framework test server,
// real composition root, real client libraries) against the fakes in enforce mode; asserted on
// the order in which the fake API server received the calls, never on time. A finding is
// handled first so the client has its connections and modules: the order of sends, not of TLS
// handshakes, is what is measured.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { configureResponder } from '../../functions/scc-responder/index.js';
import { captureAudit } from '../support/audit-capture.js';
import { freshFinding, postStructured, structuredEvent } from '../support/cloudevents.js';
import { startFunctionWorld, type FunctionWorld } from '../support/function-world.js';
import { carrierOf } from '../support/fake-kube.js';
import { DEPLOY_POD, NODE, NS } from '../support/fake-kube-world.js';
import { uploadNamed } from '../support/fake-gcs.js';
import type { Stack } from '../support/stack.js';

const POD_PATH = `/api/v1/namespaces/${NS}/pods/${DEPLOY_POD}`;
const CALLS = {
  podRead: `GET ${POD_PATH}`,
  events: `GET /api/v1/namespaces/${NS}/events`,
  node: `GET /api/v1/nodes/${NODE}`,
  collector: `PATCH ${POD_PATH}/ephemeralcontainers`,
  ownerChain: `GET /apis/apps/v1/namespaces/${NS}/replicasets/checkout-7d9f8b6c5d`,
  podList: `GET /api/v1/namespaces/${NS}/pods`,
  label: `PATCH ${POD_PATH}`,
  delete: `DELETE ${POD_PATH}`,
} as const;

const POLICY_YAML = `version: 1
enrich:
  callTimeoutSeconds: 5
rules:
  - name: contain
    match:
      categories: ["Execution: Modified Malicious Binary Executed"]
      namespaces: ["${NS}"]
    mode: enforce
    actions:
      - type: labelPod
      - type: deletePod
        gracePeriodSeconds: 0
    maxActionsPerHour: 10000
`;

let stack: Stack;
let world: FunctionWorld;
let url: string;
const audit = captureAudit();

interface Delivered {
  /** The API server's calls, in the order received. */
  calls: string[];
  /** Whether the pod read was received before the first evidence-store call `storeCall` picks. */
  podReadBefore(storeCall: (key: string, query: string) => boolean): boolean;
}

/** Delivers one fresh matching finding. */
async function deliver(): Promise<Delivered> {
  stack.restoreCheckoutPod(); // the previous delivery deleted it
  const kube = stack.world.kube.faults;
  const gcs = stack.gcs.faults;
  const [kubeFrom, gcsFrom] = [kube.calls.length, gcs.calls.length];
  const { notification } = freshFinding('order');
  stack.known(notification);
  const status = (await postStructured(url, structuredEvent(notification))).status;
  assert.equal(status, 204, 'the delivery was handled (acked)');
  const kubeCalls = kube.calls.slice(kubeFrom);
  const storeCalls = gcs.calls.slice(gcsFrom);
  return {
    calls: kubeCalls.map((c) => c.key),
    podReadBefore: (storeCall) => {
      const pod = kubeCalls.find((c) => c.key === CALLS.podRead);
      const other = storeCalls.find((c) => storeCall(c.key, (c.detail as { query?: string } | undefined)?.query ?? ''));
      assert.ok(pod && other, `both calls were received: ${storeCalls.map((c) => c.key).join(', ')}`);
      // Both fakes run in this process and stamp calls with the same monotonic clock: an order, not a duration.
      return pod.start < other.start;
    },
  };
}

/** `first` was received, before every one of `later` (each received too). */
function assertReceivedBefore(calls: readonly string[], first: string, later: readonly string[]): void {
  const at = calls.indexOf(first);
  assert.ok(at >= 0, `${first} was received: ${calls.join(', ')}`);
  for (const k of later) {
    const other = calls.indexOf(k);
    assert.ok(other >= 0, `${k} was received: ${calls.join(', ')}`);
    assert.ok(at < other, `${first} was received before ${k}: ${calls.join(', ')}`);
  }
}

before(async () => {
  world = await startFunctionWorld('critical-order-', { policyYaml: POLICY_YAML, audit });
  ({ stack, url } = world);
  const warm = await deliver();
  assert.ok(warm.calls.includes(CALLS.delete), 'the warm-up finding was contained');
});

beforeEach(() => {
  audit.clear();
  stack.world.kube.faults.clear();
  stack.gcs.faults.clear();
});

after(async () => {
  await world.close();
});

describe('critical call first on the path finding -> DELETE', () => {
  test("after SCC's confirmation the pod read is the first call to the API server, before enrichment's reads and the store's read of earlier attempts", async () => {
    const { calls, podReadBefore } = await deliver();
    assert.ok(calls.includes(CALLS.delete), 'the pod was deleted');
    assert.equal(calls[0], CALLS.podRead, `the first call: ${calls.join(', ')}`);
    assertReceivedBefore(calls, CALLS.podRead, [CALLS.events, CALLS.node]);
    assert.ok(podReadBefore((key, query) => key.endsWith('/o') && decodeURIComponent(query).includes('/effects-')), "the pod read was received before the list of earlier attempts' effects");
  });

  test("once the pod is read, the collector PATCH is sent before the owner-chain read, the controller's pod list and the early label PATCH", async () => {
    // The pod's answer comes last of the first reads, so the client has idle connections then:
    // what is measured is which request it sends first, not which connection opens first.
    stack.world.kube.faults.inject({ match: CALLS.podRead, delayMs: 150 });
    const { calls } = await deliver();
    assert.ok(calls.includes(CALLS.delete), 'the pod was deleted');
    assertReceivedBefore(calls, CALLS.collector, [CALLS.ownerChain, CALLS.podList, CALLS.label]);
  });

  test('negative control: a collector PATCH held back (the claim that says whether a copy may exist answers late) fails the check', async () => {
    // The snapshot adds the collector only once it knows no earlier delivery stored a copy: for
    // a first delivery, from its claim's answer (claim-0 created). With that answer late, the
    // owner chain, the pod list and the label PATCH legitimately go first.
    stack.gcs.faults.inject({ match: 'POST /upload/', where: uploadNamed('/claim-0.json'), delayMs: 400 });
    const { calls } = await deliver();
    assert.ok(stack.gcs.faults.calls.some((c) => c.fault !== undefined), 'the claim was held back');
    assert.ok(calls.includes(CALLS.collector) && calls.includes(CALLS.delete), `the collector was added and the pod deleted: ${calls.join(', ')}`);
    assert.throws(() => assertReceivedBefore(calls, CALLS.collector, [CALLS.ownerChain, CALLS.podList, CALLS.label]), /was received before/);
  });
});

describe('a new instance: the critical calls open no connection of their own', () => {
  // A new runtime builds new clients: its first finding's pod read opens the first connection to
  // the API server, and the collector PATCH and the DELETE follow its answer at once, when undici
  // has not handed that connection back yet. 25 ms per call, so enrichment's reads are in flight
  // beside them as in production.
  test('the collector PATCH and the DELETE go on a connection an earlier call of the finding opened', async () => {
    configureResponder({ env: stack.env({ SCC_RESPONDER_POLICY: join(world.dir, 'policy.yaml') }), auditDestination: audit.destination });
    const kube = stack.world.kube;
    kube.faults.latencyMs = 25;
    try {
      const mark = kube.mark();
      const { calls } = await deliver();
      assert.ok(calls.includes(CALLS.delete), 'the pod was deleted');
      const reused = (key: string): boolean => {
        const carrier = carrierOf(kube.connectionLog, mark, key);
        assert.ok(carrier !== undefined, `${key} reached the fake`);
        return carrier.reused;
      };
      const order = JSON.stringify(kube.connectionLog.filter((e) => e.seq > mark).map((e) => `${e.kind} ${e.conn}${'key' in e ? ` ${e.key}` : ''}`));
      assert.ok(reused(CALLS.podRead) === false, `the pod read opened the first connection: ${order}`);
      assert.ok(reused(CALLS.collector), `the PATCH went on a connection already used: ${order}`);
      assert.ok(reused(CALLS.delete), `the DELETE went on a connection already used: ${order}`);
    } finally {
      kube.faults.latencyMs = 0;
    }
  });
});
