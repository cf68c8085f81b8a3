// Notifications through the real function (Functions Framework test server, the real
// composition root, real client libraries against the fakes) to a local HTTPS receiver that
// stands in for Slack, Google Chat and PagerDuty. Checked: each payload's documented fields;
// the webhook URLs and routing key (canaries) appear in no audit line, report object or
// published result; a webhook answering 500 or never answering is a best-effort failure in
// the audit trail, the delivery is not redelivered, and the DELETE was answered before any
// webhook request arrived (order from the fake API server's own write log, not wall time).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { configureResponder, FUNCTION_NAME } from '../../functions/scc-responder/index.js';
import { createWebhookPoster } from '../../shared/notify/send.js';
import { captureAudit, OPERATION } from '../support/audit-capture.js';
import { freshFinding, listenOnLoopback, postStructured, structuredEvent } from '../support/cloudevents.js';
import { DEPLOY_POD, NS } from '../support/fake-kube-world.js';
import { BUCKET, startStack, type Stack } from '../support/stack.js';
import { startFakeSecretManager } from '../support/fake-secret-manager.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const SLACK_CANARY = 'XcanarySLACKtoken0123456789ab';
const CHAT_CANARY = 'XcanaryCHATtoken0123456789abcd';
const PD_CANARY = 'XcanaryPDroutingkey0123456789ab';
const CANARIES = [SLACK_CANARY, CHAT_CANARY, PD_CANARY];

const policy = (notify: string): string => `version: 1
requireEvidence: true
enrich:
  callTimeoutSeconds: 5
rules:
  - name: delete-and-tell
    match:
      categories: ["Execution: Modified Malicious Binary Executed"]
      namespaces: ["${NS}"]
    mode: enforce
    actions:
      - type: deletePod
    notify:
${notify}`;
const ALL = `      - { channel: slack, secret: slack-hook }
      - { channel: googleChat, secret: chat-hook }
      - { channel: pagerduty, secret: pd-key }
`;

/** At each webhook's arrival: had the fake API server already answered the pod's DELETE? */
interface Seen {
  deleteAnswered: boolean;
}

let stack: Stack;
/** The checkout pod as the world made it: put back before each delivery (the last one deleted it). */
let pristinePod: unknown;
/** Index into the fake API server's write log where the current delivery starts. */
let writesBefore = 0;
let receiver: WebhookReceiver<Seen>;
let server: Server;
let url: string;
let dir: string;
const audit = captureAudit();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'notify-'));
  stack = await startStack();
  pristinePod = structuredClone(stack.world.kube.pod(NS, DEPLOY_POD));
  receiver = await startWebhookReceiver<Seen>(() => ({
    deleteAnswered: stack.world.kube.writes.slice(writesBefore).some((w) => w.method === 'DELETE' && w.path.endsWith(`/pods/${DEPLOY_POD}`) && w.status !== undefined && w.status < 300),
  }));
  writeFileSync(join(dir, 'ca.pem'), receiver.caPem);
  server = getTestServer(FUNCTION_NAME);
  url = await listenOnLoopback(server);
});

after(async () => {
  server.close();
  configureResponder(undefined);
  await receiver.close();
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  receiver.clear();
  audit.clear();
});


/** Puts the pod back (a previous test deleted it) and delivers one fresh finding. */
async function deliver(notify = ALL, extraEnv: NodeJS.ProcessEnv = { SCC_RESPONDER_SECRET_SOURCE: 'env' }): Promise<{ status: number; findingName: string }> {
  const file = join(dir, `policy-${Math.random().toString(16).slice(2)}.yaml`);
  writeFileSync(file, policy(notify));
  configureResponder({
    env: stack.env({
      SCC_RESPONDER_POLICY: file,
      SCC_RESPONDER_WEBHOOK_CA_FILE: join(dir, 'ca.pem'),
      SCC_RESPONDER_ENDPOINT_PAGERDUTY: `127.0.0.1:${receiver.port}`,
      SCC_RESPONDER_NOTIFY_SLACK_HOOK: `${receiver.origin}/services/T0001/B0001/${SLACK_CANARY}`,
      SCC_RESPONDER_NOTIFY_CHAT_HOOK: `${receiver.origin}/v1/spaces/AAAA/messages?key=k&token=${CHAT_CANARY}`,
      SCC_RESPONDER_NOTIFY_PD_KEY: PD_CANARY,
      ...extraEnv,
    }),
    auditDestination: audit.destination,
  });
  restorePod();
  const { notification: body, findingName } = freshFinding('nt');
  stack.known(body); // SCC holds the finding: the function confirms before acting
  const res = await postStructured(url, structuredEvent(body));
  return { status: res.status, findingName };
}

