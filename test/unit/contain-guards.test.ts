import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decisiveFailure,
  evidenceGuard,
  livePodScopeGuard,
  nodeIdentityGuard,
  podIdentityGuard,
  podNotTerminatingGuard,
  protectedNamespaceGuard,
  requireControllerGuard,
} from '../../shared/contain/guards.js';
import { isLabelValue, quarantinePolicyName, quarantineValue, toLabelValue } from '../../shared/contain/labels.js';
import type { ResponsePlan } from '../../shared/policy/types.js';
import { context, incident, nodeView, OWNERS, plan, podView } from './contain-helpers.js';

describe('protected-namespace guard', () => {
  test('kube-system is refused with the default list', () => {
    const g = protectedNamespaceGuard(context({ incident: incident({ namespace: 'kube-system' }), pod: podView({ namespace: 'kube-system' }) }));
    assert.equal(g.verdict, 'fail');
    assert.match(g.reason, /kube-system is protected/);
  });
  test('gke-managed-* glob matches', () => {
    const g = protectedNamespaceGuard(context({ incident: incident({ namespace: 'gke-managed-cim' }), pod: podView({ namespace: 'gke-managed-cim' }) }));
    assert.equal(g.verdict, 'fail');
  });
  test('the pod namespace counts even if the finding says otherwise', () => {
    const g = protectedNamespaceGuard(context({ pod: podView({ namespace: 'kube-system' }) }));
    assert.equal(g.verdict, 'fail');
  });
  test('an ordinary namespace passes', () => {
    assert.equal(protectedNamespaceGuard(context()).verdict, 'pass');
  });
  test('the policy list replaces the default', () => {
    assert.equal(protectedNamespaceGuard(context({ protectedNamespaces: ['pay*'] })).verdict, 'fail');
    const ks = context({ protectedNamespaces: [], incident: incident({ namespace: 'kube-system' }), pod: podView({ namespace: 'kube-system' }) });
    assert.equal(protectedNamespaceGuard(ks).verdict, 'pass');
  });
  test('no namespace at all fails', () => {
    const g = protectedNamespaceGuard(context({ incident: incident({ namespace: undefined }), pod: undefined }));
    assert.equal(g.verdict, 'fail');
  });
});

describe('evidence guard', () => {
  test('destructive action without stored evidence is refused', () => {
    const g = evidenceGuard(context({ evidence: { stored: false, reason: 'hash mismatch' } }), true);
    assert.equal(g.verdict, 'fail');
    assert.match(g.reason, /hash mismatch/);
  });
  test('metadata-only action passes without evidence', () => {
    assert.equal(evidenceGuard(context({ evidence: { stored: false } }), false).verdict, 'pass');
  });
  test('requireEvidence: false waives it', () => {
    const g = evidenceGuard(context({ evidence: { stored: false, reason: 'distroless' }, plan: plan([], { requireEvidence: false }) }), true);
    assert.equal(g.verdict, 'pass');
    assert.match(g.reason, /waives/);
  });
  test('stored evidence passes and names its uri', () => {
    const g = evidenceGuard(context(), true);
    assert.equal(g.verdict, 'pass');
    assert.match(g.reason, /gs:\/\/evidence/);
  });
  test('attempted: a finished attempt the target starved of evidence lets containment go on', () => {
    const g = evidenceGuard(context({ evidence: { stored: false, reason: 'binary deleted', attemptFinished: true } }), true);
    assert.equal(g.verdict, 'pass');
    assert.match(g.reason, /withheld by the target \(binary deleted\)/);
  });
  test('a verified copy whose commit is in flight passes only while something waits for the commit (evidenceFinal)', () => {
    const committing = { stored: true, committing: true, attemptFinished: true } as const;
    const ahead = evidenceGuard(context({ evidence: committing, evidenceFinal: new Promise(() => undefined) }), true);
    assert.equal(ahead.verdict, 'pass');
    assert.match(ahead.reason, /commit in flight/);
    // Negative control: the same verdict with nothing awaiting the commit is not stored evidence.
    const alone = evidenceGuard(context({ evidence: committing, plan: plan([], { requireEvidence: false }) }), true);
    assert.equal(alone.verdict, 'fail');
    assert.match(alone.reason, /nothing waits for it/);
  });
  test('attempted: a failure on our side (attempt not finished) still holds it', () => {
    const g = evidenceGuard(context({ evidence: { stored: false, reason: 'store 503', attemptFinished: false } }), true);
    assert.equal(g.verdict, 'fail');
    assert.match(g.reason, /evidence not stored \(store 503\): the collection did not finish on our side/);
  });
  test('stored: a finished attempt without a copy holds it (the meaning a target can exploit)', () => {
    const g = evidenceGuard(context({ evidence: { stored: false, reason: 'binary deleted', attemptFinished: true }, plan: plan([], { evidenceGate: 'stored' }) }), true);
    assert.equal(g.verdict, 'fail');
    assert.match(g.reason, /requireEvidence: stored/);
  });
});

