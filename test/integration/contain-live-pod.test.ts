// Issue 14 item 3 through the REAL client-node adapter against the fake API server: the rule's
// pod matchers judged again on the live pod, the UID precondition on every pod write (PATCHes
// too), the controller kinds that replace pods, and blast-radius budgets per namespace and per
// workload. Assertions look at what reached the server (fake.writes, with bodies and statuses)
// and at the server's state afterwards. The owner chain comes from readOwnerChain, the helper
// the pipeline calls.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { executeActions } from '../../shared/contain/executor.js';
import { StoreActionLimiter } from '../../shared/contain/limiter.js';
import { readOwnerChain } from '../../shared/contain/owners.js';
import type { ActionContext } from '../../shared/contain/types.js';
import { workloadsFromEndpoint } from '../../shared/kube/client-node-workloads.js';
import { decide } from '../../shared/policy/decide.js';
import { policySchema } from '../../shared/policy/schema.js';
import type { PlannedAction, ResponsePlan } from '../../shared/policy/types.js';
import type { Workloads } from '../../shared/ports.js';
import { startFakeKube, type FakeKube, type FakeWrite } from '../support/fake-kube.js';
import { MemoryStore } from '../support/memory-store.js';
import { incident, plan } from '../unit/contain-helpers.js';

const NODE = 'gke-payments-default-pool-1a2b3c4d-x7k9';
const CREATED = '2026-11-26T22:01:40Z';
const IMAGE = 'us-docker.pkg.dev/acme-payments/app/checkout:1.4.2';
const DELETE: PlannedAction = { type: 'deletePod', params: { gracePeriodSeconds: 0, requireController: true } };
const LABEL: PlannedAction = { type: 'labelPod', params: {} };
const ANNOTATE: PlannedAction = { type: 'annotatePod', params: {} };
const QUARANTINE: PlannedAction = { type: 'quarantinePod', params: {} };

let fake: FakeKube;
let workloads: Workloads;

before(async () => {
  fake = await startFakeKube();
  fake.replaceAfterMs = 20;
  workloads = workloadsFromEndpoint({ server: fake.url, caData: fake.caData, token: fake.token });
  fake.addNode({ name: NODE });
});
after(() => fake.close());

interface PodOptions {
  labels?: Record<string, string>;
  image?: string;
  controller?: { apiVersion: string; kind: string; name: string; uid: string };
}

/** A Deployment -> ReplicaSet -> pod chain (unless `controller` says otherwise). */
function addPod(ns: string, name: string, o: PodOptions = {}): void {
  const rs = `${name}-rs`;
  if (o.controller === undefined) {
    fake.addObject('Deployment', { namespace: ns, name: `${name}-dep`, uid: `${ns}-${name}-dep`, replicas: 2 });
    fake.addObject('ReplicaSet', {
      namespace: ns,
      name: rs,
      uid: `${ns}-${name}-rs`,
      replicas: 2,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: `${name}-dep`, uid: `${ns}-${name}-dep`, controller: true }],
    });
  }
  const controller = o.controller ?? { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: `${ns}-${name}-rs` };
  fake.addPod({
    namespace: ns,
    name,
    nodeName: NODE,
    creationTimestamp: CREATED,
    labels: { app: name, ...(o.labels ?? {}) },
    ownerReferences: [{ ...controller, controller: true }],
    containers: [{ name: 'checkout', image: o.image ?? IMAGE }],
  });
}

/** The context as the pipeline builds it: the pod read by name, its owner chain through readOwnerChain. */
async function liveContext(ns: string, name: string, p: ResponsePlan, over: Partial<ActionContext> = {}): Promise<ActionContext> {
  const pod = await workloads.readPod(ns, name);
  const { owners } = await readOwnerChain(workloads, pod, { callTimeoutMs: 10_000 });
  return {
    incident: incident({ namespace: ns, pod: name, container: 'checkout', node: NODE, imageUri: IMAGE, podLabels: { app: name }, findingName: `f-${ns}-${name}`, findingId: `f-${ns}-${name}` }),
    plan: p,
    pod,
    owners,
    evidence: { stored: true, uri: 'memory://evidence/x/binary' },
    workloads,
    mode: p.mode === 'dry-run' ? 'dry-run' : 'enforce',
    clusterEnforcesNetworkPolicy: true,
    observeReplacementMs: 0,
    ...over,
  };
}

function writesSince(mark: number): FakeWrite[] {
  return fake.writes.slice(mark);
}

