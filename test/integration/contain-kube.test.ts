// Containment against the fake API server through the REAL client-node adapter: the
// context is built the way the pipeline builds it (read pod, owner chain, node), the
// executor acts, and the assertions look at what reached the server (fake.writes) and at
// the server's state afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { executeActions, needsRetry } from '../../shared/contain/executor.js';
import { StoreActionLimiter } from '../../shared/contain/limiter.js';
import type { ActionContext, ActionOutcome } from '../../shared/contain/types.js';
import { workloadsFromEndpoint } from '../../shared/kube/client-node-workloads.js';
import type { PlannedAction, ResponsePlan } from '../../shared/policy/types.js';
import type { OwnerView, PodView, Workloads } from '../../shared/ports.js';
import { classifyError } from '../../shared/common/errors.js';
import { startFakeKube, type FakeKube, type FakeWrite } from '../support/fake-kube.js';
import { MemoryStore } from '../support/memory-store.js';
import { incident, plan } from '../unit/contain-helpers.js';

const NODE = 'gke-payments-default-pool-1a2b3c4d-x7k9';
/** Before the finding's eventTime (2026-11-27T09:14:02Z): the pods the finding is about. */
const CREATED = '2026-11-26T22:01:40Z';

let fake: FakeKube;
let workloads: Workloads;

function adapter(): Workloads {
  return workloadsFromEndpoint({ server: fake.url, caData: fake.caData, token: fake.token });
}

before(async () => {
  fake = await startFakeKube();
  fake.replaceAfterMs = 20;
  workloads = adapter();
  fake.addNode({ name: NODE, annotations: { 'container.googleapis.com/instance_id': '4242' } });
});
after(() => fake.close());

/** A Deployment -> ReplicaSet -> pods chain in `ns`; returns the pod names. */
function addDeployment(ns: string, replicas = 2): string[] {
  fake.addObject('Deployment', { namespace: ns, name: 'checkout', uid: `${ns}-dep`, replicas });
  fake.addObject('ReplicaSet', {
    namespace: ns,
    name: 'checkout-7d9f8b6c5d',
    uid: `${ns}-rs`,
    replicas,
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'checkout', uid: `${ns}-dep`, controller: true }],
  });
  const names = Array.from({ length: replicas }, (_, i) => `checkout-7d9f8b6c5d-pod${i}`);
  for (const name of names) {
    fake.addPod({
      namespace: ns,
      name,
      nodeName: NODE,
      creationTimestamp: CREATED,
      labels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-7d9f8b6c5d', uid: `${ns}-rs`, controller: true }],
      containers: [{ name: 'checkout' }],
    });
  }
  return names;
}

function addBarePod(ns: string, name: string): void {
  fake.addPod({ namespace: ns, name, nodeName: NODE, creationTimestamp: CREATED, labels: { app: 'debug' }, containers: [{ name: 'checkout' }] });
}

function addStatefulSetPod(ns: string): void {
  fake.addObject('StatefulSet', { namespace: ns, name: 'db', uid: `${ns}-sts`, replicas: 1 });
  fake.addPod({
    namespace: ns,
    name: 'db-0',
    nodeName: NODE,
    creationTimestamp: CREATED,
    labels: { app: 'db', 'statefulset.kubernetes.io/pod-name': 'db-0' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: `${ns}-sts`, controller: true }],
    containers: [{ name: 'checkout' }],
  });
}

/** What the pipeline's enrichment gives the executor: pod, owner chain, node, read through the adapter. */
async function liveContext(ns: string, pod: string, p: ResponsePlan, over: Partial<ActionContext> = {}, w: Workloads = workloads): Promise<ActionContext> {
  let view: PodView | undefined;
  let podNotFound = false;
  try {
    view = await w.readPod(ns, pod);
  } catch (err) {
    if (classifyError(err).code !== 404) throw err;
    podNotFound = true;
  }
  const owners: OwnerView[] = [];
  let ref = view?.ownerReferences.find((r) => r.controller === true);
  while (ref !== undefined && owners.length < 5) {
    const owner = await w.readOwner(ns, ref);
    owners.push(owner);
    ref = owner.ownerReferences.find((r) => r.controller === true);
  }
  const node = await w.readNode(NODE);
  return {
    incident: incident({ namespace: ns, pod, container: 'checkout', node: NODE }),
    plan: p,
    ...(view === undefined ? {} : { pod: view }),
    podNotFound,
    owners,
    node,
    evidence: { stored: true, uri: 'memory://evidence/x/binary' },
    workloads: w,
    mode: p.mode === 'dry-run' ? 'dry-run' : 'enforce',
    clusterEnforcesNetworkPolicy: true,
    // Long enough for a busy machine; the tests that expect no replacement set their own bound.
    observeReplacementMs: 15_000,
    ...over,
  };
}

