// The action catalog is the one definition of an action's type, parameters, destructiveness,
// order and words: these tests hold every consumer to it (registry, policy schema, marks,
// the pipeline's early/late split, the executor's order), and hold dry-run to the writes
// enforce sends.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { executeActions, orderActions, workloadOf } from '../../shared/contain/executor.js';
import { prefetchActions, prepareContainment } from '../../shared/contain/prepare.js';
import type { ActionLimiter } from '../../shared/contain/limiter.js';
import { ACTIONS } from '../../shared/contain/registry.js';
import { describeWrite } from '../../shared/contain/writes.js';
import { ACTION_CATALOG, ACTION_TYPES, DESTRUCTIVE_ACTIONS, isMetadataOnly, parseActionParams } from '../../shared/policy/actions.js';
import { policyJsonSchema, policySchema } from '../../shared/policy/schema.js';
import { actionWord, MARKS_TABLE, MARK_KEYS } from '../../shared/record/marks.js';
import { context, OWNERS, plan, podView, recordingWorkloads, WRITE_METHODS } from './contain-helpers.js';

describe('one catalog, every consumer', () => {
  test('the registry has exactly one behaviour per catalog entry, under its own type', () => {
    assert.deepEqual(Object.keys(ACTIONS).sort(), Object.keys(ACTION_CATALOG).sort());
    for (const [key, action] of Object.entries(ACTIONS)) assert.equal(action.type, key);
  });

  test("the policy schema's action items are the catalog's types with the catalog's parameters", () => {
    const text = JSON.stringify(policyJsonSchema());
    for (const type of ACTION_TYPES) assert.ok(text.includes(`"const":"${type}"`), type);
    const parsed = policySchema.parse({ version: 1, rules: [{ match: { categories: ['c'] }, actions: [{ type: 'deletePod' }] }] });
    assert.deepEqual(parsed.rules[0]?.actions, [{ type: 'deletePod', requireController: true }], "the catalog's default is applied by the policy loader");
    assert.throws(() => policySchema.parse({ version: 1, rules: [{ match: { categories: ['c'] }, actions: [{ type: 'labelPod', extra: 1 }] }] }), /extra/);
  });

  test('the executor checks parameters with the same schema (defaults, strictness)', () => {
    assert.deepEqual(parseActionParams('deletePod', {}), { ok: true, params: { requireController: true } });
    const bad = parseActionParams('labelPod', { n: 1 });
    assert.equal(bad.ok, false);
    assert.match(bad.ok ? '' : bad.reason, /labelPod: .*n/);
  });

  test('destructive = counted, gated and "contained"; the rest is metadata only and runs early', () => {
    assert.deepEqual([...DESTRUCTIVE_ACTIONS], ['quarantinePod', 'cordonNode', 'deletePod']);
    assert.deepEqual(ACTION_TYPES.filter(isMetadataOnly), ['labelPod', 'annotatePod']);
    assert.equal(isMetadataOnly('noSuchAction'), false, 'unknown names run late, where the executor refuses them');
  });

  test('execution order is the catalog order', () => {
    const shuffled = [...ACTION_TYPES].reverse().map((type) => ({ type, params: {} }));
    assert.deepEqual(orderActions(shuffled).map((a) => a.type), [...ACTION_TYPES]);
  });

  test('marks words come from the catalog, and the marks table lists them', () => {
    const row = MARKS_TABLE.find((r) => r.key === MARK_KEYS.action);
    for (const type of ACTION_TYPES) {
      const w = ACTION_CATALOG[type].words;
      assert.equal(actionWord({ type, status: 'done' }), w.done);
      assert.equal(actionWord({ type, status: 'would-do' }), w.would);
      assert.equal(actionWord({ type, status: 'skipped' }), w.skipped);
      assert.equal(actionWord({ type, status: 'refused' }), `${w.noun}-refused`);
      for (const word of [w.done, w.would, w.skipped]) assert.ok(row?.values.includes(word), word);
    }
  });
});

