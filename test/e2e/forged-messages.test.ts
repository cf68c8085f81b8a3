// Forged messages through the whole function (Functions Framework server, real composition
// root, real clients, every outside system a fake): an attacker who may publish to the
// findings topic writes the message; SCC (the gRPC fake) knows only the real findings. Every
// forged case is acked (204) with a WARNING "finding not confirmed by SCC" and makes ZERO
// calls to the Kubernetes fake and ZERO log queries: no write of any kind (no claim, report,
// evidence, mark or published result). Controls: the genuine finding does reach the cluster,
// and SCC unavailable asks for redelivery (still without a cluster call).
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { configureResponder, FUNCTION_NAME } from '../../functions/scc-responder/index.js';
import { captureAudit, OPERATION } from '../support/audit-capture.js';
import { fixture, postStructured, structuredEvent, listenOnLoopback } from '../support/cloudevents.js';
import { BARE_POD, DEPLOY_POD, NS } from '../support/fake-kube-world.js';
import { CTD_SOURCE } from '../support/fake-scc.js';
import { startStack, type Stack } from '../support/stack.js';

const ENFORCE = 'policies/enforce-delete-for-deployments.yaml';
const TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';
let stack: Stack;
let server: Server;
let url: string;
const audit = captureAudit();

interface Notification {
  finding: {
    name: string;
    canonicalName?: string;
    parent?: string;
    eventTime: string;
    resourceName: string;
    sourceProperties: Record<string, unknown>;
    processes: { binary: { path: string } }[];
    kubernetes: { pods: { name: string; labels?: { name: string; value: string }[] }[] };
    parentDisplayName?: string;
  };
  resource: { name: string };
}

/** The genuine finding (unique id, detected now). `register` makes SCC know it. */
function genuine(register = true): Notification {
  const n = structuredClone(fixture('modified-malicious-binary.v1.json')) as unknown as Notification;
  const id = `forge${Math.random().toString(16).slice(2, 12)}`;
  n.finding.eventTime = new Date().toISOString();
  n.finding.name = n.finding.name.replace(/[^/]+$/, id);
  if (n.finding.canonicalName) n.finding.canonicalName = n.finding.canonicalName.replace(/[^/]+$/, id);
  if (register) stack.known(n);
  return n;
}

interface Counters {
  kube: number;
  logs: number;
  gcs: number;
  marks: number;
  published: number;
  scc: number;
}
const counters = (): Counters => ({
  kube: stack.world.kube.requests.length,
  logs: stack.world.logging.requests.length,
  gcs: stack.gcs.requests.length,
  marks: stack.scc.updates.length,
  published: stack.pubsub.messages.length,
  scc: stack.scc.reads.length,
});
const delta = (a: Counters, b: Counters): Counters => ({
  kube: b.kube - a.kube, logs: b.logs - a.logs, gcs: b.gcs - a.gcs, marks: b.marks - a.marks, published: b.published - a.published, scc: b.scc - a.scc,
});

/** Posts a forged message; asserts 204, the WARNING entry, and no call/write anywhere. Returns the counts. */
async function assertRefused(n: Notification, reason: RegExp): Promise<Counters> {
  const before = counters();
  const res = await postStructured(url, structuredEvent(n));
  // Confirmation may start locating the cluster (GKE API, not Kubernetes): let any such call settle.
  await new Promise((r) => setTimeout(r, 50));
  const d = delta(before, counters());
  assert.equal(res.status, 204, audit.lines.slice(-3).join('\n'));
  const entries = audit.entries().filter((e) => (e[OPERATION] as { id?: string } | undefined)?.id === n.finding.name);
  const summary = entries.at(-1);
  assert.equal(summary?.['severity'], 'WARNING', JSON.stringify(summary));
  assert.match(String(summary?.['message']), /^finding not confirmed by SCC: /);
  assert.match(String(summary?.['message']), reason);
  assert.equal(d.kube, 0, 'zero calls to the Kubernetes API');
  assert.equal(d.logs, 0, 'zero log queries');
  assert.equal(d.gcs, 0, 'nothing read or written in the evidence store (no claim, no report)');
  assert.equal(d.marks, 0, 'no marks');
  assert.equal(d.published, 0, 'nothing published');
  assert.ok(!entries.some((e) => /^step /.test(String(e['message']))), 'no step ran');
  return d;
}

before(async () => {
  stack = await startStack();
  configureResponder({ env: stack.env({ SCC_RESPONDER_POLICY: ENFORCE }), auditDestination: audit.destination });
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
  stack.scc.faults.clear();
});