function writesSince(mark: number): FakeWrite[] {
  return fake.writes.slice(mark);
}

function verdicts(outcomes: ActionOutcome[]): string[] {
  return outcomes.map((o) => `${o.type}:${o.guards.map((g) => `${g.name}=${g.verdict}`).join(',')}`);
}

const DELETE: PlannedAction = { type: 'deletePod', params: { gracePeriodSeconds: 0, requireController: true } };

describe('deletePod', () => {
  test('Deployment pod: deleted with its UID as precondition; the replacement is observed (not the sibling)', async () => {
    const [target, sibling] = addDeployment('dep');
    const ctx = await liveContext('dep', target ?? '', plan([DELETE]));
    const mark = fake.writes.length;
    const { outcomes, steps } = await executeActions(ctx);
    const o = outcomes[0];
    assert.equal(o?.status, 'done', o?.detail);
    assert.equal(steps[0]?.name, 'contain.deletePod');
    assert.equal(steps[0]?.status, 'ok');
    const w = writesSince(mark);
    assert.equal(w.length, 1);
    assert.equal(w[0]?.method, 'DELETE');
    assert.equal(w[0]?.path, `/api/v1/namespaces/dep/pods/${target}`);
    assert.deepEqual((w[0]?.body as { preconditions?: unknown }).preconditions, { uid: ctx.pod?.uid });
    assert.equal(fake.pod('dep', target ?? ''), undefined);
    const replacement = o?.data?.['replacement'] as { observed: boolean; pod?: { name: string; uid: string } };
    assert.equal(replacement.observed, true, JSON.stringify(replacement));
    assert.notEqual(replacement.pod?.name, sibling);
    assert.notEqual(replacement.pod?.name, target);
    assert.ok(fake.pod('dep', replacement.pod?.name ?? ''));
    assert.equal(o?.data?.['topController'], 'Deployment/checkout');
  });

  test('no replacement (a Job past its backoffLimit does not recreate): reported as not observed, bounded, still done', async () => {
    // The Job controller counts the deleted pod as failed; with backoffLimit 0 the Job has failed.
    fake.addObject('Job', { namespace: 'job', name: 'batch-1', uid: 'job-uid', backoffLimit: 0 });
    fake.addPod({
      namespace: 'job', name: 'batch-1-abcde', nodeName: NODE, creationTimestamp: CREATED, labels: { 'batch.kubernetes.io/controller-uid': 'job-uid' },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'batch-1', uid: 'job-uid', controller: true }], containers: [{ name: 'checkout' }],
    });
    const ctx = await liveContext('job', 'batch-1-abcde', plan([DELETE]), { observeReplacementMs: 300 });
    const { outcomes } = await executeActions(ctx);
    assert.equal(outcomes[0]?.status, 'done');
    const r = outcomes[0]?.data?.['replacement'] as { observed: boolean; reason: string };
    assert.equal(r.observed, false);
    assert.match(r.reason, /not waited on longer/);
  });

  test('StatefulSet name reuse: the UID precondition stops the second delete, and a re-read replacement is refused', async () => {
    addStatefulSetPod('sts');
    const ctx = await liveContext('sts', 'db-0', plan([DELETE]));
    const oldUid = ctx.pod?.uid;
    const first = await executeActions(ctx);
    assert.equal(first.outcomes[0]?.status, 'done', first.outcomes[0]?.detail);
    const r = first.outcomes[0]?.data?.['replacement'] as { observed: boolean; pod?: { name: string; uid: string } };
    assert.equal(r.observed, true, JSON.stringify(r));
    assert.equal(r.pod?.name, 'db-0');
    assert.notEqual(r.pod?.uid, oldUid);

    // The same delete again with the stale view (a retry of the step): 409 from the UID precondition.
    const mark = fake.writes.length;
    const second = await executeActions(ctx);
    const o = second.outcomes[0];
    assert.equal(o?.status, 'refused');
    assert.equal(o?.error?.code, 409);
    assert.equal(o?.error?.kind, 'permanent');
    assert.match(o?.detail ?? '', /a different pod now has this name \(UID precondition\)/);
    assert.equal(writesSince(mark)[0]?.status, 409);
    assert.equal(fake.pod('sts', 'db-0')?.uid, r.pod?.uid, 'the replacement survives');
    assert.equal(needsRetry(second), false);

    // A redelivery re-reads the pod by name and gets the replacement: pod-identity refuses, nothing is sent.
    const fresh = await liveContext('sts', 'db-0', plan([DELETE]));
    const mark2 = fake.writes.length;
    const third = await executeActions(fresh);
    assert.equal(third.outcomes[0]?.status, 'refused');
    assert.match(third.outcomes[0]?.detail ?? '', /replacement/);
    assert.equal(writesSince(mark2).length, 0);
  });

  test('bare pod is refused under requireController, deleted when the rule says false', async () => {
    addBarePod('bare', 'debug-shell');
    const mark = fake.writes.length;
    const refused = await executeActions(await liveContext('bare', 'debug-shell', plan([DELETE])));
    assert.equal(refused.outcomes[0]?.status, 'refused');
    assert.equal(refused.outcomes[0]?.guards.find((g) => g.name === 'require-controller')?.verdict, 'fail');
    assert.equal(writesSince(mark).length, 0);
    assert.ok(fake.pod('bare', 'debug-shell'));

    const allowed = await executeActions(await liveContext('bare', 'debug-shell', plan([{ type: 'deletePod', params: { gracePeriodSeconds: 0, requireController: false } }])));
    assert.equal(allowed.outcomes[0]?.status, 'done');
    assert.equal(fake.pod('bare', 'debug-shell'), undefined);
  });

  test('protected namespace is refused, whatever the rule says', async () => {
    addBarePod('kube-system', 'kube-proxy-x');
    const mark = fake.writes.length;
    const all: PlannedAction[] = [{ type: 'deletePod', params: { requireController: false } }, { type: 'labelPod', params: {} }, { type: 'quarantinePod', params: {} }, { type: 'cordonNode', params: {} }];
    const { outcomes } = await executeActions(await liveContext('kube-system', 'kube-proxy-x', plan(all, { requireEvidence: false })));
    assert.ok(outcomes.every((o) => o.status === 'refused' && o.guards.some((g) => g.name === 'protected-namespace' && g.verdict === 'fail')));
    assert.equal(writesSince(mark).length, 0);
  });

  test('evidence failure blocks deletion (nothing sent); waived by requireEvidence: false', async () => {
    const [target] = addDeployment('evidence', 1);
    const mark = fake.writes.length;
    const blocked = await executeActions(await liveContext('evidence', target ?? '', plan([DELETE]), { evidence: { stored: false, reason: 'snapshot failed: exec exit 126 (no cat in the image)' } }));
    assert.equal(blocked.outcomes[0]?.status, 'refused');
    assert.match(blocked.outcomes[0]?.detail ?? '', /evidence not stored \(snapshot failed/);
    assert.equal(writesSince(mark).length, 0);
    assert.ok(fake.pod('evidence', target ?? ''));
  });

  test('404 on delete is success', async () => {
    const [target] = addDeployment('gone', 1);
    const ctx = await liveContext('gone', target ?? '', plan([DELETE]));
    fake.faults.inject({ match: `DELETE /api/v1/namespaces/gone/pods/${target}`, status: 404 });
    const { outcomes, steps } = await executeActions(ctx);
    assert.equal(outcomes[0]?.status, 'done');
    assert.match(outcomes[0]?.detail ?? '', /already gone \(404\)/);
    assert.equal(outcomes[0]?.writes[0]?.result, 'not-found');
    assert.equal(steps[0]?.status, 'ok');
  });

  test('500 on delete is a transient failure (retry); 409 is a permanent refusal; 403 permanent failure', async () => {
    const [target] = addDeployment('errors', 1);
    const ctx = await liveContext('errors', target ?? '', plan([DELETE]));
    const path = `DELETE /api/v1/namespaces/errors/pods/${target}`;

    fake.faults.inject({ match: path, status: 500 });
    const e500 = await executeActions(ctx);
    assert.equal(e500.outcomes[0]?.status, 'failed');
    assert.deepEqual([e500.outcomes[0]?.error?.kind, e500.outcomes[0]?.error?.code], ['transient', 500]);
    assert.deepEqual([e500.steps[0]?.status, e500.steps[0]?.failure, e500.steps[0]?.code], ['failed', 'transient', 500]);
    assert.equal(needsRetry(e500), true);

    fake.faults.inject({ match: path, status: 409 });
    const e409 = await executeActions(ctx);
    assert.equal(e409.outcomes[0]?.status, 'refused');
    assert.deepEqual([e409.outcomes[0]?.error?.kind, e409.outcomes[0]?.error?.code], ['permanent', 409]);

    fake.faults.inject({ match: path, status: 403 });
    const e403 = await executeActions(ctx);
    assert.equal(e403.outcomes[0]?.status, 'failed');
    assert.deepEqual([e403.outcomes[0]?.error?.kind, e403.outcomes[0]?.error?.code], ['permanent', 403]);
    assert.equal(needsRetry(e403), false);
    assert.ok(fake.pod('errors', target ?? ''), 'none of the faulted deletes removed the pod');
  });
});

