// Local triage: Kubernetes access from a kubeconfig context (default the current one, or
// --kube-context), no Google call at all, log steps skipped with a reason.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { enrichIncident } from '../../shared/enrich/enrich.js';
import { KubeconfigClusterDirectory } from '../../shared/kube/kubeconfig-cluster-directory.js';
import { classifyError } from '../../shared/common/errors.js';
import { DEPLOY_POD, INSTANCE_ID, startWorld, type World } from '../support/fake-kube-world.js';

let world: World;
let dir: string;
before(async () => {
  world = await startWorld();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scc-kubeconfig-'));
});
after(async () => {
  await world.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const OPTIONS = { callTimeoutMs: 15_000, logWindowMinutes: 30, maxLogEntries: 100, maxLogBytes: 65536 };

/** The fake's kubeconfig plus a second context named like gcloud names another cluster. */
function twoContexts(): string {
  const yaml = world.kube.kubeconfigYaml();
  return yaml.replace(
    'current-context: fake',
    ['- name: gke_acme-payments-prod_us-central1_other', '  context:', '    cluster: fake', '    user: fake', 'current-context: fake'].join('\n'),
  );
}

test('a context the user names (--kube-context): every Kubernetes step runs, no Google call, logs skipped', async () => {
  const file = path.join(dir, 'config');
  fs.writeFileSync(file, world.kube.kubeconfigYaml());
  const directory = new KubeconfigClusterDirectory({ kubeconfigPath: file, context: 'fake' });
  assert.equal(directory.contextName, 'fake');
  const gkeCalls = world.gke.received.length;
  const logCalls = world.logging.requests.length;
  const { steps, data } = await enrichIncident(world.incident(), { directory }, OPTIONS);
  const s = Object.fromEntries(steps.map((x) => [x.name, x]));
  for (const n of ['enrich.cluster', 'enrich.pod', 'enrich.owners', 'enrich.node', 'enrich.events']) assert.equal(s[n]?.status, 'ok', `${n}: ${s[n]?.reason ?? ''}`);
  for (const n of ['enrich.logs.pod', 'enrich.logs.audit', 'enrich.logs.node']) {
    assert.equal(s[n]?.status, 'skipped');
    assert.match(s[n]?.reason ?? '', /no log search configured/);
  }
  assert.equal(data.cluster?.endpoint, world.kube.url);
  assert.equal(data.cluster?.caCertificate, world.kube.caData);
  assert.equal(data.pod?.name, DEPLOY_POD);
  assert.equal(data.node?.instanceId, INSTANCE_ID);
  assert.deepEqual(data.topController, { kind: 'Deployment', name: 'checkout' });
  assert.equal(world.gke.received.length, gkeCalls, 'no GKE API call');
  assert.equal(world.logging.requests.length, logCalls, 'no Logging call');
});

test('--kube-context picks a context; a gcloud-named context for another cluster is refused', async () => {
  const kc = new KubeConfig();
  kc.loadFromString(twoContexts());
  const directory = new KubeconfigClusterDirectory({ kubeConfig: kc, context: 'gke_acme-payments-prod_us-central1_other' });
  const ref = world.incident().cluster;
  assert.ok(ref);
  assert.equal(directory.contextMatches(ref), false);
  const requests = world.kube.requests.length;
  const { steps } = await enrichIncident(world.incident(), { directory }, OPTIONS);
  for (const name of ['enrich.cluster', 'enrich.pod']) {
    const step = steps.find((x) => x.name === name);
    assert.equal(step?.status, 'skipped', name);
    assert.match(step?.reason ?? '', /names cluster acme-payments-prod\/us-central1\/other, not the finding's cluster acme-payments-prod\/us-central1\/payments/);
  }
  assert.equal(world.kube.requests.length, requests, 'no Kubernetes call');
});

/** A kubeconfig whose contexts are named like gcloud names them, all pointing at the fake. */
function gcloudNamed(names: string[], current: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(world.kube.kubeconfigYaml());
  const base = kc.getContextObject('fake');
  assert.ok(base);
  for (const name of names) kc.addContext({ ...base, name });
  kc.setCurrentContext(current);
  return kc;
}

describe('which cluster a kubeconfig context is (CLI cluster identity)', () => {
  const FOR_FINDING = 'gke_acme-payments-prod_us-central1_payments';
  const OTHER_PROJECT = 'gke_other-team-prod_us-central1_payments';

  const podStep = async (directory: KubeconfigClusterDirectory): Promise<{ status?: string; reason?: string; calls: number }> => {
    const before = world.kube.requests.length;
    const { steps } = await enrichIncident(world.incident(), { directory }, OPTIONS);
    const pod = steps.find((x) => x.name === 'enrich.pod');
    return { ...(pod?.status ? { status: pod.status } : {}), ...(pod?.reason ? { reason: pod.reason } : {}), calls: world.kube.requests.length - before };
  };

  test('the current context named for the finding\'s project, location and cluster is used', async () => {
    const r = await podStep(new KubeconfigClusterDirectory({ kubeConfig: gcloudNamed([FOR_FINDING], FOR_FINDING) }));
    assert.equal(r.status, 'ok', r.reason);
    assert.ok(r.calls > 0);
  });

  test('same cluster name and location in another project: refused, no call (even when named explicitly)', async () => {
    for (const options of [{}, { context: OTHER_PROJECT }]) {
      const r = await podStep(new KubeconfigClusterDirectory({ kubeConfig: gcloudNamed([OTHER_PROJECT], OTHER_PROJECT), ...options }));
      assert.equal(r.status, 'skipped');
      assert.match(r.reason ?? '', /names cluster other-team-prod\/us-central1\/payments, not the finding's cluster acme-payments-prod/);
      assert.equal(r.calls, 0);
    }
  });

  test('a current context that does not say which cluster it is: skipped with the reason, no call', async () => {
    const kc = gcloudNamed([], 'fake');
    const r = await podStep(new KubeconfigClusterDirectory({ kubeConfig: kc }));
    assert.equal(r.status, 'skipped');
    assert.match(r.reason ?? '', /kube context "fake" does not say which cluster it is .*--kube-context/);
    assert.equal(r.calls, 0);
  });

  test('the same context named with --kube-context is used (the user vouches for it)', async () => {
    const r = await podStep(new KubeconfigClusterDirectory({ kubeConfig: gcloudNamed([], 'fake'), context: 'fake' }));
    assert.equal(r.status, 'ok', r.reason);
  });
});

test('an unknown context fails at construction, naming the available ones', () => {
  const kc = new KubeConfig();
  kc.loadFromString(twoContexts());
  assert.throws(
    () => new KubeconfigClusterDirectory({ kubeConfig: kc, context: 'nope' }),
    (err: unknown) => classifyError(err).kind === 'permanent' && /"nope" not found .*available: fake, gke_acme-payments-prod_us-central1_other/.test((err as Error).message),
  );
});