describe('forged messages make no cluster call, no log query, no write', () => {
  test('control: the genuine finding is confirmed and reaches the cluster', async () => {
    const n = genuine();
    const before = counters();
    const res = await postStructured(url, structuredEvent(n));
    assert.equal(res.status, 204, audit.lines.slice(-3).join('\n'));
    const d = delta(before, counters());
    assert.ok(d.kube > 0, 'the Kubernetes fake was called');
    assert.ok(d.logs > 0, 'the log queries ran');
    assert.ok(d.scc >= 1, 'SCC was read');
    assert.ok(audit.entries().some((e) => String(e['message']).startsWith('finding confirmed by SCC')));
    assert.equal(stack.scc.marksOf(n.finding.name)?.['scc_responder_confirmed'], 'scc');
  });

  test('unknown finding name (a made-up organization and source)', async () => {
    const n = genuine(false);
    n.finding.name = 'organizations/999/sources/1/findings/forged1';
    const reads = stack.scc.reads.length;
    await assertRefused(n, /SCC has no finding named/);
    assert.equal(stack.scc.reads.slice(reads).filter((r) => r.method === 'ListFindings').length, 1, 'one ListFindings');
  });

  test('a real finding id under another, unknown name is not the finding', async () => {
    const real = genuine();
    const n = structuredClone(real);
    n.finding.name = real.finding.name.replace(/[^/]+$/, 'forgedsibling');
    await assertRefused(n, /SCC has no finding named/);
  });

  test('wrong source: SCC knows it, from a custom source (even one that copies the display name)', async () => {
    const custom = 'organizations/123456789012/sources/4242';
    stack.scc.addSource(custom, 'Acme custom scanner');
    const n = genuine(false);
    n.finding.name = `${custom}/findings/customsrc1`;
    n.finding.parent = custom;
    stack.known(n);
    await assertRefused(n, /source .*4242.* is "Acme custom scanner", not Container Threat Detection/);
  });

  test('INACTIVE in SCC', async () => {
    const n = genuine();
    stack.scc.patchFinding(n.finding.name, { state: 'INACTIVE' });
    await assertRefused(n, /INACTIVE/);
  });

  test('muted in SCC', async () => {
    const n = genuine();
    stack.scc.patchFinding(n.finding.name, { mute: 'MUTED' });
    await assertRefused(n, /muted/);
  });

  test('eventTime in the future: refused before SCC is even asked', async () => {
    const n = genuine();
    n.finding.eventTime = '2030-01-01T00:00:00Z';
    const d = await assertRefused(n, /in the future/);
    assert.equal(d.scc, 0);
  });

  test("eventTime older than the policy's window (192 h)", async () => {
    const n = genuine();
    n.finding.eventTime = new Date(Date.now() - 9 * 24 * 3_600_000).toISOString();
    await assertRefused(n, /older than the policy's window/);
  });

  test('the pod differs from SCC\'s copy', async () => {
    const n = genuine();
    n.finding.sourceProperties['Pod_Name'] = BARE_POD;
    n.finding.kubernetes.pods[0]!.name = BARE_POD;
    await assertRefused(n, /pod differs: message "debug-shell", SCC "checkout-7d9f8b6c5d-q2x8z"/);
  });

  test('the resource (cluster) differs from SCC\'s copy', async () => {
    const n = genuine();
    const other = '//container.googleapis.com/projects/other-team-prod/locations/us-central1/clusters/payments';
    n.finding.resourceName = other;
    n.resource.name = other;
    await assertRefused(n, /resource differs/);
  });

  test('exfiltration: the binary path names the service-account token: no exec, no call at all', async () => {
    const n = genuine();
    n.finding.processes[0]!.binary.path = TOKEN_PATH;
    n.finding.sourceProperties['Process_Binary_Fullpath'] = TOKEN_PATH;
    const execsBefore = stack.world.kube.requests.filter((r) => r.path.includes('/exec')).length;
    await assertRefused(n, /binary path differs/);
    assert.equal(stack.world.kube.requests.filter((r) => r.path.includes('/exec')).length, execsBefore, 'no exec');
  });

  test('exfiltration with a made-up name under the default dry-run policy: no exec', async () => {
    const env = stack.env();
    delete env['SCC_RESPONDER_POLICY'];
    configureResponder({ env, auditDestination: audit.destination });
    try {
      const n = genuine(false);
      n.finding.name = `${CTD_SOURCE}/findings/exfil1`;
      n.finding.processes[0]!.binary.path = TOKEN_PATH;
      n.finding.sourceProperties['Process_Binary_Fullpath'] = TOKEN_PATH;
      await assertRefused(n, /SCC has no finding named/);
    } finally {
      configureResponder({ env: stack.env({ SCC_RESPONDER_POLICY: ENFORCE }), auditDestination: audit.destination });
    }
  });

  test('SCC unavailable: redelivery (500), still no cluster call', async () => {
    const n = genuine();
    stack.scc.faults.inject({ match: 'ListFindings', status: 503, times: 5 });
    const before = counters();
    const res = await postStructured(url, structuredEvent(n));
    const d = delta(before, counters());
    assert.equal(res.status, 500);
    assert.equal(d.kube, 0);
    assert.equal(d.logs, 0);
    assert.equal(d.gcs, 0);
  });

  test("the response acts on SCC's copy: the message hides the exemption label SCC recorded", async () => {
    const n = genuine(false);
    const scc = structuredClone(n);
    scc.finding.kubernetes.pods[0]!.labels = [...(scc.finding.kubernetes.pods[0]!.labels ?? []), { name: 'scc-responder/exempt', value: 'true' }];
    stack.known(scc);
    const deletes = (): number => stack.world.kube.writes.filter((w) => w.method === 'DELETE' && w.path.endsWith(`/namespaces/${NS}/pods/${DEPLOY_POD}`)).length;
    const before = deletes();
    const res = await postStructured(url, structuredEvent(n));
    assert.equal(res.status, 204, audit.lines.slice(-3).join('\n'));
    assert.equal(deletes(), before, 'no delete: SCC\'s copy is exempt, so the dry-run rule decides');
    const summary = audit.entries().filter((e) => (e[OPERATION] as { id?: string } | undefined)?.id === n.finding.name).at(-1);
    assert.equal((summary?.['logging.googleapis.com/labels'] as Record<string, string>)['rule'], 'triage-everything-else');
  });
});