describe('quarantinePod', () => {
  test('labels the single pod with a unique value and creates a deny-all NetworkPolicy selecting exactly it; idempotent', async () => {
    const [target, sibling] = addDeployment('quarantine');
    const q: PlannedAction = { type: 'quarantinePod', params: {} };
    const mark = fake.writes.length;
    const { outcomes } = await executeActions(await liveContext('quarantine', target ?? '', plan([q])));
    assert.equal(outcomes[0]?.status, 'done', outcomes[0]?.detail);
    const label = fake.pod('quarantine', target ?? '')?.labels?.['scc-responder/quarantine'];
    assert.match(label ?? '', /^q-[0-9a-f]{12}$/);
    assert.equal(fake.pod('quarantine', sibling ?? '')?.labels?.['scc-responder/quarantine'], undefined, 'the sibling is not quarantined');
    const policies = [...fake.networkPolicies.values()] as { metadata: { name: string; namespace?: string }; spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress?: unknown[]; egress?: unknown[] } }[];
    const np = policies.find((p) => p.metadata.name === `scc-quarantine-${label}`);
    assert.ok(np, `policies: ${policies.map((p) => p.metadata.name).join(', ')}`);
    assert.deepEqual(np.spec.podSelector.matchLabels, { 'scc-responder/quarantine': label });
    assert.deepEqual([...np.spec.policyTypes].sort(), ['Egress', 'Ingress']);
    assert.deepEqual([np.spec.ingress ?? [], np.spec.egress ?? []], [[], []]);
    assert.deepEqual(writesSince(mark).map((w) => w.method), ['POST', 'PATCH']);

    // Redelivery: same value, the policy already exists, still one policy.
    const again = await executeActions(await liveContext('quarantine', target ?? '', plan([q])));
    assert.equal(again.outcomes[0]?.status, 'done');
    assert.equal(again.outcomes[0]?.data?.['networkPolicyResult'], 'exists');
    assert.equal(policies.length, [...fake.networkPolicies.values()].filter((p) => (p as { metadata: { namespace?: string } }).metadata.namespace === 'quarantine').length);
  });

  test('a cluster without NetworkPolicy enforcement is said plainly', async () => {
    const [target] = addDeployment('noenforce', 1);
    const { outcomes } = await executeActions(await liveContext('noenforce', target ?? '', plan([{ type: 'quarantinePod', params: {} }]), { clusterEnforcesNetworkPolicy: false }));
    assert.equal(outcomes[0]?.status, 'done');
    assert.ok(outcomes[0]?.warnings.some((w) => /does NOT enforce NetworkPolicy/.test(w)));
    assert.match(outcomes[0]?.detail ?? '', /NOT isolated/);
  });
});

