import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { executeActions, needsRetry, orderActions, prefetchBlastRadius } from '../../shared/contain/executor.js';
import type { ActionLimiter, LimitVerdict } from '../../shared/contain/limiter.js';
import { ACTIONS } from '../../shared/contain/registry.js';
import type { ActionOutcome } from '../../shared/contain/types.js';
import type { ActionType, PlannedAction } from '../../shared/policy/types.js';
import { ResponderError } from '../../shared/common/errors.js';
import { StoreActionLimiter } from '../../shared/contain/limiter.js';
import { MemoryStore } from '../support/memory-store.js';
import { context, incident, nodeView, plan, podView, recordingWorkloads, WRITE_METHODS } from './contain-helpers.js';

const ALL: PlannedAction[] = [
  { type: 'deletePod', params: { gracePeriodSeconds: 0 } },
  { type: 'cordonNode', params: {} },
  { type: 'annotatePod', params: {} },
  { type: 'quarantinePod', params: {} },
  { type: 'labelPod', params: {} },
];

function verdicts(o: ActionOutcome[]): string[] {
  return o.map((x) => `${x.type}:${x.guards.map((g) => `${g.name}=${g.verdict}`).join(',')}`);
}

class CountingLimiter implements ActionLimiter {
  readonly shared = true;
  peeks = 0;
  reserves = 0;
  constructor(private readonly allowed: boolean) {}
  private v(limit: number): LimitVerdict {
    return { allowed: this.allowed, used: 1, limit, window: '2026-11-27T09', reason: this.allowed ? 'action 1 of N' : 'maxActionsPerHour reached' };
  }
  peek(_r: string, limit: number): Promise<LimitVerdict> {
    this.peeks += 1;
    return Promise.resolve(this.v(limit));
  }
  reserve(_r: string, limit: number): Promise<LimitVerdict> {
    this.reserves += 1;
    return Promise.resolve(this.v(limit));
  }
}

describe('registry and ordering', () => {
  test('every ActionType has an action whose type matches its key', () => {
    for (const [key, action] of Object.entries(ACTIONS)) assert.equal(action.type, key);
  });
  test('record, isolate, cordon, delete: whatever the policy order', () => {
    assert.deepEqual(orderActions(ALL).map((a) => a.type), ['labelPod', 'annotatePod', 'quarantinePod', 'cordonNode', 'deletePod']);
  });
  test('stable for equal types', () => {
    const two = [{ type: 'labelPod' as ActionType, params: { n: 1 } }, { type: 'labelPod' as ActionType, params: { n: 2 } }];
    assert.deepEqual(orderActions(two).map((a) => a.params['n']), [1, 2]);
  });
  test('one step per action, named contain.<type>, in execution order', async () => {
    const r = await executeActions(context({ plan: plan(ALL) }));
    assert.deepEqual(r.steps.map((s) => s.name), ['contain.labelPod', 'contain.annotatePod', 'contain.quarantinePod', 'contain.cordonNode', 'contain.deletePod']);
    assert.deepEqual(r.outcomes.map((o) => o.status), ['done', 'done', 'done', 'done', 'done']);
  });
  test('calls reach the API in the same order', async () => {
    const workloads = recordingWorkloads();
    await executeActions(context({ plan: plan(ALL), workloads }));
    assert.deepEqual(
      workloads.calls.filter((c) => WRITE_METHODS.has(c.method)).map((c) => c.method),
      ['patchPodMetadata', 'patchPodMetadata', 'createNetworkPolicy', 'patchPodMetadata', 'cordonNode', 'deletePod'],
    );
  });
  test('quarantine together with delete carries a warning', async () => {
    const r = await executeActions(context({ plan: plan(ALL) }));
    assert.ok(r.outcomes.find((o) => o.type === 'quarantinePod')?.warnings.some((w) => /lasts only until the delete/.test(w)));
  });
});