describe('dry-run reports exactly the writes enforce sends', () => {
  const all = ACTION_TYPES.map((type) => ({ type, params: {} }));

  test('same calls, targets and bodies; only enforce reaches the API', async () => {
    const dryWorkloads = recordingWorkloads();
    const dry = await executeActions(context({ plan: plan(all, { mode: 'dry-run' }), mode: 'dry-run', workloads: dryWorkloads }), { limiter: allowAll() });
    const enforced = await executeActions(context({ plan: plan(all), workloads: recordingWorkloads() }), { limiter: allowAll() });
    const strip = (r: typeof dry): unknown => r.outcomes.map((o) => o.writes.map((w) => ({ call: w.call, target: w.target, body: w.body })));
    assert.deepEqual(dry.outcomes.map((o) => o.status), ACTION_TYPES.map(() => 'would-do'));
    assert.deepEqual(enforced.outcomes.map((o) => o.status), ACTION_TYPES.map(() => 'done'));
    assert.deepEqual(strip(dry), strip(enforced));
    assert.equal(dryWorkloads.calls.filter((c) => WRITE_METHODS.has(c.method)).length, 0);
  });

  test('every pod write names the pod UID (DELETE precondition, PATCH metadata.uid)', async () => {
    const w = recordingWorkloads();
    const r = await executeActions(context({ plan: plan(all), workloads: w }), { limiter: allowAll() });
    const uid = podView().uid;
    const podWrites = r.outcomes.flatMap((o) => o.writes).filter((x) => x.call === 'patchPodMetadata' || x.call === 'deletePod');
    assert.equal(podWrites.length, 4);
    for (const x of podWrites) assert.match(JSON.stringify(x.body), new RegExp(`"uid":"${uid}"`), x.call);
    const patchArgs = w.calls.filter((c) => c.method === 'patchPodMetadata').map((c) => (c.args[2] as { uid: string }).uid);
    assert.deepEqual(patchArgs, [uid, uid, uid]);
  });

  test('describeWrite is the one rendering of a write', () => {
    assert.deepEqual(describeWrite({ call: 'deletePod', namespace: 'n', name: 'p', uid: 'u', gracePeriodSeconds: 0 }), {
      call: 'deletePod',
      target: 'n/p',
      body: { preconditions: { uid: 'u' }, gracePeriodSeconds: 0 },
      attempted: false,
    });
  });
});

describe('refusals and warnings', () => {
  const apiError = (code: number, message: string): Error => Object.assign(new Error(message), { code, body: JSON.stringify({ kind: 'Status', code, message }) });

  test('a 422 naming metadata.uid on a pod PATCH is the UID precondition refusing it, not a failure', async () => {
    const w = recordingWorkloads({ patchPodMetadata: apiError(422, 'Pod "x" is invalid: metadata.uid: Invalid value: "u": field is immutable') });
    const r = await executeActions(context({ plan: plan([{ type: 'labelPod', params: {} }]), workloads: w }));
    assert.equal(r.outcomes[0]?.status, 'refused');
    assert.match(r.outcomes[0]?.detail ?? '', /UID precondition/);
  });

  test('negative control: another 422, or a 409 on a node, is a failure', async () => {
    const other = await executeActions(context({ plan: plan([{ type: 'labelPod', params: {} }]), workloads: recordingWorkloads({ patchPodMetadata: apiError(422, 'metadata.labels: Invalid value') }) }));
    assert.equal(other.outcomes[0]?.status, 'failed');
    const node = await executeActions(context({ plan: plan([{ type: 'cordonNode', params: {} }], { requireEvidence: false }), workloads: recordingWorkloads({ cordonNode: apiError(409, 'conflict') }) }), { limiter: allowAll() });
    assert.equal(node.outcomes[0]?.status, 'failed');
  });

  test('a 404 on a pod PATCH: the pod is gone, nothing left to do (skipped)', async () => {
    const r = await executeActions(context({ plan: plan([{ type: 'annotatePod', params: {} }]), workloads: recordingWorkloads({ patchPodMetadata: apiError(404, 'pods "x" not found') }) }));
    assert.equal(r.outcomes[0]?.status, 'skipped');
    assert.deepEqual(r.outcomes[0]?.writes.map((x) => x.result), ['not-found']);
  });

  test('quarantine in a rule that also deletes says the quarantine lasts only until the delete', async () => {
    const both = plan([{ type: 'quarantinePod', params: {} }, { type: 'deletePod', params: {} }]);
    const r = await executeActions(context({ plan: both }), { limiter: allowAll() });
    assert.ok(r.outcomes[0]?.warnings.some((x) => /lasts only until the delete/.test(x)));
    const alone = await executeActions(context({ plan: plan([{ type: 'quarantinePod', params: {} }]) }), { limiter: allowAll() });
    assert.ok(!alone.outcomes[0]?.warnings.some((x) => /lasts only until the delete/.test(x)));
  });
});

