// End to end: backfill -> Pub/Sub emulator (findings topic) -> push -> the function (the
// deployable bundle, dry-run default policy) -> results topic. The SCC fake of the stack lists
// four findings from before "the deploy": two ACTIVE and unmarked (v1 and v2), one already
// handled (our mark), one INACTIVE. The function must answer exactly the two, each with its
// own result; the other two never reach it. A second backfill finds the function's marks and
// publishes nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PubSub, type Message, type Subscription } from '@google-cloud/pubsub';
import { FUNCTION_NAME } from '../../functions/scc-responder/index.js';
import { main, type CliIO } from '../../functions/cli/main.js';
import { fixture } from '../support/cloudevents.js';
import { startFunctionProcess, type FunctionProcess } from '../support/function-process.js';
import { startPubsubEmulator } from '../support/pubsub-emulator.js';
import { RESULTS_TOPIC, startStack, type Stack } from '../support/stack.js';
import type { SeededFinding } from '../support/scc-list-findings.js';

const PROJECT = 'acme-security';
const FINDINGS_TOPIC = `projects/${PROJECT}/topics/scc-findings`;
const ORG = '123456789012';
const DEADLINE_MS = 90_000;

let emulator: Awaited<ReturnType<typeof startPubsubEmulator>>;
let stack: Stack;
let fn: FunctionProcess;
let pubsub: PubSub;
let resultsSub: Subscription;
const results: Message[] = [];

function finding(version: 'v1' | 'v2', id: string, change: (f: Record<string, unknown>) => void = () => undefined): SeededFinding {
  const n = structuredClone(fixture(`modified-malicious-binary.${version}.json`)) as unknown as SeededFinding;
  n.finding.name = n.finding.name.replace(/[^/]+$/, id);
  n.finding['canonicalName'] = n.finding.name;
  n.finding['eventTime'] = new Date(Date.now() - 3_600_000).toISOString();
  n.finding['securityMarks'] = { name: `${n.finding.name}/securityMarks` };
  if (version === 'v2' && n.resource) {
    // The v2 ListFindings resource has no project/parent fields: only what its proto carries.
    n.resource = Object.fromEntries(Object.entries(n.resource).filter(([k]) => ['name', 'displayName', 'type', 'cloudProvider', 'location', 'gcpMetadata'].includes(k)));
  }
  change(n.finding);
  return n;
}

before(async () => {
  await Promise.all([startPubsubEmulator({ projectId: PROJECT }).then((e) => (emulator = e)), startStack().then((s) => (stack = s))]);
  fn = await startFunctionProcess(FUNCTION_NAME, stack.env({ SCC_RESPONDER_POLICY: 'policies/default.yaml', SCC_RESPONDER_ENDPOINT_PUBSUB: emulator.host }));
  pubsub = new PubSub({ projectId: PROJECT, apiEndpoint: emulator.host });
  const [findings] = await pubsub.createTopic(FINDINGS_TOPIC);
  await findings.createSubscription('scc-responder-push', { pushConfig: { pushEndpoint: `${fn.url}/${FINDINGS_TOPIC}` }, ackDeadlineSeconds: 60 });
  const [resultsTopic] = await pubsub.createTopic(RESULTS_TOPIC);
  [resultsSub] = await resultsTopic.createSubscription('results-pull', { enableMessageOrdering: true });
  resultsSub.on('message', (m: Message) => {
    results.push(m);
    m.ack();
  });
});

after(async () => {
  await resultsSub?.close().catch(() => undefined);
  await pubsub?.close().catch(() => undefined);
  await fn?.stop();
  await emulator?.stop();
  await stack?.close();
});

test('backfill -> emulator -> function -> results topic: exactly the unhandled ACTIVE findings are handled', async () => {
  const fresh = [finding('v1', 'backfillv1a'), finding('v1', 'backfillv1b')];
  const handled = finding('v1', 'backfillhandled', (f) => void (f['securityMarks'] = { name: `${String(f['name'])}/securityMarks`, marks: { scc_responder_state: 'triaged' } }));
  const inactive = finding('v1', 'backfillinactive', (f) => void (f['state'] = 'INACTIVE'));
  stack.scc.listed.push(...fresh, handled, inactive, finding('v2', 'backfillv2'));
  // SCC's copy by name too: the function confirms each published finding with SCC before acting.
  for (const f of fresh) stack.known(f);
  let stdout = '';
  let stderr = '';
  const io: CliIO = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), env: { SCC_RESPONDER_ENDPOINT_SCC: `127.0.0.1:${stack.scc.port}`, SCC_RESPONDER_ENDPOINT_PUBSUB: emulator.host, METADATA_SERVER_DETECTION: 'none' } };
  const code = await main(['backfill', '--organization', ORG, '--topic', FINDINGS_TOPIC, '--api', 'v1', '--since', '1d'], io);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /Published 2 of 2 findings read/);
  const want = fresh.map((f) => f.finding.name).sort();
  const start = performance.now();
  while (new Set(results.map((m) => m.orderingKey)).size < want.length) {
    if (performance.now() - start > DEADLINE_MS) throw new Error(`results: ${results.map((m) => m.orderingKey).join(', ')}; function output:\n${fn.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual([...new Set(results.map((m) => m.orderingKey))].sort(), want);
  for (const m of results) {
    assert.equal(m.attributes['mode'], 'dry-run');
    assert.equal(m.attributes['category'], 'Execution: Modified Malicious Binary Executed');
  }
  // The function writes its marks on each (dry-run: triaged) through the SCC fake; the result may be published first.
  while (!want.every((name) => stack.scc.marksOf(name)?.['scc_responder_state'] !== undefined)) {
    if (performance.now() - start > DEADLINE_MS) throw new Error(`marks missing; function output:\n${fn.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const name of want) assert.equal(stack.scc.marksOf(name)?.['scc_responder_state'], 'triaged', name);
  assert.equal(stack.scc.marksOf(handled.finding.name), undefined, 'the handled finding was never sent');
  assert.equal(stack.scc.marksOf(inactive.finding.name), undefined, 'the inactive finding was never sent');

  // Backfill again: SCC now lists the function's marks on both, so nothing is published twice.
  stdout = '';
  assert.equal(await main(['backfill', '--organization', ORG, '--topic', FINDINGS_TOPIC, '--api', 'v1', '--since', '1d'], io), 0, stderr);
  assert.match(stdout, /Published 0 of 0 findings read/);
});
