// Quarantine says whether the cluster enforces NetworkPolicy from the GKE API's description,
// which enrichment reads first, without waiting for the rest of enrichment. With Cloud Logging
// configured, enrichment's log queries wait for containment, so "enrichment has finished" can
// never come first: the description must be taken as soon as it is answered. The whole
// function against the fakes (the fixture's cluster runs Dataplane V2, which enforces it).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { configureResponder, FUNCTION_NAME } from '../../functions/scc-responder/index.js';
import { captureAudit } from '../support/audit-capture.js';
import { freshFinding, listenOnLoopback, postStructured, structuredEvent } from '../support/cloudevents.js';
import { NS } from '../support/fake-kube-world.js';
import { BUCKET, startStack, type Stack } from '../support/stack.js';

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
let server: Server;
let url: string;
let dir: string;
const audit = captureAudit();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'quarantine-cluster-'));
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, POLICY_YAML);
  stack = await startStack();
  configureResponder({ env: stack.env({ SCC_RESPONDER_POLICY: policyFile }), auditDestination: audit.destination });
  server = getTestServer(FUNCTION_NAME);
  url = await listenOnLoopback(server);
});

after(async () => {
  server.close();
  configureResponder(undefined);
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
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
