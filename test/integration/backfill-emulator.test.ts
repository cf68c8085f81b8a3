// backfill against Google's Pub/Sub emulator and the SCC ListFindings fake (a few hundred
// generated findings, v1 and v2): it publishes exactly the ACTIVE findings that the policy
// matches and that carry none of our handled marks (one of them spelled in another case,
// which SCC's filter would not catch but isHandled does), each as a NotificationMessage the
// function's own decoder reads back to the same finding; --dry-run lists them and publishes
// nothing. Negative control: without the handled-mark check, the set differs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { main, type CliIO } from '../../functions/cli/main.js';
import { decodeMessage } from '../../shared/finding/decode.js';
import { toIncident } from '../../shared/finding/incident.js';
import { decide } from '../../shared/policy/decide.js';
import { loadPolicy } from '../../shared/policy/load.js';
import { isHandled } from '../../shared/record/marks.js';
import { startFakeScc, type FakeScc } from '../support/fake-scc.js';
import { generateFindings, ORG } from '../support/generated-findings.js';
import { startPubsubEmulator } from '../support/pubsub-emulator.js';
import type { SeededFinding } from '../support/scc-list-findings.js';

const PROJECT = 'acme-security';
const POLICY = `version: 1
rules:
  - name: payments
    match:
      categories: ["Execution: Modified Malicious Binary Executed"]
      namespaces: ["payments", "shop"]
    mode: dry-run
    actions: [{ type: deletePod }]
  - name: added
    match:
      categories: ["Execution: Added Malicious Binary Executed"]
    mode: dry-run
    actions: []
`;

let emulator: Awaited<ReturnType<typeof startPubsubEmulator>>;
let scc: FakeScc;
let admin: PubSub;
let dir: string;
let policyFile: string;
let findings: SeededFinding[];
let counter = 0;

before(async () => {
  await Promise.all([startPubsubEmulator({ projectId: PROJECT }).then((e) => (emulator = e)), startFakeScc().then((s) => (scc = s))]);
  admin = new PubSub({ projectId: PROJECT, apiEndpoint: emulator.host });
  findings = generateFindings(300);
  scc.listed.push(...findings);
  dir = mkdtempSync(join(tmpdir(), 'backfill-'));
  policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, POLICY);
});
after(async () => {
  await admin?.close();
  await scc?.close();
  await emulator?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const env = { SCC_RESPONDER_ENDPOINT_SCC: `127.0.0.1:${scc.port}`, SCC_RESPONDER_ENDPOINT_PUBSUB: emulator.host, METADATA_SERVER_DETECTION: 'none' };
  const io: CliIO = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), env };
  return { code: await main(args, io), stdout, stderr };
}