describe('the rule is judged again on the live pod', () => {
  // decide() fills the plan's podScope from the rule, as in production.
  const policy = policySchema.parse({
    version: 1,
    rules: [
      {
        name: 'contain-app',
        match: { categories: ['Execution: Modified Malicious Binary Executed'], images: ['us-docker.pkg.dev/acme-*/**'] },
        exclude: { podLabels: { 'scc-responder/exempt': 'true' } },
        mode: 'enforce',
        requireEvidence: false,
        actions: [{ type: 'labelPod' }, { type: 'deletePod', gracePeriodSeconds: 0 }],
      },
    ],
  });
  const planFor = async (ns: string, name: string): Promise<ResponsePlan> => {
    const d = decide(incident({ namespace: ns, pod: name, container: 'checkout', imageUri: IMAGE, podLabels: { app: name } }), policy);
    assert.equal(d.matched, true, 'the finding copy is in scope');
    return d as ResponsePlan;
  };

  test('an exemption label on the live pod (not in the message) refuses every action: nothing is written', async () => {
    addPod('exempt', 'web', { labels: { 'scc-responder/exempt': 'true' } });
    const ctx = await liveContext('exempt', 'web', await planFor('exempt', 'web'));
    const mark = fake.writes.length;
    const r = await executeActions(ctx);
    assert.deepEqual(r.outcomes.map((o) => o.status), ['refused', 'refused']);
    for (const o of r.outcomes) {
      const g = o.guards.find((x) => x.name === 'live-pod-scope');
      assert.equal(g?.verdict, 'fail');
      assert.match(g?.reason ?? '', /label scc-responder\/exempt="true" matches exclude\.podLabels/);
    }
    assert.equal(writesSince(mark).length, 0);
    assert.ok(fake.pod('exempt', 'web'), 'the pod lives');
  });

  test('an image outside match.images on the live pod refuses the delete', async () => {
    addPod('image', 'web', { image: 'docker.io/library/nginx:1.27' });
    const ctx = await liveContext('image', 'web', await planFor('image', 'web'));
    const mark = fake.writes.length;
    const r = await executeActions(ctx);
    assert.equal(r.outcomes.find((o) => o.type === 'deletePod')?.status, 'refused');
    assert.match(r.outcomes[0]?.guards.find((g) => g.name === 'live-pod-scope')?.reason ?? '', /image "docker\.io\/library\/nginx:1\.27" matches none of match\.images/);
    assert.equal(writesSince(mark).filter((w) => w.method === 'DELETE').length, 0);
  });

  test('negative control: the same rule on a pod still in scope labels and deletes it', async () => {
    addPod('inscope', 'web');
    const ctx = await liveContext('inscope', 'web', await planFor('inscope', 'web'));
    const r = await executeActions(ctx, { limiter: new StoreActionLimiter(new MemoryStore()) });
    assert.deepEqual(r.outcomes.map((o) => o.status), ['done', 'done'], JSON.stringify(r.outcomes.map((o) => o.detail)));
    assert.equal(r.outcomes[0]?.guards.find((g) => g.name === 'live-pod-scope')?.verdict, 'pass');
  });
});

describe('every pod write carries the UID precondition', () => {
  /** Reads the pod, then the name is taken by a new pod (a StatefulSet-style replacement) before acting. */
  async function replacedAfterRead(ns: string): Promise<{ ctx: ActionContext; oldUid: string; newUid: string }> {
    addPod(ns, 'db-0');
    const ctx = await liveContext(ns, 'db-0', plan([LABEL, ANNOTATE, QUARANTINE], { requireEvidence: false }));
    const oldUid = ctx.pod?.uid ?? '';
    addPod(ns, 'db-0'); // same name, new UID
    const newUid = fake.pod(ns, 'db-0')?.uid ?? '';
    assert.notEqual(newUid, oldUid);
    return { ctx, oldUid, newUid };
  }

  test('label, annotate and quarantine PATCHes are refused by the API server on a same-named replacement pod', async () => {
    const { ctx, oldUid } = await replacedAfterRead('uid-patch');
    const mark = fake.writes.length;
    const r = await executeActions(ctx);
    assert.deepEqual(r.outcomes.map((o) => [o.type, o.status]), [['labelPod', 'refused'], ['annotatePod', 'refused'], ['quarantinePod', 'refused']]);
    for (const o of r.outcomes) assert.match(o.detail, /a different pod now has this name \(UID precondition\)/);
    const patches = writesSince(mark).filter((w) => w.method === 'PATCH');
    assert.equal(patches.length, 3);
    for (const p of patches) {
      assert.equal(p.status, 422, 'the server refused it');
      assert.equal((p.body as { metadata?: { uid?: string } }).metadata?.uid, oldUid, 'the patch names the pod it was meant for');
    }
    const live = fake.pod('uid-patch', 'db-0');
    assert.deepEqual(live?.labels, { app: 'db-0' }, 'the replacement is not labelled');
    assert.deepEqual(live?.annotations ?? {}, {}, 'nor annotated');
  });

  test('negative control: the pod as read is patched, and the patch body carries its UID', async () => {
    addPod('uid-ok', 'db-0');
    const ctx = await liveContext('uid-ok', 'db-0', plan([LABEL, ANNOTATE], { requireEvidence: false }));
    const mark = fake.writes.length;
    const r = await executeActions(ctx);
    assert.deepEqual(r.outcomes.map((o) => o.status), ['done', 'done']);
    const patches = writesSince(mark).filter((w) => w.method === 'PATCH');
    assert.deepEqual(patches.map((p) => [p.status, (p.body as { metadata?: { uid?: string } }).metadata?.uid]), [[200, ctx.pod?.uid], [200, ctx.pod?.uid]]);
    assert.equal(fake.pod('uid-ok', 'db-0')?.labels?.['scc-responder/finding'], 'f-uid-ok-db-0');
  });
});

