// Quarantine says whether the cluster enforces NetworkPolicy from the GKE API's description,
// which enrichment reads first, without waiting for the rest of enrichment. With Cloud Logging
// configured, enrichment's log queries wait for containment, so "enrichment has finished" can
// never come first: the description must be taken as soon as it is answered. The whole
// function against the fakes (the fixture's cluster runs Dataplane V2, which enforces it).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { captureAudit } from '../support/audit-capture.js';
import { freshFinding, postStructured, structuredEvent } from '../support/cloudevents.js';
import { startFunctionWorld, type FunctionWorld } from '../support/function-world.js';
import { NS } from '../support/fake-kube-world.js';
import { BUCKET, type Stack } from '../support/stack.js';

const POLICY_YAML = `version: 1
rules:
  - name: quarantine
    match:
      categories: ["Execution: Modified Malicious Binary Executed"]
      namespaces: ["${NS}"]
    mode: enforce
    actions:
      - type: quarantinePod
    maxActionsPerHour: 10000
`;

let stack: Stack;
let world: FunctionWorld;
let url: string;
const audit = captureAudit();

before(async () => {
  world = await startFunctionWorld('quarantine-cluster-', { policyYaml: POLICY_YAML, audit });
  ({ stack, url } = world);
});

after(async () => {
  await world.close();
});

test('with log queries configured, quarantine knows the cluster enforces NetworkPolicy (no "unknown" note)', async () => {
  assert.equal(stack.env()['SCC_RESPONDER_LOGS'], 'true', 'log queries are configured: enrichment ends only after containment');
  const { notification, findingId } = freshFinding('quarantine');
  stack.known(notification);
  const status = (await postStructured(url, structuredEvent(notification))).status;
  assert.equal(status, 204);
  const object = stack.gcs.objects(BUCKET).find((o) => o.name.endsWith(`/${findingId}/report.json`));
  assert.ok(object, 'report.json was stored');
  const report = JSON.parse((await stack.gcs.read(BUCKET, object.name)).toString('utf8')) as { actions: { type: string; status: string; data?: Record<string, unknown>; warnings: string[] }[] };
  const q = report.actions.find((a) => a.type === 'quarantinePod');
  assert.equal(q?.status, 'done', JSON.stringify(q));
  assert.equal(q.data?.['networkPolicyEnforced'], true, JSON.stringify(q));
  assert.ok(!q.warnings.some((w) => /unknown whether the cluster enforces NetworkPolicy/.test(w)), JSON.stringify(q.warnings));
});