describe('pod-identity guard', () => {
  test('passes for the finding pod with its container', () => assert.equal(podIdentityGuard(context()).verdict, 'pass'));
  test('fails (refuses) when the pod was not read', () => {
    const g = podIdentityGuard(context({ pod: undefined }));
    assert.equal(g.verdict, 'fail');
    assert.equal(g.effect, undefined);
  });
  test('a pod that is gone (404 on read) is a skip', () => {
    const g = podIdentityGuard(context({ pod: undefined, podNotFound: true }));
    assert.equal(g.verdict, 'fail');
    assert.equal(g.effect, 'skip');
  });
  test('fails when the container is missing', () => {
    const g = podIdentityGuard(context({ pod: podView({ containers: [{ name: 'other', state: 'running' }] }) }));
    assert.equal(g.verdict, 'fail');
    assert.match(g.reason, /container checkout is not in pod/);
  });
  test('fails when the pod read is another pod', () => {
    assert.equal(podIdentityGuard(context({ pod: podView({ name: 'other-pod' }) })).verdict, 'fail');
  });
  test('fails for a pod created after the finding event (same-name replacement)', () => {
    const g = podIdentityGuard(context({ pod: podView({ creationTimestamp: '2026-11-27T09:20:00Z' }) }));
    assert.equal(g.verdict, 'fail');
    assert.match(g.reason, /replacement/);
  });
  // The finding's event is at 09:14:02.113Z; the API server serialises creation times in whole seconds.
  test('fails for a pod created later in the same second as the event (served as 09:14:02Z)', () => {
    // A replacement created at 09:14:02.600 is served as 09:14:02Z, which is before 09:14:02.113.
    const g = podIdentityGuard(context({ pod: podView({ creationTimestamp: '2026-11-27T09:14:02Z' }) }));
    assert.equal(g.verdict, 'fail');
    assert.match(g.reason, /same second as the finding's event.*cannot tell whether it existed/);
  });
  test('passes for a pod whose creation second ended before the event', () => {
    assert.equal(podIdentityGuard(context({ pod: podView({ creationTimestamp: '2026-11-27T09:14:01Z' }) })).verdict, 'pass');
    const onTheSecond = context({ pod: podView({ creationTimestamp: '2026-11-27T09:14:01Z' }), incident: incident({ eventTime: '2026-11-27T09:14:02.000Z' }) });
    assert.equal(podIdentityGuard(onTheSecond).verdict, 'pass', 'created within 09:14:01, event at 09:14:02.000');
  });
  test('a millisecond creation time is read at its second, like the API serves it', () => {
    const g = podIdentityGuard(context({ pod: podView({ creationTimestamp: '2026-11-27T09:14:02.050Z' }) }));
    assert.equal(g.verdict, 'fail');
  });
  test('passes when the creation time is unknown', () => {
    assert.equal(podIdentityGuard(context({ pod: podView({ creationTimestamp: undefined }) })).verdict, 'pass');
  });
});

describe('pod-identity guard: what Stryker found unguarded', () => {
  test('a pod of the same name in another namespace is not the finding pod', () => {
    const g = podIdentityGuard(context({ pod: podView({ namespace: 'payments-canary' }) }));
    assert.equal(g.verdict, 'fail');
    assert.equal(g.reason, "read pod payments-canary/checkout-7d9f8b6c5d-q2x8z is not the finding's payments/checkout-7d9f8b6c5d-q2x8z");
  });
  test('the finding container among several (a sidecar next to it) is enough', () => {
    const pod = podView({ containers: [{ name: 'istio-proxy', state: 'running' }, { name: 'checkout', state: 'running' }] });
    assert.equal(podIdentityGuard(context({ pod })).verdict, 'pass');
  });
  test('the reasons name the pod, its uid and the container', () => {
    assert.equal(podIdentityGuard(context()).reason, 'pod payments/checkout-7d9f8b6c5d-q2x8z uid 11111111-2222-3333-4444-555555555555 has container checkout');
    assert.equal(podIdentityGuard(context({ pod: undefined })).reason, 'the pod was not read: no UID to act on safely');
    // The read's own error is in the reason, so a refusal says why the pod is unknown.
    assert.equal(podIdentityGuard(context({ pod: undefined, podReadError: 'HTTP 503: the API server is restarting' })).reason, 'the pod was not read (HTTP 503: the API server is restarting): no UID to act on safely');
    assert.equal(podIdentityGuard(context({ pod: undefined, podNotFound: true })).reason, 'the pod no longer exists (404): nothing left to act on');
  });
});

describe('protected-namespace and evidence guard reasons', () => {
  test('an ordinary namespace is named in the pass reason (finding and pod agree: once)', () => {
    assert.equal(protectedNamespaceGuard(context()).reason, 'namespace payments is not protected');
  });
  test('no namespace anywhere says so', () => {
    const g = protectedNamespaceGuard(context({ incident: incident({ namespace: undefined }), pod: undefined }));
    assert.equal(g.reason, 'the finding names no namespace: cannot tell whether it is protected');
  });
});

describe('pod-not-terminating guard', () => {
  test('a terminating pod is a skip, not a refusal', () => {
    const g = podNotTerminatingGuard(context({ pod: podView({ deletionTimestamp: '2026-11-27T09:15:00Z' }) }));
    assert.equal(g.verdict, 'fail');
    assert.equal(g.effect, 'skip');
  });
  test('a running pod passes', () => assert.equal(podNotTerminatingGuard(context()).verdict, 'pass'));
});

describe('require-controller guard', () => {
  const bare = podView({ ownerReferences: [] });
  test('controlled pod passes and names the chain', () => {
    const g = requireControllerGuard(context(), true);
    assert.equal(g.verdict, 'pass');
    assert.match(g.reason, /ReplicaSet\/checkout-7d9f8b6c5d/);
    assert.match(g.reason, /Deployment\/checkout/);
  });
  test('bare pod is refused by default', () => {
    const g = requireControllerGuard(context({ pod: bare, owners: [] }), true);
    assert.equal(g.verdict, 'fail');
    assert.match(g.reason, /bare pod/);
  });
  test('bare pod passes with requireController: false', () => {
    assert.equal(requireControllerGuard(context({ pod: bare, owners: [] }), false).verdict, 'pass');
  });
  test('a non-controller owner reference does not count', () => {
    const pod = podView({ ownerReferences: [{ kind: 'ReplicaSet', name: 'x', controller: false }] });
    assert.equal(requireControllerGuard(context({ pod, owners: [] }), true).verdict, 'fail');
  });
});

describe('require-controller: the kinds that replace pods', () => {
  const owned = (apiVersion: string, kind: string): ReturnType<typeof context> =>
    context({ pod: podView({ ownerReferences: [{ apiVersion, kind, name: 'x', uid: 'x-uid', controller: true }] }), owners: [] });
  const table: [string, string, 'pass' | 'fail'][] = [
    ['apps/v1', 'ReplicaSet', 'pass'],
    ['apps/v1', 'StatefulSet', 'pass'],
    ['apps/v1', 'DaemonSet', 'pass'],
    ['batch/v1', 'Job', 'pass'],
    ['v1', 'ReplicationController', 'pass'],
    ['v1', 'ConfigMap', 'fail'],
    ['v1', 'Node', 'fail'],
    ['apps/v1', 'Deployment', 'fail'], // never a pod's direct controller: a pod claiming it is forged
    ['batch/v1', 'CronJob', 'fail'], // likewise: CronJobs own Jobs
    ['example.com/v1', 'ReplicaSet', 'fail'], // the name of a built-in kind in another API group
    ['argoproj.io/v1alpha1', 'Rollout', 'fail'],
  ];
  for (const [apiVersion, kind, verdict] of table) {
    test(`${apiVersion} ${kind}: ${verdict}`, () => assert.equal(requireControllerGuard(owned(apiVersion, kind), true).verdict, verdict));
  }
  test('a reference without apiVersion cannot prove its group: refused', () => {
    const pod = podView({ ownerReferences: [{ kind: 'ReplicaSet', name: 'x', controller: true }] });
    assert.equal(requireControllerGuard(context({ pod, owners: [] }), true).verdict, 'fail');
  });
  test('any refused kind is still deleted when the rule says requireController: false', () => {
    assert.equal(requireControllerGuard(owned('v1', 'ConfigMap'), false).verdict, 'pass');
  });
});

describe('require-controller: the owner chain as read', () => {
  test('a chain whose first owner is not the pod controller (replaced, different UID) refuses', () => {
    const owners = OWNERS.map((o, i) => (i === 0 ? { ...o, uid: 'another-rs' } : o));
    const g = requireControllerGuard(context({ owners }), true);
    assert.equal(g.verdict, 'fail');
    assert.match(g.reason, /may have been replaced/);
  });
  test('a workload scaled to zero replaces nothing', () => {
    const owners = OWNERS.map((o) => (o.kind === 'Deployment' ? { ...o, replicas: 0 } : o));
    const g = requireControllerGuard(context({ owners }), true);
    assert.equal(g.verdict, 'fail');
    assert.match(g.reason, /Deployment\/checkout is scaled to 0 replicas/);
  });
  test('an empty chain (not read) leaves the decision to the reference and the kinds table', () => {
    assert.equal(requireControllerGuard(context({ owners: [] }), true).verdict, 'pass');
  });
});

describe('live-pod-scope guard', () => {
  const scoped = (podScope: NonNullable<ResponsePlan['podScope']>): ResponsePlan => plan([{ type: 'labelPod', params: {} }], { podScope });
  test('no pod matchers: passes', () => assert.equal(livePodScopeGuard(context()).verdict, 'pass'));
  test('a label on the live pod that the finding does not carry excludes it', () => {
    const ctx = context({ plan: scoped({ exclude: { podLabels: { 'scc-responder/exempt': 'true' } } }), pod: podView({ labels: { app: 'checkout', 'scc-responder/exempt': 'true' } }) });
    assert.equal(ctx.incident.podLabels['scc-responder/exempt'], undefined, "the finding's copy lacks it");
    const g = livePodScopeGuard(ctx);
    assert.equal(g.verdict, 'fail');
    assert.match(g.reason, /exclude\.podLabels/);
  });
  test('match.podLabels must hold on the live pod', () => {
    const g = livePodScopeGuard(context({ plan: scoped({ match: { podLabels: { tier: 'web' } } }) }));
    assert.equal(g.verdict, 'fail');
    assert.match(g.reason, /label tier \(absent\)/);
  });
  test("match.images is judged on the finding's container (image or imageID)", () => {
    const pod = podView({ containers: [{ name: 'checkout', state: 'running', image: 'nginx:1.27', imageID: 'docker.io/library/nginx@sha256:ab' }, { name: 'sidecar', state: 'running', image: 'us-docker.pkg.dev/acme/x:1' }] });
    const g = livePodScopeGuard(context({ plan: scoped({ match: { images: ['us-docker.pkg.dev/acme/**'] } }), pod }));
    assert.equal(g.verdict, 'fail', 'the sidecar being in scope does not put the finding container in scope');
    const byId = livePodScopeGuard(context({ plan: scoped({ match: { images: ['docker.io/library/nginx@sha256:*'] } }), pod }));
    assert.equal(byId.verdict, 'pass');
  });
  test('exclude.namespaces on the live pod', () => {
    assert.equal(livePodScopeGuard(context({ plan: scoped({ exclude: { namespaces: ['pay*'] } }) })).verdict, 'fail');
  });
  test('the pod not read: refused (cannot judge); gone: skipped', () => {
    const p = scoped({ exclude: { podLabels: { a: 'b' } } });
    const { pod: _pod, ...noPod } = context({ plan: p });
    assert.equal(livePodScopeGuard(noPod).verdict, 'fail');
    assert.equal(livePodScopeGuard({ ...noPod, podNotFound: true }).effect, 'skip');
  });
});

describe('node-identity guard', () => {
  test('passes when pod, node and finding agree', () => assert.equal(nodeIdentityGuard(context()).verdict, 'pass'));
  test('fails when the pod moved to another node', () => {
    assert.equal(nodeIdentityGuard(context({ pod: podView({ nodeName: 'other-node' }), node: nodeView({ name: 'other-node' }) })).verdict, 'fail');
  });
  test('fails when the node read is not the finding node', () => {
    assert.equal(nodeIdentityGuard(context({ node: nodeView({ name: 'other-node' }) })).verdict, 'fail');
  });
  test('fails when no node is known', () => {
    assert.equal(nodeIdentityGuard(context({ node: undefined, pod: undefined, incident: incident({ node: undefined }) })).verdict, 'fail');
  });
});

describe('decisiveFailure', () => {
  test('nothing to do (skip) wins over refusal, refusal over degrade', () => {
    const d = decisiveFailure([
      { name: 'a', verdict: 'fail', reason: 'x', effect: 'degrade' },
      { name: 'b', verdict: 'fail', reason: 'y', effect: 'skip' },
      { name: 'c', verdict: 'fail', reason: 'z' },
    ]);
    assert.equal(d?.name, 'b');
    assert.equal(decisiveFailure([{ name: 'a', verdict: 'fail', reason: 'x', effect: 'degrade' }, { name: 'c', verdict: 'fail', reason: 'z' }])?.name, 'c');
  });
  test('all pass: undefined', () => assert.equal(decisiveFailure([{ name: 'a', verdict: 'pass', reason: '' }]), undefined));
});

describe('labels', () => {
  test('a finding id is already a label value', () => assert.equal(toLabelValue('a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b'), 'a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b'));
  test('hostile or long values become valid label values', () => {
    for (const raw of ['organizations/1/sources/2/findings/x', '-leading', 'trailing-', 'a'.repeat(200), '///', 'ünïcödé', '']) {
      const v = toLabelValue(raw);
      assert.ok(isLabelValue(v), `${JSON.stringify(raw)} -> ${JSON.stringify(v)}`);
    }
  });
  test('different raw values never collapse to one label value', () => {
    assert.notEqual(toLabelValue('a/b'), toLabelValue('a:b'));
  });
  test('quarantine value is stable per finding and pod, unique across pods, a valid label and DNS name', () => {
    const a = quarantineValue('f1', 'uid-1');
    assert.equal(a, quarantineValue('f1', 'uid-1'));
    assert.notEqual(a, quarantineValue('f1', 'uid-2'));
    assert.notEqual(a, quarantineValue('f2', 'uid-1'));
    assert.ok(isLabelValue(a));
    assert.match(quarantinePolicyName(a), /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
});
