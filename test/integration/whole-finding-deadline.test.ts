// The whole finding's deadline (SCC_RESPONDER_DEADLINE_SECONDS) through the real function:
// with a dependency that never answers and per-call/step timeouts far longer than the
// deadline, the handler still returns (500: redelivery) soon after the deadline, acts on
// nothing, and releases its claim so the redelivery is not blocked.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { configureResponder, FUNCTION_NAME } from '../../functions/scc-responder/index.js';
import { captureAudit, OPERATION } from '../support/audit-capture.js';
import { freshFinding, listenOnLoopback, postStructured, structuredEvent } from '../support/cloudevents.js';
import { DEPLOY_POD, NS } from '../support/fake-kube-world.js';
import { BUCKET, startStack, type Stack } from '../support/stack.js';

// Step and call timeouts of two minutes: only the whole-finding deadline can end the run early.
const POLICY_YAML = `version: 1
requireEvidence: true
snapshot:
  timeoutSeconds: 120
enrich:
  callTimeoutSeconds: 120
rules:
  - name: deadline-delete
    match:
      categories: ["Execution: Modified Malicious Binary Executed"]
      namespaces: ["${NS}"]
    mode: enforce
    actions:
      - type: deletePod
`;
const DEADLINE_MS = 3_000;
/** Far below the 120 s timeouts, far above the deadline: room for a busy machine. */
const WELL_BEFORE_ANY_TIMEOUT_MS = 60_000;

let stack: Stack;
let server: Server;
let url: string;
let dir: string;
const audit = captureAudit();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deadline-'));
  writeFileSync(join(dir, 'policy.yaml'), POLICY_YAML);
  stack = await startStack();
  server = getTestServer(FUNCTION_NAME);
  url = await listenOnLoopback(server);
});

after(async () => {
  server.close();
  configureResponder(undefined);
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});


async function deliver(deadlineMs: number | undefined, hang: { match: string | RegExp }): Promise<{ status: number; ms: number; findingName: string }> {
  configureResponder({
    env: stack.env({ SCC_RESPONDER_POLICY: join(dir, 'policy.yaml') }),
    auditDestination: audit.destination,
    ...(deadlineMs === undefined ? {} : { configOverrides: { deadlineMs } }),
  });
  stack.world.kube.faults.inject({ ...hang, hang: true, times: Number.POSITIVE_INFINITY });
  const { notification: body, findingName } = freshFinding('dl');
  stack.known(body); // SCC holds the finding: the function confirms before acting
  const started = Date.now();
  try {
    const res = await postStructured(url, structuredEvent(body));
    return { status: res.status, ms: Date.now() - started, findingName };
  } finally {
    stack.world.kube.faults.clear();
  }
}

test('a hung exec (the snapshot) is cut by the whole-finding deadline: 500, no DELETE, the claim released', { timeout: 180_000 }, async () => {
  const writesBefore = stack.world.kube.writes.length;
  // Every exec into the pod hangs: the container's own tools and the trusted collector alike.
  const r = await deliver(DEADLINE_MS, { match: new RegExp(`^EXEC ${NS}/${DEPLOY_POD}/`) });
  assert.equal(r.status, 500, 'the delivery is retried');
  assert.ok(r.ms >= DEADLINE_MS, `not before the deadline (${r.ms} ms)`);
  assert.ok(r.ms < WELL_BEFORE_ANY_TIMEOUT_MS, `returned long before any step timeout (${r.ms} ms)`);
  assert.equal(stack.world.kube.writes.slice(writesBefore).filter((w) => w.method === 'DELETE').length, 0, 'nothing deleted');
  const mine = audit.entries().filter((e) => (e[OPERATION] as { id?: string } | undefined)?.id === r.findingName);
  const summary = mine.at(-1) ?? {};
  assert.match(String(summary['message']), /timed out after 3000 ms/, JSON.stringify(summary));
  // The claim was released, so the redelivery may run at once.
  const id = r.findingName.split('/').pop() ?? '';
  assert.ok(stack.gcs.objects(BUCKET).some((o) => o.name.includes(`/${id}/`) && /claim-\d+\.released\.json$/.test(o.name)), 'claim released');
});

test('negative control: without the deadline the same hang holds the handler past it', { timeout: 180_000 }, async () => {
  // The enrichment/pod calls are fine; the exec hangs until the 120 s snapshot timeout. We do
  // not wait for that: the handler must still be running well after the deadline would have fired.
  configureResponder({ env: stack.env({ SCC_RESPONDER_POLICY: join(dir, 'policy.yaml') }), auditDestination: audit.destination, configOverrides: { deadlineMs: 3_600_000 } });
  stack.world.kube.faults.inject({ match: new RegExp(`^EXEC ${NS}/${DEPLOY_POD}/`), hang: true, times: Number.POSITIVE_INFINITY });
  const { notification: body } = freshFinding('dl');
  stack.known(body);
  const pending = postStructured(url, structuredEvent(body)).then((res) => res.status);
  const settled = await Promise.race([pending.then(() => 'returned'), new Promise((resolve) => setTimeout(() => resolve('still running'), DEADLINE_MS * 3))]);
  assert.equal(settled, 'still running');
  stack.world.kube.faults.clear();
  // Let it finish by closing the hung exec: the fakes answer hung calls when cleared/closed.
  server.closeAllConnections();
  await pending.catch(() => undefined);
});
