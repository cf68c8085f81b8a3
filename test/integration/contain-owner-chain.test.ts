// Containment sees the pod's real owner chain in production wiring (the function, the real
// composition root and clients, the fake API server): the require-controller guard and the
// delete's record name the top controller (Deployment), not just the pod's ReplicaSet. Before
// the pipeline read it for containment, the chain was always empty outside unit tests.
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, test } from 'node:test';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { configureResponder, FUNCTION_NAME } from '../../functions/scc-responder/index.js';
import { captureAudit, OPERATION } from '../support/audit-capture.js';
import { fixture, listenOnLoopback, postStructured, structuredEvent } from '../support/cloudevents.js';
import { DEPLOY_POD, NS } from '../support/fake-kube-world.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
let server: Server;
let url: string;
const audit = captureAudit();

before(async () => {
  stack = await startStack();
  configureResponder({ env: stack.env({ SCC_RESPONDER_POLICY: 'policies/enforce-delete-for-deployments.yaml' }), auditDestination: audit.destination });
  server = getTestServer(FUNCTION_NAME);
  url = await listenOnLoopback(server);
});

after(async () => {
  server.close();
  configureResponder(undefined);
  await stack.close();
});

interface Guard { name: string; verdict: string; reason: string }

test('the delete is judged and recorded with the owner chain ReplicaSet -> Deployment', { timeout: 120_000 }, async () => {
  const n = structuredClone(fixture('modified-malicious-binary.v1.json')) as { finding: { name: string; canonicalName?: string; eventTime: string } };
  n.finding.eventTime = new Date().toISOString();
  stack.known(n); // SCC holds the finding: the function confirms before acting
  const res = await postStructured(url, structuredEvent(n as unknown as Record<string, unknown>));
  assert.equal(res.status, 204);
  assert.ok(stack.world.kube.writes.some((w) => w.method === 'DELETE' && w.path === `/api/v1/namespaces/${NS}/pods/${DEPLOY_POD}`), 'the pod was deleted');
  const entries = audit.entries().filter((e) => (e[OPERATION] as { id?: string } | undefined)?.id === n.finding.name);
  // Step entries carry the step in `step` and its data (the action's outcome) in `data`.
  const entry = entries.find((e) => (e['step'] as { name?: string } | undefined)?.name === 'contain.deletePod');
  const outcome = entry?.['data'] as { guards?: Guard[]; data?: Record<string, unknown> } | undefined;
  assert.ok(outcome, `a contain.deletePod entry with its outcome: ${JSON.stringify(entries.map((e) => e['message']))}`);
  const guard = outcome.guards?.find((g) => g.name === 'require-controller');
  assert.equal(guard?.verdict, 'pass');
  assert.match(guard.reason, /chain ReplicaSet\/checkout-7d9f8b6c5d -> Deployment\/checkout/);
  assert.equal(outcome.data?.['topController'], 'Deployment/checkout');
});