function restorePod(): void {
  // structuredClone turns Buffers into plain Uint8Arrays; the fake's /proc and files want Buffers.
  const pod = structuredClone(pristinePod) as Parameters<Stack['world']['kube']['addPod']>[0];
  const asBuffers = (v: unknown): unknown =>
    v instanceof Uint8Array ? Buffer.from(v) : Array.isArray(v) ? v.map(asBuffers) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asBuffers(x)])) : v;
  stack.world.kube.addPod(asBuffers(pod) as typeof pod);
  writesBefore = stack.world.kube.writes.length;
}

function entriesOf(findingName: string): Record<string, unknown>[] {
  return audit.entries().filter((e) => (e[OPERATION] as { id?: string } | undefined)?.id === findingName);
}

function stepOf(findingName: string, name: string): { status?: string; reason?: string; failure?: string; bestEffort?: boolean; code?: unknown } | undefined {
  return entriesOf(findingName).find((e) => (e['step'] as { name?: string } | undefined)?.name === name)?.['step'] as never;
}

function deletes(): number {
  return stack.world.kube.writes.slice(writesBefore).filter((w) => w.method === 'DELETE' && w.path.endsWith(`/pods/${DEPLOY_POD}`) && w.status === 200).length;
}

const byPath = (prefix: string): Record<string, unknown>[] => receiver.requests.filter((r) => r.path.startsWith(prefix)).map((r) => r.body as Record<string, unknown>);

async function everyOutput(findingName: string): Promise<string> {
  const id = findingName.split('/').pop() ?? '';
  const reports = await Promise.all(
    stack.gcs.objects(BUCKET).filter((o) => o.name.includes(`/${id}/`) && /report\.(json|md)$/.test(o.name)).map(async (o) => (await stack.gcs.read(BUCKET, o.name)).toString('utf8')),
  );
  assert.equal(reports.length, 2, 'report.json and report.md were stored');
  const published = stack.pubsub.messages.map((m) => m.data.toString('utf8')).filter((d) => d.includes(id));
  assert.ok(published.length >= 1, 'the result was published');
  return [...audit.lines, ...reports, ...published].join('\n');
}