describe('cordonNode, labelPod, annotatePod', () => {
  test('cordon patches the node; a second run sees it cordoned and writes nothing', async () => {
    const [target] = addDeployment('cordon', 1);
    const mark = fake.writes.length;
    const { outcomes } = await executeActions(await liveContext('cordon', target ?? '', plan([{ type: 'cordonNode', params: {} }])));
    assert.equal(outcomes[0]?.status, 'done');
    assert.equal(fake.node(NODE)?.unschedulable, true);
    const w = writesSince(mark);
    assert.deepEqual(w.map((x) => [x.method, x.path]), [['PATCH', `/api/v1/nodes/${NODE}`]]);
    const mark2 = fake.writes.length;
    const again = await executeActions(await liveContext('cordon', target ?? '', plan([{ type: 'cordonNode', params: {} }])));
    assert.equal(again.outcomes[0]?.status, 'skipped');
    assert.equal(writesSince(mark2).length, 0);
    fake.addNode({ name: NODE, annotations: { 'container.googleapis.com/instance_id': '4242' } }); // uncordon for the other tests
  });

  test('label and annotation record the finding; a second run writes nothing', async () => {
    const [target] = addDeployment('label', 1);
    const p = plan([{ type: 'annotatePod', params: {} }, { type: 'labelPod', params: {} }]);
    const { outcomes } = await executeActions(await liveContext('label', target ?? '', p));
    assert.deepEqual(outcomes.map((o) => o.status), ['done', 'done']);
    const pod = fake.pod('label', target ?? '');
    assert.equal(pod?.labels?.['scc-responder/finding'], 'a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b');
    assert.match(pod?.annotations?.['scc-responder/finding'] ?? '', /^organizations\/123456789012\/sources\/.*\/findings\/a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b$/);
    const mark = fake.writes.length;
    const again = await executeActions(await liveContext('label', target ?? '', p));
    assert.deepEqual(again.outcomes.map((o) => o.status), ['skipped', 'skipped']);
    assert.equal(writesSince(mark).length, 0);
  });
});