describe('prefetch hook', () => {
  test("deletePod's prefetch lists the controller's pods; actions without one read nothing", async () => {
    const w = recordingWorkloads();
    await prefetchActions([{ type: 'labelPod', params: {} }, { type: 'deletePod', params: {} }], { pod: podView(), workloads: w });
    assert.deepEqual(w.calls.map((c) => [c.method, c.args[1]]), [['listPods', 'pod-template-hash=7d9f8b6c5d']]);
    const bare = recordingWorkloads();
    await prefetchActions([{ type: 'deletePod', params: {} }], { pod: podView({ ownerReferences: [] }), workloads: bare });
    assert.equal(bare.calls.length, 0);
  });

  test('a failing prefetch is swallowed (the action reads again)', async () => {
    const w = recordingWorkloads({ listPods: new Error('boom') });
    await prefetchActions([{ type: 'deletePod', params: {} }], { pod: podView(), workloads: w });
    assert.equal(w.calls.length, 1);
  });
});

describe('prepareContainment (what the pipeline calls once the pod is read)', () => {
  test('reads the owner chain and starts the prefetch hooks together', async () => {
    const w = recordingWorkloads({ readOwner: (_ns: string, ref: { kind: string }) => OWNERS.find((o) => o.kind === ref.kind) });
    const chain = await prepareContainment([{ type: 'deletePod', params: {} }], podView(), w, { callTimeoutMs: 5_000 });
    assert.deepEqual(chain.owners.map((o) => `${o.kind}/${o.name}`), ['ReplicaSet/checkout-7d9f8b6c5d', 'Deployment/checkout']);
    assert.equal(chain.incomplete, undefined);
    assert.deepEqual(w.calls.map((c) => c.method).sort(), ['listPods', 'readOwner', 'readOwner']);
  });

  test('a failed owner read leaves the chain short with the reason; it never rejects', async () => {
    const w = recordingWorkloads({ readOwner: new Error('forbidden') });
    const chain = await prepareContainment([], podView(), w, { callTimeoutMs: 5_000 });
    assert.deepEqual(chain.owners, []);
    assert.match(chain.incomplete ?? '', /could not read ReplicaSet\/checkout-7d9f8b6c5d: .*forbidden/);
  });
});

describe('workload of a pod (per-workload budget)', () => {
  test('the top of the owner chain; else the Deployment named by the ReplicaSet and pod-template-hash; else the pod', () => {
    assert.equal(workloadOf(context()), 'payments/Deployment/checkout');
    assert.equal(workloadOf(context({ owners: [] })), 'payments/Deployment/checkout', 'the same key without the chain');
    const sts = podView({ labels: {}, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', controller: true }] });
    assert.equal(workloadOf(context({ pod: sts, owners: [] })), 'payments/StatefulSet/db');
    assert.equal(workloadOf(context({ pod: podView({ ownerReferences: [] }), owners: [] })), 'payments/Pod/checkout-7d9f8b6c5d-q2x8z');
  });
});

function allowAll(): ActionLimiter {
  const v = { allowed: true, used: 1, limit: 10, window: '2026-11-27T09', reason: 'allowed' };
  return { shared: true, peek: () => Promise.resolve(v), reserve: () => Promise.resolve(v) };
}
