// Local triage: Kubernetes access from a kubeconfig context (default the current one, or
// --kube-context), no Google call at all, log steps skipped with a reason.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
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

test('the current context of a kubeconfig file: every Kubernetes step runs, no Google call, logs skipped', async () => {
  const file = path.join(dir, 'config');
  fs.writeFileSync(file, world.kube.kubeconfigYaml());
  const directory = new KubeconfigClusterDirectory({ kubeconfigPath: file });
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
  const { steps } = await enrichIncident(world.incident(), { directory }, OPTIONS);
  const pod = steps.find((x) => x.name === 'enrich.pod');
  assert.equal(pod?.status, 'failed');
  assert.equal(pod?.failure, 'permanent');
  assert.match(pod?.reason ?? '', /not the finding's cluster us-central1\/payments/);
});

test('an unknown context fails at construction, naming the available ones', () => {
  const kc = new KubeConfig();
  kc.loadFromString(twoContexts());
  assert.throws(
    () => new KubeconfigClusterDirectory({ kubeConfig: kc, context: 'nope' }),
    (err: unknown) => classifyError(err).kind === 'permanent' && /"nope" not found .*available: fake, gke_acme-payments-prod_us-central1_other/.test((err as Error).message),
  );
});
