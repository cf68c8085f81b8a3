// The deployable bundle's client libraries, end to end. scripts/bundle.mjs rewrites what it
// bundles (protos.json pruned to the services we call, the static protos.js left out, one
// google-gax for every client): this suite starts dist/bundle in a Functions Framework
// process, as Cloud Functions does, against the fakes of test/support/stack.ts, and handles
// one v1 and one v2 finding end to end. Every RPC the function makes goes over the wire through
// the bundled clients: SCC ListFindings (confirmation) and UpdateSecurityMarks (v1 and v2), GKE
// GetCluster, Cloud Storage uploads, Pub/Sub Publish, Cloud Logging ListLogEntries.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { COMPILED_POLICY_SUFFIX, policyFromCompiled } from '../../shared/policy/compiled.js';
import { freshFinding, structuredEvent } from '../support/cloudevents.js';
import { ensureBundle, ROOT, startFunctionProcess, type FunctionProcess } from '../support/function-process.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
let fn: FunctionProcess;

before(async () => {
  stack = await startStack();
  fn = await startFunctionProcess('sccResponder', stack.env({ SCC_RESPONDER_POLICY: 'policies/enforce-delete-for-deployments.yaml' }));
});
after(async () => {
  await fn?.stop();
  await stack?.close();
});

async function handle(fixture: string, target: FunctionProcess = fn): Promise<string> {
  stack.restoreCheckoutPod();
  const { notification, findingName } = freshFinding('bundle', fixture);
  const res = await fetch(target.url, {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents+json' },
    body: JSON.stringify(structuredEvent(stack.known(notification))),
  });
  await res.arrayBuffer();
  assert.equal(res.status, 204, `the finding was answered ${res.status}; function output: ${target.output().slice(-4000)}`);
  return findingName;
}

const grpcCalls = (plan: { calls: { key: string }[] }, key: string): number => plan.calls.filter((c) => c.key === key).length;

describe('dist/bundle handles findings through its bundled clients', () => {
  test('a v1 finding: confirmed, cluster looked up, pod deleted, evidence stored, marks written, result published', async () => {
    const deletesBefore = stack.world.kube.faults.calls.filter((c) => c.key.startsWith('DELETE ')).length;
    const name = await handle('modified-malicious-binary.v1.json');
    assert.ok(grpcCalls(stack.scc.faults, 'ListFindings') >= 1, 'SCC confirmation went over the wire');
    assert.ok(grpcCalls(stack.world.gke.faults, 'GetCluster') >= 1, 'the GKE lookup went over the wire');
    assert.equal(stack.world.kube.faults.calls.filter((c) => c.key.startsWith('DELETE ')).length, deletesBefore + 1, 'the pod was deleted');
    assert.ok(stack.gcs.objects().length > 0, 'evidence reached Cloud Storage');
    const update = stack.scc.updates.find((u) => u.name.startsWith(name));
    assert.equal(update?.version, 'v1', 'marks were written through the v1 client');
    assert.ok(Object.keys(stack.scc.marksOf(name) ?? {}).length > 0, 'SCC holds our marks');
    assert.ok(stack.pubsub.messages.length > 0, 'the result was published');
    // The collector's wait is a watch through the bundled client-node (its HTTP layer survives
    // the bundle's pruning): watched, and no fallback to reading the pod was logged.
    assert.ok(stack.world.kube.faults.calls.some((c) => c.key.startsWith('WATCH /api/v1/namespaces/')), 'the collector was watched');
    assert.doesNotMatch(fn.output(), /reading the pod instead/);
  });

  test('a v2 finding: confirmed and marked through the v2 client', async () => {
    const name = await handle('modified-malicious-binary.v2.json');
    const update = stack.scc.updates.find((u) => u.name.startsWith(name));
    assert.equal(update?.version, 'v2', `marks were written through the v2 client; function output: ${fn.output().slice(-3000)}`);
  });

  test('the check can fail: a finding SCC does not know is not acted on', async () => {
    stack.restoreCheckoutPod();
    const deletesBefore = stack.world.kube.faults.calls.filter((c) => c.key.startsWith('DELETE ')).length;
    const { notification } = freshFinding('unknown');
    const res = await fetch(fn.url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(structuredEvent(notification)) });
    await res.arrayBuffer();
    assert.equal(stack.world.kube.faults.calls.filter((c) => c.key.startsWith('DELETE ')).length, deletesBefore, 'no DELETE for an unconfirmed finding');
  });
});

describe('the staged artefact (infra/scripts/stage-function.sh) runs under a plain functions-framework --target', () => {
  test('staged into a scratch directory (production dependencies linked, as the runtime installs them), it deletes the pod of a finding', async () => {
    ensureBundle();
    const dir = await mkdtemp(path.join(tmpdir(), 'scc-staged-'));
    let staged: FunctionProcess | undefined;
    try {
      const out = path.join(dir, 'source');
      const r = spawnSync('bash', [path.join(ROOT, 'infra/scripts/stage-function.sh'), out], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir, npm_config_cache: path.join(dir, '.npm') } });
      assert.equal(r.status, 0, r.stderr);
      await symlink(path.join(ROOT, 'node_modules'), path.join(out, 'node_modules'));
      // Each staged policy has its data compiled beside it, for its very text (shared/policy/compiled.ts).
      const policy = path.join(out, 'policies/enforce-delete-for-deployments.yaml');
      const sidecar = await readFile(`${policy}${COMPILED_POLICY_SUFFIX}`, 'utf8');
      assert.ok(policyFromCompiled(await readFile(policy, 'utf8'), sidecar, policy)?.ok, 'the staged sidecar is the staged policy\'s');
      staged = await startFunctionProcess('sccResponder', stack.env({ SCC_RESPONDER_POLICY: policy }), 60_000, out);
      const deletesBefore = stack.world.kube.faults.calls.filter((c) => c.key.startsWith('DELETE ')).length;
      await handle('modified-malicious-binary.v1.json', staged);
      assert.equal(stack.world.kube.faults.calls.filter((c) => c.key.startsWith('DELETE ')).length, deletesBefore + 1, 'the staged function deleted the pod');
    } finally {
      await staged?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