async function topicWithSubscription(): Promise<{ name: string; received: Message[]; waitFor(n: number): Promise<void>; close(): Promise<void> }> {
  const id = `findings-${++counter}`;
  const [topic] = await admin.createTopic(id);
  const [sub] = await topic.createSubscription(`${id}-pull`);
  const received: Message[] = [];
  sub.on('message', (m: Message) => {
    received.push(m);
    m.ack();
  });
  return {
    name: topic.name,
    received,
    async waitFor(n) {
      const start = performance.now();
      while (received.length < n) {
        if (performance.now() - start > 90_000) throw new Error(`only ${received.length} of ${n} messages arrived`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => sub.close(),
  };
}

/** What backfill must publish, computed here from the generated findings with the function's own pieces. */
function expectedNames(version: 'v1' | 'v2', checkMarks = true): string[] {
  const r = loadPolicy(POLICY, 'p.yaml');
  assert.ok(r.ok);
  return findings
    .filter((f) => f.finding.name.includes('/locations/') === (version === 'v2'))
    .filter((f) => String(f.finding['resourceName']).startsWith('//container.googleapis.com/'))
    .filter((f) => {
      const built = toIncident(structuredClone(f));
      assert.ok(built.ok);
      return decide(built.incident, r.policy).matched && (!checkMarks || !isHandled(built.incident.securityMarks));
    })
    .map((f) => f.finding.name)
    .sort();
}

describe('backfill -> Pub/Sub emulator', () => {
  for (const version of ['v1', 'v2'] as const) {
    test(`${version}: publishes exactly the unhandled ACTIVE matching findings, each decoding to the same finding`, async () => {
      const topic = await topicWithSubscription();
      try {
        const want = expectedNames(version);
        assert.ok(want.length > 15, `enough eligible findings (${want.length})`);
        assert.notDeepEqual(want, expectedNames(version, false), 'negative control: some matching findings carry our marks (one in another case)');
        const r = await run(['backfill', '--organization', ORG, '--topic', topic.name, '--policy', policyFile, '--api', version, '--since', '2026-01-01T00:00:00Z', '--rate', '500', '--page-size', '50']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`Published ${want.length} of \\d+ findings read to ${topic.name}; not published: .*already handled`));
        await topic.waitFor(want.length);
        const byName = new Map(findings.map((f) => [f.finding.name, f]));
        const got = topic.received.map((m) => {
          const decoded = decodeMessage(m.data.toString('utf8'));
          assert.ok(decoded.ok, JSON.stringify(decoded));
          const built = toIncident(decoded.message);
          assert.ok(built.ok);
          const original = byName.get(built.incident.findingName);
          assert.ok(original);
          const want = toIncident(structuredClone(original));
          assert.ok(want.ok);
          for (const k of ['category', 'state', 'severity', 'eventTime', 'namespace', 'pod', 'projectId', 'cluster', 'binary', 'container'] as const) {
            assert.deepEqual(built.incident[k], want.incident[k], `${built.incident.findingName}: ${k}`);
          }
          assert.equal(decoded.message.notificationConfigName, version === 'v1' ? `organizations/${ORG}/notificationConfigs/scc-responder-backfill` : `organizations/${ORG}/locations/global/notificationConfigs/scc-responder-backfill`);
          return built.incident.findingName;
        });
        assert.deepEqual(got.sort(), want);
        // The filter SCC got is the notification config's (ACTIVE, GKE, no handled mark) plus --since.
        const filter = scc.listRequests.at(-1)?.filter ?? '';
        assert.match(filter, /AND state = "ACTIVE" AND resource_name : "\/\/container\.googleapis\.com\/" AND -security_marks\.marks\.scc_responder_state = "triaged" AND .* AND event_time >= "2026-01-01T00:00:00\.000Z"$/);
      } finally {
        await topic.close();
      }
    });
  }

  test('--dry-run lists exactly those findings and publishes nothing', async () => {
    const topic = await topicWithSubscription();
    try {
      const r = await run(['backfill', '--organization', ORG, '--topic', topic.name, '--policy', policyFile, '--api', 'v1', '--since', '2026-01-01T00:00:00Z', '--dry-run']);
      assert.equal(r.code, 0, r.stderr);
      const listed = [...r.stdout.matchAll(/^would publish (\S+)$/gm)].map((m) => m[1]).sort();
      assert.deepEqual(listed, expectedNames('v1'));
      assert.match(r.stdout, /Would publish \d+ of/);
      // A control message proves the subscription delivers; messages published before it by backfill would arrive with it (the emulator delivers in publish order).
      await admin.topic(topic.name).publishMessage({ data: Buffer.from('control') });
      await topic.waitFor(1);
      assert.deepEqual(topic.received.map((m) => m.data.toString()), ['control']);
    } finally {
      await topic.close();
    }
  });

  test('a bad topic or organization is a usage error (exit 2); nothing is read', async () => {
    const before = scc.listRequests.length;
    assert.equal((await run(['backfill', '--organization', ORG, '--topic', 'findings'])).code, 2);
    assert.equal((await run(['backfill', '--organization', 'x', '--topic', 'projects/p/topics/t'])).code, 2);
    assert.equal(scc.listRequests.length, before);
  });
});