describe('dry-run tells the truth', () => {
  test('same guards and verdicts as enforce, zero writes, would-do', async () => {
    const dryW = recordingWorkloads();
    const enfW = recordingWorkloads();
    const dry = await executeActions(context({ plan: plan(ALL), mode: 'dry-run', workloads: dryW }));
    const enf = await executeActions(context({ plan: plan(ALL), mode: 'enforce', workloads: enfW }));
    assert.deepEqual(verdicts(dry.outcomes), verdicts(enf.outcomes));
    assert.deepEqual(dry.outcomes.map((o) => o.status), ['would-do', 'would-do', 'would-do', 'would-do', 'would-do']);
    assert.equal(dryW.calls.length, 0);
    assert.ok(enfW.calls.some((c) => WRITE_METHODS.has(c.method)));
    // The writes dry-run announces are the writes enforce sends.
    const strip = (o: ActionOutcome[]): unknown => o.map((x) => x.writes.map((w) => ({ call: w.call, target: w.target, body: w.body })));
    assert.deepEqual(strip(dry.outcomes), strip(enf.outcomes));
    assert.ok(dry.outcomes.every((o) => o.writes.every((w) => !w.attempted)));
    assert.ok(enf.outcomes.every((o) => o.writes.every((w) => w.attempted)));
    assert.match(dry.outcomes[4]?.detail ?? '', /^would deletePod payments\/checkout-7d9f8b6c5d-q2x8z .*"uid":"11111111/);
  });
  test('refusals are identical in both modes', async () => {
    const bare = podView({ ownerReferences: [] });
    for (const mode of ['dry-run', 'enforce'] as const) {
      const w = recordingWorkloads();
      const r = await executeActions(context({ pod: bare, owners: [], mode, workloads: w }));
      assert.equal(r.outcomes[0]?.status, 'refused');
      assert.equal(r.outcomes[0]?.guards.find((g) => g.name === 'require-controller')?.verdict, 'fail');
      assert.equal(w.calls.length, 0, mode);
      assert.equal(r.steps[0]?.status, 'skipped');
    }
  });
  test('dry-run peeks at the limiter, enforce reserves', async () => {
    const limiter = new CountingLimiter(true);
    await executeActions(context({ plan: plan(ALL, { maxActionsPerHour: 5 }), mode: 'dry-run' }), { limiter });
    assert.deepEqual([limiter.peeks, limiter.reserves], [3, 0]);
    await executeActions(context({ plan: plan(ALL, { maxActionsPerHour: 5 }), mode: 'enforce' }), { limiter });
    assert.deepEqual([limiter.peeks, limiter.reserves], [3, 3]);
  });
});

describe('guards in the executor', () => {
  test('evidence failure blocks delete, quarantine and cordon but not label/annotate', async () => {
    const w = recordingWorkloads();
    const r = await executeActions(context({ plan: plan(ALL), evidence: { stored: false, reason: 'snapshot failed: cat not found' }, workloads: w }));
    const by = Object.fromEntries(r.outcomes.map((o) => [o.type, o.status]));
    assert.deepEqual(by, { labelPod: 'done', annotatePod: 'done', quarantinePod: 'refused', cordonNode: 'refused', deletePod: 'refused' });
    assert.ok(!w.calls.some((c) => c.method === 'deletePod'));
    assert.match(r.outcomes[4]?.detail ?? '', /evidence not stored \(snapshot failed: cat not found\): the collection did not finish on our side/);
  });
  test('protected namespace refuses every action', async () => {
    const w = recordingWorkloads();
    const r = await executeActions(context({ plan: plan(ALL), pod: podView({ namespace: 'kube-system' }), workloads: w }));
    assert.ok(r.outcomes.every((o) => o.status === 'refused'));
    assert.equal(w.calls.length, 0);
  });
  test('invalid parameters are refused with a params guard', async () => {
    const r = await executeActions(context({ plan: plan([{ type: 'deletePod', params: { gracePeriodSeconds: -1 } }]) }));
    assert.equal(r.outcomes[0]?.status, 'refused');
    assert.equal(r.outcomes[0]?.guards[0]?.name, 'params');
    assert.equal(r.outcomes[0]?.guards[0]?.verdict, 'fail');
  });
  test('unknown parameters on a parameterless action are refused', async () => {
    const r = await executeActions(context({ plan: plan([{ type: 'cordonNode', params: { drain: true } }]) }));
    assert.equal(r.outcomes[0]?.status, 'refused');
  });
  test('a terminating pod is skipped, not refused', async () => {
    const r = await executeActions(context({ pod: podView({ deletionTimestamp: '2026-11-27T09:15:00Z' }) }));
    assert.equal(r.outcomes[0]?.status, 'skipped');
  });
  test('an already cordoned node and an already labelled pod are skipped without writes', async () => {
    const w = recordingWorkloads();
    const pod = podView({ labels: { 'scc-responder/finding': 'a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b' } });
    const r = await executeActions(context({ plan: plan([{ type: 'cordonNode', params: {} }, { type: 'labelPod', params: {} }]), node: nodeView({ unschedulable: true }), pod, workloads: w }));
    assert.deepEqual(r.outcomes.map((o) => o.status), ['skipped', 'skipped']);
    assert.equal(w.calls.length, 0);
  });
  test('bare pod deleted when the rule says requireController: false, with a warning', async () => {
    const r = await executeActions(context({ pod: podView({ ownerReferences: [] }), owners: [], plan: plan([{ type: 'deletePod', params: { requireController: false } }]) }));
    assert.equal(r.outcomes[0]?.status, 'done');
    assert.ok(r.outcomes[0]?.warnings.some((w) => /nothing replaces it/.test(w)));
  });
});

describe('blast radius in the executor', () => {
  test('over the limit: enforce degrades to would-do with a WARNING and no writes', async () => {
    const w = recordingWorkloads();
    const r = await executeActions(context({ plan: plan([{ type: 'deletePod', params: {} }], { maxActionsPerHour: 1 }), workloads: w }), { limiter: new CountingLimiter(false) });
    const o = r.outcomes[0];
    assert.equal(o?.status, 'would-do');
    assert.equal(o?.mode, 'dry-run');
    assert.equal(o?.requestedMode, 'enforce');
    assert.equal(o?.guards.at(-1)?.name, 'blast-radius');
    assert.equal(o?.guards.at(-1)?.effect, 'degrade');
    assert.ok(o?.warnings.some((x) => /maxActionsPerHour/.test(x)));
    assert.equal(w.calls.length, 0);
  });
  test('no limiter (no shared store): limited rules degrade with the reason', async () => {
    const w = recordingWorkloads();
    const r = await executeActions(context({ plan: plan([{ type: 'deletePod', params: {} }], { maxActionsPerHour: 10 }), workloads: w }));
    assert.equal(r.outcomes[0]?.status, 'would-do');
    assert.match(r.outcomes[0]?.warnings.join(' ') ?? '', /no shared store to count actions/);
    assert.equal(w.calls.length, 0);
  });
  test('dry-run counts its own earlier actions: same verdicts as enforce when the limit falls mid-plan', async () => {
    const three: PlannedAction[] = [{ type: 'deletePod', params: {} }, { type: 'cordonNode', params: {} }, { type: 'quarantinePod', params: {} }];
    const run = async (mode: 'dry-run' | 'enforce'): Promise<ActionOutcome[]> =>
      (await executeActions(context({ mode, plan: plan(three, { maxActionsPerHour: 2 }) }), { limiter: new StoreActionLimiter(new MemoryStore()), now: () => new Date('2026-11-27T09:30:00Z') })).outcomes;
    const dry = await run('dry-run');
    const enf = await run('enforce');
    assert.deepEqual(verdicts(dry), verdicts(enf));
    assert.deepEqual(dry.map((o) => o.guards.at(-1)?.reason), enf.map((o) => o.guards.at(-1)?.reason));
    assert.deepEqual(enf.map((o) => o.status), ['done', 'done', 'would-do']);
    assert.deepEqual(dry.map((o) => o.status), ['would-do', 'would-do', 'would-do']);
    assert.equal(dry[2]?.guards.at(-1)?.verdict, 'fail');
  });
  test('metadata actions are not counted', async () => {
    const limiter = new CountingLimiter(false);
    const r = await executeActions(context({ plan: plan([{ type: 'labelPod', params: {} }], { maxActionsPerHour: 1 }) }), { limiter });
    assert.equal(r.outcomes[0]?.status, 'done');
    assert.equal(limiter.reserves, 0);
  });
  test('refused actions do not use the budget', async () => {
    const limiter = new CountingLimiter(true);
    await executeActions(context({ evidence: { stored: false }, plan: plan([{ type: 'deletePod', params: {} }], { maxActionsPerHour: 1 }) }), { limiter });
    assert.equal(limiter.reserves, 0);
  });
  test('blast-radius reads prefetched while the evidence is collected: a refused action still spends no slot (negative control: the same prefetch, evidence stored, spends one)', async () => {
    const at = (): Date => new Date('2026-11-27T09:30:00Z');
    const limited = plan([{ type: 'deletePod', params: {} }], { maxActionsPerHour: 1 });
    const slotsIn = (store: MemoryStore): Promise<string[]> => store.list('_ratelimit/');
    const refusedStore = new MemoryStore();
    const refusedLimiter = new StoreActionLimiter(refusedStore);
    prefetchBlastRadius(context({ plan: limited }), { limiter: refusedLimiter, now: at });
    const refused = await executeActions(context({ evidence: { stored: false, reason: 'snapshot failed' }, plan: limited }), { limiter: refusedLimiter, now: at });
    assert.equal(refused.outcomes[0]?.status, 'refused');
    assert.ok(refusedStore.faults.calls.some((c) => c.key.startsWith('list ')), 'the reads were made ahead');
    assert.deepEqual(await slotsIn(refusedStore), [], 'no slot, no claim');
    const storedStore = new MemoryStore();
    const storedLimiter = new StoreActionLimiter(storedStore);
    prefetchBlastRadius(context({ plan: limited }), { limiter: storedLimiter, now: at });
    const done = await executeActions(context({ plan: limited }), { limiter: storedLimiter, now: at });
    assert.equal(done.outcomes[0]?.status, 'done');
    const keys = await slotsIn(storedStore);
    assert.equal(keys.filter((k) => k.includes('/slots/')).length, 1);
    assert.equal(keys.filter((k) => k.includes('/subjects/')).length, 1, 'the claim, written after the action, is in when executeActions returns');
  });

  test('per-namespace and per-workload budgets are per cluster: the same payments/Deployment/checkout in another cluster or project is not held back (negative control: the same cluster is)', async () => {
    const store = new MemoryStore();
    const limiter = new StoreActionLimiter(store);
    const at = (): Date => new Date('2026-11-27T09:30:00Z');
    const limited = plan([{ type: 'deletePod', params: {} }], { maxActionsPerHour: 10, maxActionsPerHourPerNamespace: 1, maxActionsPerHourPerWorkload: 1 });
    const base = incident();
    const inCluster = (n: number, project: string, location: string) =>
      context({
        plan: limited,
        incident: { ...base, findingName: `${base.findingName}-${n}`, projectId: project, cluster: { ...(base.cluster ?? assert.fail('fixture has a cluster')), project, location } },
        pod: podView({ uid: `uid-${n}` }),
      });
    const status = async (n: number, project: string, location: string): Promise<ActionOutcome | undefined> => (await executeActions(inCluster(n, project, location), { limiter, now: at })).outcomes[0];
    assert.equal((await status(1, 'acme-payments-prod', 'us-central1'))?.status, 'done');
    assert.equal((await status(2, 'acme-payments-prod', 'europe-west1'))?.status, 'done', 'another location: another cluster');
    assert.equal((await status(3, 'acme-payments-dr', 'us-central1'))?.status, 'done', 'another project: another cluster');
    const again = await status(4, 'acme-payments-prod', 'us-central1');
    assert.equal(again?.status, 'would-do', 'the same cluster: the workload budget is spent');
    assert.match(again?.guards.at(-1)?.reason ?? '', /reached for rule .* on workload payments\/Deployment\/checkout of cluster acme-payments-prod\/us-central1\/payments/);
    const slots = (await store.list('_ratelimit/')).filter((k) => k.includes('/slots/'));
    assert.equal(slots.filter((k) => k.includes('/workload/')).length, 3, slots.join('\n'));
    assert.equal(slots.filter((k) => k.includes('/namespace/')).length, 3, 'one namespace slot per cluster');
    assert.equal(slots.filter((k) => !k.includes('/cluster/')).length, 3, 'the rule-wide budget counts all three clusters');
  });

  test('dry-run prefetches nothing (it only peeks)', async () => {
    const store = new MemoryStore();
    prefetchBlastRadius(context({ mode: 'dry-run', plan: plan([{ type: 'deletePod', params: {} }], { maxActionsPerHour: 1 }) }), { limiter: new StoreActionLimiter(store) });
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(store.faults.calls, []);
  });

  test('a limiter that cannot count fails the action (transient) and writes nothing', async () => {
    const w = recordingWorkloads();
    const broken: ActionLimiter = {
      shared: true,
      peek: () => Promise.reject(new ResponderError('store unavailable', 'transient', { code: 503 })),
      reserve: () => Promise.reject(new ResponderError('store unavailable', 'transient', { code: 503 })),
    };
    const r = await executeActions(context({ plan: plan([{ type: 'deletePod', params: {} }], { maxActionsPerHour: 1 }), workloads: w }), { limiter: broken });
    assert.equal(r.outcomes[0]?.status, 'failed');
    assert.equal(r.outcomes[0]?.error?.kind, 'transient');
    assert.equal(r.steps[0]?.status, 'failed');
    assert.equal(r.steps[0]?.failure, 'transient');
    assert.equal(w.calls.length, 0);
  });
});

describe('API errors', () => {
  const apiError = (code: number): Error => Object.assign(new Error(`HTTP-Code: ${code}`), { code, body: '{}' });
  test('409 on delete is a refusal, permanent, naming the UID precondition', async () => {
    const r = await executeActions(context({ workloads: recordingWorkloads({ deletePod: apiError(409) }) }));
    const o = r.outcomes[0];
    assert.equal(o?.status, 'refused');
    assert.equal(o?.error?.kind, 'permanent');
    assert.equal(o?.error?.code, 409);
    assert.match(o?.detail ?? '', /a different pod now has this name \(UID precondition\)/);
    assert.deepEqual(o?.writes.map((w) => [w.call, w.attempted, w.result]), [['deletePod', true, 'error']]);
  });
  test('500 on delete is a transient failure', async () => {
    const r = await executeActions(context({ workloads: recordingWorkloads({ deletePod: apiError(500) }) }));
    assert.equal(r.outcomes[0]?.status, 'failed');
    assert.equal(r.outcomes[0]?.error?.kind, 'transient');
    assert.equal(r.steps[0]?.failure, 'transient');
    assert.equal(r.steps[0]?.code, 500);
  });
  test('403 on cordon is a permanent failure: no retry', async () => {
    const r = await executeActions(context({ plan: plan([{ type: 'cordonNode', params: {} }]), workloads: recordingWorkloads({ cordonNode: apiError(403) }) }));
    assert.equal(r.outcomes[0]?.status, 'failed');
    assert.equal(r.outcomes[0]?.error?.kind, 'permanent');
    assert.equal(needsRetry(r), false);
  });
  test('a transient failure asks for a retry; a 409 refusal does not', async () => {
    assert.equal(needsRetry(await executeActions(context({ workloads: recordingWorkloads({ deletePod: apiError(503) }) }))), true);
    assert.equal(needsRetry(await executeActions(context({ workloads: recordingWorkloads({ deletePod: apiError(409) }) }))), false);
  });
  test('redelivery after the pod is gone: skipped, no writes', async () => {
    const w = recordingWorkloads();
    const r = await executeActions(context({ pod: undefined, podNotFound: true, plan: plan(ALL), workloads: w }));
    assert.deepEqual(r.outcomes.map((o) => [o.type, o.status]), [['labelPod', 'skipped'], ['annotatePod', 'skipped'], ['quarantinePod', 'skipped'], ['cordonNode', 'done'], ['deletePod', 'skipped']]);
    assert.deepEqual(w.calls.map((c) => c.method), ['cordonNode']);
  });
  test('404 on delete is done', async () => {
    const r = await executeActions(context({ workloads: recordingWorkloads({ deletePod: 'not-found' }) }));
    assert.equal(r.outcomes[0]?.status, 'done');
    assert.match(r.outcomes[0]?.detail ?? '', /already gone \(404\)/);
  });
  test('quarantine failing on the label after the policy shows exactly which writes went out', async () => {
    const r = await executeActions(context({ plan: plan([{ type: 'quarantinePod', params: {} }]), workloads: recordingWorkloads({ patchPodMetadata: apiError(500) }) }));
    assert.deepEqual(r.outcomes[0]?.writes.map((w) => [w.call, w.result]), [['createNetworkPolicy', 'created'], ['patchPodMetadata', 'error']]);
  });
  test('one failing action does not stop the next', async () => {
    const r = await executeActions(context({ plan: plan([{ type: 'labelPod', params: {} }, { type: 'deletePod', params: {} }]), workloads: recordingWorkloads({ patchPodMetadata: apiError(500) }) }));
    assert.deepEqual(r.outcomes.map((o) => o.status), ['failed', 'done']);
  });
  test('an action that hangs is cut by the timeout (transient)', async () => {
    const r = await executeActions(context({ actionTimeoutMs: 50, plan: plan([{ type: 'cordonNode', params: {} }]), workloads: recordingWorkloads({ cordonNode: () => new Promise(() => undefined) }) }));
    assert.equal(r.outcomes[0]?.status, 'failed');
    assert.equal(r.outcomes[0]?.error?.kind, 'transient');
    assert.equal(r.outcomes[0]?.error?.code, 'TIMEOUT');
  });
});

describe('quarantine and NetworkPolicy enforcement', () => {
  for (const [enforced, re] of [[false, /does NOT enforce NetworkPolicy/], [undefined, /unknown whether the cluster enforces/]] as const) {
    test(`enforced=${String(enforced)}: said plainly in both modes`, async () => {
      for (const mode of ['dry-run', 'enforce'] as const) {
        const r = await executeActions(context({ mode, clusterEnforcesNetworkPolicy: enforced, plan: plan([{ type: 'quarantinePod', params: {} }]) }));
        assert.ok(r.outcomes[0]?.warnings.some((w) => re.test(w)), mode);
      }
    });
  }
  test('enforced: no warning; the label and the policy selector carry the same unique value', async () => {
    const w = recordingWorkloads();
    const r = await executeActions(context({ plan: plan([{ type: 'quarantinePod', params: {} }]), workloads: w }));
    assert.deepEqual(r.outcomes[0]?.warnings, []);
    const np = w.calls.find((c) => c.method === 'createNetworkPolicy')?.args[0] as { podSelector: Record<string, string>; name: string };
    const patch = w.calls.find((c) => c.method === 'patchPodMetadata')?.args[2] as { labels: Record<string, string> };
    assert.deepEqual(np.podSelector, patch.labels);
    assert.match(np.name, /^scc-quarantine-q-[0-9a-f]{12}$/);
  });
});

describe('the slot beside the evidence commit (ActionContext.evidenceFinal)', () => {
  const DELETE: PlannedAction[] = [{ type: 'deletePod', params: { gracePeriodSeconds: 0 } }];
  const VERIFIED = { stored: true, committing: true, attemptFinished: true } as const;
  const COMMITTED = { stored: true, uri: 'gs://evidence/f/binary', attemptFinished: true };
  const FAILED = { stored: false, reason: 'snapshot failed: writing to gs://evidence failed: 403' };
  const ticks = async (n = 20): Promise<void> => {
    for (let i = 0; i < n; i += 1) await new Promise((r) => setImmediate(r));
  };
  const deferred = <T>(): { promise: Promise<T>; resolve: (v: T) => void } => {
    let resolve: (v: T) => void = () => undefined;
    const promise = new Promise<T>((r) => (resolve = r));
    return { promise, resolve };
  };

  test('enforce reserves while the commit runs, writes only once it is committed, and reports the committed evidence', async () => {
    const limiter = new CountingLimiter(true);
    const w = recordingWorkloads();
    const final = deferred<typeof COMMITTED>();
    const run = executeActions(context({ plan: plan(DELETE, { maxActionsPerHour: 5 }), workloads: w, evidence: VERIFIED, evidenceFinal: final.promise }), { limiter });
    await ticks();
    assert.equal(limiter.reserves, 1, 'the slot is taken before the commit ended');
    assert.equal(w.calls.filter((c) => WRITE_METHODS.has(c.method)).length, 0, 'no write before the commit ended');
    final.resolve(COMMITTED);
    const o = (await run).outcomes[0];
    assert.equal(o?.status, 'done');
    assert.equal(o?.guards.find((g) => g.name === 'evidence')?.reason, 'evidence stored at gs://evidence/f/binary');
    assert.equal(limiter.reserves, 1, 'not reserved twice');
  });

  test('the commit fails after the slot was taken: held, no write, the slot said to stay counted', async () => {
    const store = new MemoryStore();
    const w = recordingWorkloads();
    const r = await executeActions(context({ plan: plan(DELETE, { maxActionsPerHour: 5 }), workloads: w, evidence: VERIFIED, evidenceFinal: Promise.resolve(FAILED) }), { limiter: new StoreActionLimiter(store), now: () => new Date('2026-11-27T09:30:00Z') });
    const o = r.outcomes[0];
    assert.equal(o?.status, 'refused');
    assert.equal(w.calls.filter((c) => WRITE_METHODS.has(c.method)).length, 0);
    assert.match(o?.detail ?? '', /its budget slot stays counted \(slot 0 of rule delete-critical in 2026-11-27T09Z\)/);
    assert.ok(o?.warnings.some((x) => /held after its budget slot was taken .*then the commit failed \(evidence not stored \(snapshot failed: writing to gs:\/\/evidence failed: 403\)/.test(x)), o?.warnings.join('\n'));
    assert.equal((await store.list('_ratelimit/')).filter((k) => /\/slots\/\d+\.json$/.test(k)).length, 1, 'the slot object exists');
  });

  test('a verdict that holds (a copy that does not count, requireEvidence: stored) takes no slot; negative control: the same copy under attempted takes one', async () => {
    const notEvidence = { stored: false, reason: 'the stored copy is not the evidence: cut', attemptFinished: true };
    for (const [gate, reserves] of [['stored', 0], ['attempted', 1]] as const) {
      const limiter = new CountingLimiter(true);
      const final = deferred<typeof notEvidence>();
      const run = executeActions(context({ plan: plan(DELETE, { maxActionsPerHour: 5, evidenceGate: gate }), evidence: notEvidence, evidenceFinal: final.promise }), { limiter });
      await ticks();
      assert.equal(limiter.reserves, reserves, gate);
      final.resolve(notEvidence);
      assert.equal((await run).outcomes[0]?.status, gate === 'stored' ? 'refused' : 'done', gate);
      assert.equal(limiter.reserves, reserves, gate);
    }
  });

  test('dry-run peeks only once the commit ended', async () => {
    const limiter = new CountingLimiter(true);
    const final = deferred<typeof COMMITTED>();
    const run = executeActions(context({ mode: 'dry-run', plan: plan(DELETE, { maxActionsPerHour: 5 }), evidence: VERIFIED, evidenceFinal: final.promise }), { limiter });
    await ticks();
    assert.equal(limiter.peeks, 0);
    final.resolve(COMMITTED);
    assert.equal((await run).outcomes[0]?.status, 'would-do');
    assert.equal(limiter.peeks, 1);
  });
});
