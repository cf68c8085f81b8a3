// The whole responder, end to end: CloudEvents posted to the Functions Framework server,
// the real composition root building the real clients from configuration, every outside
// system a local fake. Covers the write-back acceptance: evidence, deletion, marks (v1 and
// v2), results topic, duplicates (10 concurrent deliveries), a transient failure followed by
// redelivery, and a permanent failure acked with an ERROR entry.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { configureResponder, FUNCTION_NAME } from '../../functions/scc-responder/index.js';
import { captureAudit, LABELS, OPERATION, PLANTED_SECRET } from '../support/audit-capture.js';
import { freshFinding, postBinary, postStructured, structuredEvent, listenOnLoopback, type FreshFinding } from '../support/cloudevents.js';
import { DEPLOY_POD, NS } from '../support/fake-kube-world.js';
import { BUCKET, FIXTURE_BINARY, startStack, type Stack } from '../support/stack.js';

const POLICY = 'policies/enforce-delete-for-deployments.yaml';
let stack: Stack;
let server: Server;
let url: string;
const audit = captureAudit();

function configure(extra: NodeJS.ProcessEnv = {}): void {
  configureResponder({ env: stack.env({ SCC_RESPONDER_POLICY: POLICY, ...extra }), auditDestination: audit.destination });
}

/** A fresh finding (unique id, detected now) that SCC holds: the function confirms it before acting. */
function freshKnownFinding(name?: string): FreshFinding {
  const f = freshFinding('f', name);
  stack.known(f.notification);
  return f;
}


const deletes = (): number => stack.world.kube.writes.filter((w) => w.method === 'DELETE' && w.path.endsWith(`/pods/${DEPLOY_POD}`)).length;
const objects = (suffix: string): string[] => stack.gcs.objects(BUCKET).map((o) => o.name).filter((n) => n.endsWith(suffix));
/** Store requests since request number `from` that name this finding's folder: "METHOD path?query", decoded. */
const storeCalls = (from: number, id: string): string[] =>
  stack.gcs.requests.slice(from).map((r) => `${r.method} ${decodeURIComponent(`${r.path}?${r.query}`)}`).filter((c) => c.includes(`${id}/`));
const entriesFor = (findingName: string): Record<string, unknown>[] =>
  audit.entries().filter((e) => (e[OPERATION] as { id?: string } | undefined)?.id === findingName);

before(async () => {
  stack = await startStack();
  configure();
  server = getTestServer(FUNCTION_NAME);
  url = await listenOnLoopback(server);
});
after(async () => {
  server.close();
  configureResponder(undefined);
  await stack.close();
});
beforeEach(() => {
  audit.clear();
  stack.restoreCheckoutPod();
  stack.world.kube.faults.clear();
  stack.scc.faults.clear();
  stack.pubsub.faults.clear();
  stack.gcs.faults.clear();
  stack.gcs.setIamCondition(undefined);
});