test('slack, google chat and pagerduty get their native payloads after the DELETE; no secret in any output', { timeout: 120_000 }, async () => {
  const { status, findingName } = await deliver();
  assert.equal(status, 204, 'handled, no redelivery');
  assert.equal(deletes(), 1, 'the pod was deleted once');

  // Every webhook arrived after the fake API server had answered the DELETE.
  assert.equal(receiver.requests.length, 4, receiver.requests.map((r) => r.path).join(', '));
  for (const r of receiver.requests) assert.equal(r.seen.deleteAnswered, true, `${r.path} arrived before the DELETE was answered`);

  // Slack incoming webhook: text + Block Kit blocks.
  const [slack] = byPath('/services/T0001/B0001/');
  assert.ok(slack);
  assert.equal(typeof slack['text'], 'string');
  assert.match(String(slack['text']), /Execution: Modified Malicious Binary Executed/);
  const blocks = slack['blocks'] as { type: string; text?: { type: string; text: string }; fields?: { type: string; text: string }[]; elements?: { type: string; url: string; text: { type: string; text: string } }[] }[];
  assert.deepEqual(blocks.map((b) => b.type), ['header', 'section', 'section', 'actions']);
  assert.equal(blocks[0]?.text?.type, 'plain_text');
  assert.ok((blocks[0]?.text?.text.length ?? 0) <= 150);
  const fields = (blocks[1]?.fields ?? []).map((f) => f.text).join('\n');
  assert.ok((blocks[1]?.fields ?? []).length <= 10 && (blocks[1]?.fields ?? []).every((f) => f.type === 'mrkdwn'));
  for (const want of ['payments', `${NS} / ${DEPLOY_POD}`, '/usr/bin/curl', 'matches', 'delete-and-tell (enforce)']) assert.ok(fields.includes(want), `slack fields carry ${want}: ${fields}`);
  assert.match(blocks[2]?.text?.text ?? '', /deletePod: done/);
  const buttons = blocks[3]?.elements ?? [];
  assert.ok(buttons.every((b) => b.type === 'button' && b.text.type === 'plain_text' && /^https:\/\//.test(b.url)));
  assert.ok(buttons.some((b) => b.url.startsWith('https://console.cloud.google.com/security/command-center/') && b.url.includes(encodeURIComponent(findingName))), 'link to the finding');
  assert.ok(buttons.some((b) => b.url.startsWith('https://console.cloud.google.com/storage/browser/_details/acme-scc-evidence/') && b.url.endsWith('/report.md')), 'link to the report object');
  assert.ok(buttons.some((b) => b.url.startsWith('https://console.cloud.google.com/logs/query')), 'Logs Explorer link');

  // Google Chat incoming webhook: text + cardsV2, the query (key, token) kept.
  const chatReq = receiver.requests.find((r) => r.path === '/v1/spaces/AAAA/messages');
  assert.ok(chatReq);
  assert.equal(chatReq.search, `?key=k&token=${CHAT_CANARY}`);
  assert.equal(chatReq.headers['content-type'], 'application/json; charset=utf-8');
  const chat = chatReq.body as { text: string; cardsV2: { cardId: string; card: { header: { title: string; subtitle: string }; sections: { header?: string; widgets: Record<string, unknown>[] }[] } }[] };
  assert.match(chat.text, /deletePod: done/);
  assert.equal(chat.cardsV2.length, 1);
  assert.match(chat.cardsV2[0]!.cardId, /^scc-responder-nt/);
  assert.match(chat.cardsV2[0]!.card.header.subtitle, new RegExp(`payments / ${NS} / ${DEPLOY_POD}`));
  const widgets = chat.cardsV2[0]!.card.sections.flatMap((s) => s.widgets);
  assert.ok(widgets.some((w) => 'decoratedText' in w && JSON.stringify(w).includes('/usr/bin/curl')));
  const chatButtons = widgets.flatMap((w) => ((w['buttonList'] as { buttons: { text: string; onClick: { openLink: { url: string } } }[] } | undefined)?.buttons ?? []));
  assert.ok(chatButtons.length >= 3 && chatButtons.every((b) => /^https:\/\//.test(b.onClick.openLink.url)));

  // PagerDuty Events API v2: trigger then resolve (contained), dedup_key = the finding name.
  const pd = byPath('/v2/enqueue') as { routing_key: string; event_action: string; dedup_key: string; payload?: Record<string, unknown>; links?: { href: string; text: string }[] }[];
  assert.deepEqual(pd.map((e) => e.event_action), ['trigger', 'resolve']);
  for (const e of pd) {
    assert.equal(e.routing_key, PD_CANARY);
    assert.equal(e.dedup_key, findingName);
  }
  const p = pd[0]!.payload!;
  assert.ok(['critical', 'error', 'warning', 'info'].includes(String(p['severity'])));
  assert.equal(p['source'], 'payments');
  assert.equal(p['component'], DEPLOY_POD);
  assert.equal(p['group'], NS);
  assert.ok(String(p['summary']).length > 0 && String(p['summary']).length <= 1024);
  assert.ok(!Number.isNaN(Date.parse(String(p['timestamp']))));
  assert.equal((p['custom_details'] as { hashVerdict?: string }).hashVerdict, 'matches');
  assert.ok((pd[0]!.links ?? []).every((l) => l.href.startsWith('https://') && l.text.length > 0));
  assert.equal(pd[1]!.payload, undefined, 'a resolve carries no payload');

  // The steps: ok, best effort, naming the secret (not its value).
  for (const channel of ['slack', 'googleChat', 'pagerduty']) {
    const s = stepOf(findingName, `record.notify.${channel}`);
    assert.equal(s?.status, 'ok', JSON.stringify(s));
    assert.equal(s?.bestEffort, true);
  }

  // Canary: no webhook URL or routing key in audit lines, report objects or the published result...
  const out = await everyOutput(findingName);
  for (const c of CANARIES) assert.ok(!out.includes(c), `${c} leaked`);
  // ...and the Slack/Chat URLs in no message body either (the routing key must be in PagerDuty's).
  const bodies = receiver.requests.filter((r) => r.path !== '/v2/enqueue').map((r) => r.raw).join('\n');
  for (const c of CANARIES) assert.ok(!bodies.includes(c), `${c} in a webhook body`);
});

test('a webhook answering 500 and one that never answers: best-effort failures in the audit, no redelivery, DELETE first', { timeout: 120_000 }, async () => {
  receiver.fail({ path: '/services/', status: 500 });
  receiver.fail({ path: '/v1/spaces/', hang: true });
  const { status, findingName } = await deliver();
  assert.equal(status, 204, 'a failed notification never asks for a redelivery');
  assert.equal(deletes(), 1);
  for (const r of receiver.requests) assert.equal(r.seen.deleteAnswered, true, `${r.path} arrived before the DELETE was answered`);
  const slack = stepOf(findingName, 'record.notify.slack');
  assert.equal(slack?.status, 'failed');
  assert.equal(slack?.failure, 'transient');
  assert.equal(slack?.bestEffort, true);
  assert.equal(slack?.code, 500);
  assert.match(String(slack?.reason), /slack notification \(secret slack-hook\): HTTP 500/);
  const chat = stepOf(findingName, 'record.notify.googleChat');
  assert.equal(chat?.status, 'failed');
  assert.equal(chat?.bestEffort, true);
  assert.match(String(chat?.reason), /timed out/);
  assert.equal(stepOf(findingName, 'record.notify.pagerduty')?.status, 'ok');
  const out = await everyOutput(findingName);
  for (const c of CANARIES) assert.ok(!out.includes(c), `${c} leaked on the failure path`);
});

test('a missing secret is a permanent best-effort failure naming the variable, not a crash', { timeout: 120_000 }, async () => {
  const { status, findingName } = await deliver('      - { channel: slack, secret: not-configured }\n');
  assert.equal(status, 204);
  assert.equal(deletes(), 1);
  const s = stepOf(findingName, 'record.notify.slack');
  assert.equal(s?.status, 'failed');
  assert.equal(s?.failure, 'permanent');
  assert.match(String(s?.reason), /SCC_RESPONDER_NOTIFY_NOT_CONFIGURED/);
  assert.equal(receiver.requests.length, 0);
});

test('secrets from Secret Manager (real client, gRPC fake): latest version of the named secret, value in no output', { timeout: 120_000 }, async () => {
  const sm = await startFakeSecretManager();
  try {
    const SM_CANARY = 'XcanarySECRETMANAGERhook0123456789';
    sm.set('acme-security', 'slack-hook', `${receiver.origin}/services/T0002/B0002/${SM_CANARY}`);
    const { status, findingName } = await deliver('      - { channel: slack, secret: slack-hook }\n      - { channel: googleChat, secret: missing-secret }\n', {
      SCC_RESPONDER_SECRET_SOURCE: 'secret-manager',
      SCC_RESPONDER_SECRETS_PROJECT: 'acme-security',
      SCC_RESPONDER_ENDPOINT_SECRETMANAGER: `127.0.0.1:${sm.port}`,
    });
    assert.equal(status, 204);
    assert.deepEqual(sm.reads.sort(), ['projects/acme-security/secrets/missing-secret/versions/latest', 'projects/acme-security/secrets/slack-hook/versions/latest']);
    assert.equal(receiver.requests.filter((r) => r.path === `/services/T0002/B0002/${SM_CANARY}`).length, 1, 'posted to the URL held by Secret Manager');
    assert.equal(stepOf(findingName, 'record.notify.slack')?.status, 'ok');
    const chat = stepOf(findingName, 'record.notify.googleChat');
    assert.equal(chat?.status, 'failed');
    assert.equal(chat?.failure, 'permanent');
    assert.match(String(chat?.reason), /AccessSecretVersion on projects\/acme-security\/secrets\/missing-secret\/versions\/latest failed: .*NOT_FOUND/);
    const out = await everyOutput(findingName);
    assert.ok(!out.includes(SM_CANARY), 'the Secret Manager value leaked');
  } finally {
    await sm.close();
  }
});

test('negative control: a webhook sent before any DELETE is seen as such by the ordering check', async () => {
  writesBefore = stack.world.kube.writes.length;
  const poster = createWebhookPoster({ extraCaPem: receiver.caPem });
  await poster.postJson(new URL(`${receiver.origin}/services/early`), { text: 'early' }, 'early', AbortSignal.timeout(30_000));
  assert.equal(receiver.requests.at(-1)?.seen.deleteAnswered, false);
});

test('negative control: the canary check sees a secret when one is written to the audit', { timeout: 120_000 }, async () => {
  const { findingName } = await deliver('      - { channel: slack, secret: slack-hook }\n');
  audit.destination.write(`${JSON.stringify({ message: `leak ${SLACK_CANARY}` })}\n`);
  const out = await everyOutput(findingName);
  assert.ok(out.includes(SLACK_CANARY));
});