describe('require-controller accepts only controllers that replace pods', () => {
  test('a pod "controlled by" a ConfigMap is not deleted; nothing is sent', async () => {
    addPod('cm', 'web', { controller: { apiVersion: 'v1', kind: 'ConfigMap', name: 'settings', uid: 'cm-uid' } });
    const ctx = await liveContext('cm', 'web', plan([DELETE]));
    assert.deepEqual(ctx.owners, [], 'the adapter reads no ConfigMap as an owner');
    const mark = fake.writes.length;
    const r = await executeActions(ctx);
    assert.equal(r.outcomes[0]?.status, 'refused');
    assert.match(r.outcomes[0]?.guards.find((g) => g.name === 'require-controller')?.reason ?? '', /v1 ConfigMap\/settings is not a kind that replaces pods/);
    assert.equal(writesSince(mark).length, 0);
    assert.ok(fake.pod('cm', 'web'));
  });

  test('a Deployment pod is deleted, and the guard names the chain read by readOwnerChain', async () => {
    addPod('chain', 'web');
    const ctx = await liveContext('chain', 'web', plan([DELETE]));
    assert.deepEqual(ctx.owners.map((o) => o.kind), ['ReplicaSet', 'Deployment']);
    const r = await executeActions(ctx);
    assert.equal(r.outcomes[0]?.status, 'done', r.outcomes[0]?.detail);
    assert.match(r.outcomes[0]?.guards.find((g) => g.name === 'require-controller')?.reason ?? '', /chain ReplicaSet\/web-rs -> Deployment\/web-dep/);
    assert.equal(r.outcomes[0]?.data?.['topController'], 'Deployment/web-dep');
  });
});

describe('blast-radius budgets per namespace and per workload', () => {
  test('per namespace: one namespace using up its budget leaves the other namespaces theirs', async () => {
    for (const ns of ['budget-a', 'budget-b']) for (const name of ['w1', 'w2']) addPod(ns, name);
    const limiter = new StoreActionLimiter(new MemoryStore());
    const p = plan([DELETE], { rule: 'scoped', maxActionsPerHour: 10, maxActionsPerHourPerNamespace: 1 });
    const run = async (ns: string, name: string): Promise<string | undefined> => (await executeActions(await liveContext(ns, name, p), { limiter })).outcomes[0]?.status;
    const mark = fake.writes.length;
    assert.equal(await run('budget-a', 'w1'), 'done');
    assert.equal(await run('budget-a', 'w2'), 'would-do', 'namespace a is out of budget');
    assert.equal(await run('budget-b', 'w1'), 'done', 'namespace b still has its own');
    assert.equal(writesSince(mark).filter((w) => w.method === 'DELETE').length, 2);
  });

  test('per workload: a second pod of the same Deployment degrades, another Deployment is still contained', async () => {
    addPod('budget-w', 'api');
    fake.addPod({ ...structuredClone(fake.pod('budget-w', 'api')!), name: 'api-2', uid: 'api-2-uid' });
    addPod('budget-w', 'shop');
    const limiter = new StoreActionLimiter(new MemoryStore());
    const p = plan([DELETE], { rule: 'scoped', maxActionsPerHour: 10, maxActionsPerHourPerWorkload: 1 });
    const first = await executeActions(await liveContext('budget-w', 'api', p), { limiter });
    const second = await executeActions(await liveContext('budget-w', 'api-2', p), { limiter });
    const other = await executeActions(await liveContext('budget-w', 'shop', p), { limiter });
    assert.deepEqual([first, second, other].map((r) => r.outcomes[0]?.status), ['done', 'would-do', 'done']);
    assert.match(second.outcomes[0]?.warnings.join('\n') ?? '', /reached for rule scoped on workload budget-w\/Deployment\/api-dep/);
  });
});