describe('a matching finding, enforce policy', () => {
  test('evidence stored, pod deleted after it, marks written (v1), result published, audit complete', async () => {
    const { notification, findingName } = freshKnownFinding();
    const deletesBefore = deletes();
    const res = await postStructured(url, structuredEvent(notification));
    assert.equal(res.status, 204, audit.lines.slice(-3).join('\n'));

    const id = findingName.split('/').at(-1) as string;
    const binaries = objects(`${id}/binary`);
    assert.equal(binaries.length, 1, 'one evidence object');
    assert.equal(objects(`${id}/manifest.json`).length, 1);
    assert.equal(objects(`${id}/report.json`).length, 1);
    assert.equal(objects(`${id}/report.md`).length, 1);
    assert.equal(deletes(), deletesBefore + 1, 'one delete');
    // Everything went through with the roles Terraform grants on the bucket (the stack's GCS
    // fake checks them), and the copy's hashes are on the manifest, not patched onto the binary.
    assert.deepEqual(stack.gcs.denied, [], 'no request needed a permission the deployed roles lack');
    assert.ok(!stack.gcs.requests.some((r) => r.method === 'PATCH'), 'no metadata update is sent');
    const manifest = stack.gcs.object(BUCKET, objects(`${id}/manifest.json`)[0] ?? '');
    assert.equal(manifest?.metadata['scc-sha256'], createHash('sha256').update(FIXTURE_BINARY).digest('hex'));
    assert.equal(manifest?.metadata['scc-verdict'], 'matches');

    const marks = stack.scc.marksOf(findingName);
    assert.equal(marks?.['scc_responder_state'], 'contained');
    assert.match(marks?.['scc_responder_action'] ?? '', /deleted/);
    assert.equal(marks?.['scc_responder_hash'], 'matches');
    assert.match(marks?.['scc_responder_evidence'] ?? '', new RegExp(`^gs://${BUCKET}/ctd/.*${id}/binary$`));
    const update = stack.scc.updates.find((u) => u.finding === findingName);
    assert.equal(update?.version, 'v1');
    assert.ok(update?.paths.every((p) => p.startsWith('marks.')), 'update mask names each mark key');

    const published = stack.pubsub.messages.filter((m) => m.orderingKey === findingName);
    assert.equal(published.length, 1);
    assert.equal(published[0]?.attributes['category'], 'Execution: Modified Malicious Binary Executed');
    assert.equal(published[0]?.attributes['cluster'], 'payments');
    assert.match(published[0]?.attributes['action'] ?? '', /deleted/);
    assert.ok(!published[0]?.data.toString().includes(PLANTED_SECRET));

    // The evidence was stored before the delete was sent.
    const entries = entriesFor(findingName);
    const snapshotAt = entries.findIndex((e) => String(e['message']).startsWith('step snapshot ok'));
    const deleteAt = entries.findIndex((e) => String(e['message']).startsWith('step contain.deletePod'));
    assert.ok(snapshotAt >= 0 && deleteAt > snapshotAt, 'snapshot entry precedes the delete entry');
    // Every line the run printed: valid JSON, a severity, this finding's operation id, no secret.
    assert.ok(audit.lines.length >= 10, `a full run writes one entry per step: ${audit.lines.length}`);
    for (const line of audit.lines) {
      const e = JSON.parse(line) as Record<string, unknown>;
      assert.equal(typeof e['severity'], 'string');
      assert.equal((e[OPERATION] as { id?: string } | undefined)?.id, findingName, line.slice(0, 200));
      assert.ok(!line.includes(PLANTED_SECRET));
    }
    const summary = entries.at(-1) as Record<string, unknown>;
    assert.equal((summary[OPERATION] as { last?: boolean }).last, true);
    assert.equal((summary[LABELS] as Record<string, string>)['verdict'], 'handled');
  });

  test('v2 finding names: marks written through the v2 API with the locations name', async () => {
    const { notification, findingName } = freshKnownFinding('modified-malicious-binary.v2.json');
    const res = await postBinary(url, notification);
    assert.equal(res.status, 204, audit.lines.slice(-3).join('\n'));
    const update = stack.scc.updates.find((u) => u.finding === findingName);
    assert.equal(update?.version, 'v2');
    assert.match(update?.name ?? '', /\/locations\/global\/findings\/[^/]+\/securityMarks$/);
  });

  test('the same message delivered 10 times concurrently: one evidence object, one delete, consistent marks', async () => {
    const { notification, findingName } = freshKnownFinding();
    const event = structuredEvent(notification);
    const before = deletes();
    const statuses = await Promise.all(Array.from({ length: 10 }, () => postStructured(url, event).then((r) => r.status)));
    // Duplicates are acked (204) or, when another instance-like claim is live, retried (500): never double effects.
    assert.ok(statuses.every((s) => s === 204 || s === 500), JSON.stringify(statuses));
    const id = findingName.split('/').at(-1) as string;
    assert.equal(objects(`${id}/binary`).length, 1);
    assert.equal(deletes(), before + 1);
    assert.equal(stack.scc.marksOf(findingName)?.['scc_responder_state'], 'contained');
  });

  test('a transient failure (SCC 503) asks for redelivery; the redelivery completes without repeating done effects', async () => {
    const { notification, findingName } = freshKnownFinding();
    stack.scc.faults.inject({ match: 'UpdateSecurityMarks', status: 503 });
    const before = deletes();
    const id = findingName.split('/').at(-1) as string;
    const seen = stack.gcs.requests.length;
    const first = await postStructured(url, structuredEvent(notification));
    assert.equal(first.status, 500);
    assert.equal(deletes(), before + 1, 'the delete happened in the first attempt');
    // The first delivery created claim-0: it neither read report.json, nor listed effect records,
    // nor asked for an earlier copy of the binary (it waited for the claim's answer instead).
    const firstCalls = storeCalls(seen, id);
    assert.ok(firstCalls.some((c) => c.includes(`${id}/effects-`) && c.startsWith('POST')), `the first attempt recorded its delete: ${firstCalls.join('\n')}`);
    assert.deepEqual(firstCalls.filter((c) => c.startsWith('GET') && (c.includes(`${id}/report.json`) || c.includes(`${id}/binary`) || c.includes(`prefix=`) && c.includes(`${id}/effects-`))), [], firstCalls.join('\n'));
    const mid = stack.gcs.requests.length;
    const second = await postStructured(url, structuredEvent(notification));
    assert.equal(second.status, 204, audit.lines.slice(-3).join('\n'));
    assert.equal(objects(`${id}/binary`).length, 1, 'evidence not copied twice');
    assert.equal(deletes(), before + 1, 'no second delete');
    // The redelivery (claim-1) looks for the earlier attempt's records, finds them, and reports them.
    const secondCalls = storeCalls(mid, id);
    assert.ok(secondCalls.some((c) => c.startsWith('GET') && c.includes('prefix=') && c.includes(`${id}/effects-`)), `effect records listed: ${secondCalls.join('\n')}`);
    const report = JSON.parse((await stack.gcs.read(BUCKET, objects(`${id}/report.json`)[0] ?? '')).toString()) as { priorEffects?: { actions: { type: string }[] }[]; evidence?: { outcome: string } };
    assert.ok(report.priorEffects?.some((e) => e.actions.some((a) => a.type === 'deletePod')), 'the first attempt\'s delete is in the report');
    assert.equal(report.evidence?.outcome, 'exists', 'the earlier copy was found, not made again');
    assert.equal(stack.scc.marksOf(findingName)?.['scc_responder_state'], 'contained');
    // A third delivery (SCC re-notifies after our mark write) is acknowledged without acting.
    const third = await postStructured(url, structuredEvent(notification));
    assert.equal(third.status, 204);
    assert.equal(deletes(), before + 1);
  });

  test('the manifest (which carries the hashes) refused by IAM: the run goes on, and says so in a WARNING entry', async () => {
    const { notification, findingName } = freshKnownFinding();
    const id = findingName.split('/').at(-1) as string;
    stack.gcs.setIamCondition((permission, object) => !(permission === 'storage.objects.create' && object.endsWith(`${id}/manifest.json`)));
    const res = await postStructured(url, structuredEvent(notification));
    assert.equal(res.status, 204);
    assert.equal(objects(`${id}/binary`).length, 1, 'the evidence itself is stored');
    assert.equal(objects(`${id}/manifest.json`).length, 0);
    assert.ok(stack.gcs.denied.some((d) => d.object.endsWith(`${id}/manifest.json`)), 'the refusal was hit');
    const entries = entriesFor(findingName);
    const warning = entries.find((e) => e['severity'] === 'WARNING' && /manifest\.json failed/.test(String(e['message'])));
    assert.ok(warning, entries.map((e) => `${String(e['severity'])} ${String(e['message']).slice(0, 160)}`).join('\n'));
  });

  test('a permanent failure (exec forbidden) is acked with an ERROR entry and blocks the delete', async () => {
    const { notification, findingName } = freshKnownFinding();
    // Every exec into the pod (the collector's and the container's): our RBAC, not the target.
    stack.world.kube.faults.inject({ match: `EXEC ${NS}/${DEPLOY_POD}/`, status: 403, times: 20 });
    const before = deletes();
    const res = await postStructured(url, structuredEvent(notification));
    assert.equal(res.status, 204);
    assert.equal(deletes(), before, 'no evidence, no delete');
    const entries = entriesFor(findingName);
    assert.ok(entries.some((e) => e['severity'] === 'ERROR' && String(e['message']).startsWith('step snapshot failed')), entries.map((e) => e['message']).join('\n'));
    assert.match(stack.scc.marksOf(findingName)?.['scc_responder_action'] ?? '', /delete-refused/);
  });
});