describe('dry-run tells the truth', () => {
  test('same plan and guard verdicts as enforce; only enforce writes', async () => {
    const [target] = addDeployment('dryrun', 2);
    const actions: PlannedAction[] = [DELETE, { type: 'labelPod', params: {} }, { type: 'annotatePod', params: {} }, { type: 'quarantinePod', params: {} }];
    const store = new MemoryStore();
    const limiter = new StoreActionLimiter(store);

    const mark = fake.writes.length;
    const dry = await executeActions(await liveContext('dryrun', target ?? '', plan(actions, { mode: 'dry-run', maxActionsPerHour: 5 })), { limiter });
    assert.equal(writesSince(mark).length, 0, 'dry-run sent no write to the API server');
    assert.equal(store.creates.length, 0, 'dry-run took no blast-radius slot');
    assert.ok(dry.outcomes.every((o) => o.status === 'would-do'), JSON.stringify(dry.outcomes.map((o) => o.detail)));

    const enf = await executeActions(await liveContext('dryrun', target ?? '', plan(actions, { mode: 'enforce', maxActionsPerHour: 5 })), { limiter });
    assert.deepEqual(enf.outcomes.map((o) => o.type), dry.outcomes.map((o) => o.type));
    assert.deepEqual(verdicts(enf.outcomes), verdicts(dry.outcomes));
    assert.deepEqual(enf.outcomes.map((o) => o.guards.map((g) => g.reason)), dry.outcomes.map((o) => o.guards.map((g) => g.reason)));
    assert.ok(enf.outcomes.every((o) => o.status === 'done'), JSON.stringify(enf.outcomes.map((o) => o.detail)));
    // What dry-run announced is what enforce sent.
    const strip = (o: ActionOutcome[]): unknown => o.map((x) => x.writes.map((w) => [w.call, w.target]));
    assert.deepEqual(strip(enf.outcomes), strip(dry.outcomes));
    assert.deepEqual(writesSince(mark).map((w) => w.method), ['PATCH', 'PATCH', 'POST', 'PATCH', 'DELETE']);
  });
});

describe('blast-radius limit across two function instances', () => {
  test('two instances (own adapter, own limiter) sharing one store delete at most the limit', async () => {
    const pods = addDeployment('blast', 5);
    const store = new MemoryStore();
    const instances = [
      { w: adapter(), limiter: new StoreActionLimiter(store) },
      { w: adapter(), limiter: new StoreActionLimiter(store) },
    ];
    const p = plan([DELETE], { rule: 'delete-critical', maxActionsPerHour: 2 });
    const contexts = await Promise.all(
      pods.map((name, i) => {
        const inst = instances[i % 2];
        if (inst === undefined) throw new Error('no instance');
        return liveContext('blast', name, p, { observeReplacementMs: 0, incident: incident({ namespace: 'blast', pod: name, container: 'checkout', node: NODE, findingName: `${name}-finding`, findingId: name }) }, inst.w);
      }),
    );
    const mark = fake.writes.length;
    const results = await Promise.all(contexts.map((ctx, i) => executeActions(ctx, { limiter: instances[i % 2]?.limiter ?? instances[0]!.limiter })));
    const statuses = results.map((r) => r.outcomes[0]?.status);
    assert.equal(statuses.filter((s) => s === 'done').length, 2, JSON.stringify(statuses));
    assert.equal(statuses.filter((s) => s === 'would-do').length, 3);
    const degraded = results.flatMap((r) => r.outcomes).filter((o) => o.status === 'would-do');
    assert.ok(degraded.every((o) => o.mode === 'dry-run' && o.requestedMode === 'enforce' && o.warnings.some((w) => /maxActionsPerHour \(2\) reached/.test(w))));
    assert.equal(writesSince(mark).filter((w) => w.method === 'DELETE').length, 2);
  });
});
