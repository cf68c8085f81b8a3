// Results through the real @google-cloud/pubsub client: against Google's Pub/Sub emulator
// for what the service itself does (the message as a subscriber receives it, attributes,
// ordering key, order, NOT_FOUND, name validation), and against our Publisher fake only for
// faults the emulator cannot produce: it never answers UNAVAILABLE, RESOURCE_EXHAUSTED,
// PERMISSION_DENIED (no IAM) or an arbitrary status on demand, and never hangs a call.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { PubSub, type Message } from '@google-cloud/pubsub';
import { resultMessage } from '../../shared/record/result-publisher.js';
import { createPubSubResultPublisher, type PubSubResultPublisher } from '../../shared/gcp/pubsub-publisher.js';
import { classifyError, ResponderError } from '../../shared/common/errors.js';
import { startFakePubSub, type FakePubSub } from '../support/fake-pubsub.js';
import { startPubsubEmulator } from '../support/pubsub-emulator.js';

const fixture = JSON.parse(fs.readFileSync(new URL('../fixtures/modified-malicious-binary.v1.json', import.meta.url), 'utf8')) as { finding: { name: string; category: string; severity: string } };
const FINDING = fixture.finding.name;
const PROJECT = 'scc-responder-test';
const TOPIC = `projects/${PROJECT}/topics/scc-results`;
const SECRET = 'sk_live_DO_NOT_LOG_51Hxyz';

type Emulator = Awaited<ReturnType<typeof startPubsubEmulator>>;
let emulator: Emulator;
let admin: PubSub;
let fake: FakePubSub;
let publisher: PubSubResultPublisher;
let counter = 0;

before(async () => {
  // Assigned as each resolves, so that after() stops whatever did start if the other fails.
  await Promise.all([startPubsubEmulator({ projectId: PROJECT }).then((e) => (emulator = e)), startFakePubSub({ topics: [TOPIC] }).then((f) => (fake = f))]);
  admin = new PubSub({ projectId: PROJECT, apiEndpoint: emulator.host });
  publisher = createPubSubResultPublisher({ topic: TOPIC, clientOptions: { apiEndpoint: fake.endpoint }, maxRetries: 0, timeoutMs: 30_000 });
});
after(async () => {
  await publisher?.close();
  await admin?.close();
  await fake?.close();
  await emulator?.stop();
});

const message = (n: number, finding = FINDING) =>
  resultMessage(
    { n, finding, env: [{ name: 'STRIPE_API_KEY', val: SECRET }] },
    { findingName: finding, category: fixture.finding.category, severity: fixture.finding.severity, action: 'would-delete', cluster: 'payments', verdict: 'dry-run' },
  );

/** A results topic of its own on the emulator, a pull subscription (ordered) on it, and a publisher for it. */
async function emulatorTopic(): Promise<{ name: string; publisher: PubSubResultPublisher; received: Message[]; waitFor(n: number): Promise<Message[]>; close(): Promise<void> }> {
  const id = `results-${++counter}`;
  const [topic] = await admin.createTopic(id);
  const [sub] = await topic.createSubscription(`${id}-pull`, { enableMessageOrdering: true });
  const received: Message[] = [];
  sub.on('message', (m: Message) => {
    received.push(m);
    m.ack();
  });
  const p = createPubSubResultPublisher({ topic: topic.name, clientOptions: { apiEndpoint: emulator.host }, maxRetries: 0, timeoutMs: 10_000 });
  return {
    name: topic.name,
    publisher: p,
    received,
    async waitFor(n) {
      const start = performance.now();
      while (received.length < n) {
        if (performance.now() - start > 60_000) throw new Error(`only ${received.length} of ${n} messages arrived on ${topic.name}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return received;
    },
    async close() {
      await p.close();
      await sub.close();
    },
  };
}

describe('results topic, on the Pub/Sub emulator', () => {
  test('the report arrives with its attributes and the finding name as ordering key', async () => {
    const t = await emulatorTopic();
    try {
      const m = message(1);
      const id = await t.publisher.publish(m.payload, m.attributes, m.orderingKey);
      const [got] = await t.waitFor(1);
      assert.ok(got);
      assert.equal(got.id, id);
      assert.equal(got.orderingKey, FINDING);
      assert.deepEqual(got.attributes, m.attributes);
      assert.equal(got.attributes['action'], 'would-delete');
      assert.equal(got.attributes['category'], 'Execution: Modified Malicious Binary Executed');
      assert.equal(got.attributes['cluster'], 'payments');
      assert.equal(got.attributes['severity'], 'CRITICAL');
      assert.equal(got.attributes['verdict'], 'dry-run');
      assert.ok(!got.data.toString().includes(SECRET));
      assert.equal((JSON.parse(got.data.toString()) as { n: number }).n, 1);
    } finally {
      await t.close();
    }
  });

  test('several results for one finding keep their order', async () => {
    const t = await emulatorTopic();
    try {
      await Promise.all([2, 3, 4].map((n) => message(n)).map((m) => t.publisher.publish(m.payload, m.attributes, m.orderingKey)));
      const got = await t.waitFor(3);
      assert.deepEqual(got.map((x) => (JSON.parse(x.data.toString()) as { n: number }).n), [2, 3, 4]);
    } finally {
      await t.close();
    }
  });

  test('a missing topic is permanent NOT_FOUND', async () => {
    const p = createPubSubResultPublisher({ topic: `projects/${PROJECT}/topics/missing`, clientOptions: { apiEndpoint: emulator.host }, maxRetries: 0 });
    const m = message(7);
    await assert.rejects(p.publish(m.payload, m.attributes, m.orderingKey), (err: unknown) => classifyError(err).kind === 'permanent' && classifyError(err).code === 'NOT_FOUND');
    await p.close();
  });

  test('a topic name the service rejects (id under 3 characters) is permanent INVALID_ARGUMENT', async () => {
    // Our fake does not validate ids; the emulator does, like the service.
    const p = createPubSubResultPublisher({ topic: `projects/${PROJECT}/topics/ab`, clientOptions: { apiEndpoint: emulator.host }, maxRetries: 0 });
    const m = message(10);
    await assert.rejects(p.publish(m.payload, m.attributes, m.orderingKey), (err: unknown) => classifyError(err).kind === 'permanent' && classifyError(err).code === 'INVALID_ARGUMENT');
    await p.close();
  });

  test('a publish that failed because the topic did not exist yet works once it exists (nothing cached from the failure)', async () => {
    const name = `late-${++counter}`;
    const p = createPubSubResultPublisher({ topic: `projects/${PROJECT}/topics/${name}`, clientOptions: { apiEndpoint: emulator.host }, maxRetries: 0 });
    try {
      const m = message(11);
      await assert.rejects(p.publish(m.payload, m.attributes, m.orderingKey), (err: unknown) => classifyError(err).code === 'NOT_FOUND');
      await admin.createTopic(name);
      assert.match(await p.publish(m.payload, m.attributes, m.orderingKey), /^\d+$/);
    } finally {
      await p.close();
    }
  });
});

describe('results topic, faults only our fake can produce', () => {
  test('a transient failure is classified, and the retry for the same finding goes through (key resumed)', async () => {
    fake.faults.inject({ match: 'Publish', status: 503 });
    const m = message(5);
    const err = await publisher.publish(m.payload, m.attributes, m.orderingKey).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ResponderError);
    assert.equal(err.kind, 'transient');
    assert.equal(err.code, 'UNAVAILABLE');
    assert.match(err.message, /publish of result for organizations\/.* to projects\/scc-responder-test\/topics\/scc-results failed/);
    const before = fake.messages.length;
    await publisher.publish(m.payload, m.attributes, m.orderingKey);
    assert.equal(fake.messages.length, before + 1);
  });

  const cases: [number, 'transient' | 'permanent', string][] = [
    [429, 'transient', 'RESOURCE_EXHAUSTED'],
    [403, 'permanent', 'PERMISSION_DENIED'],
    [400, 'permanent', 'INVALID_ARGUMENT'],
  ];
  for (const [status, kind, code] of cases) {
    test(`${status} -> ${kind} ${code}`, async () => {
      fake.faults.inject({ match: 'Publish', status });
      const m = message(6);
      await assert.rejects(publisher.publish(m.payload, m.attributes, m.orderingKey), (err: unknown) => {
        const c = classifyError(err);
        return c.kind === kind && c.code === code;
      });
    });
  }

  test('with retries allowed, one transient fault is absorbed inside the call', async () => {
    const p = createPubSubResultPublisher({ topic: TOPIC, clientOptions: { apiEndpoint: fake.endpoint }, maxRetries: 2 });
    fake.faults.inject({ match: 'Publish', status: 503 });
    const calls = fake.faults.calls.filter((c) => c.key === 'Publish').length;
    const m = message(8);
    await p.publish(m.payload, m.attributes, m.orderingKey);
    assert.equal(fake.faults.calls.filter((c) => c.key === 'Publish').length, calls + 2);
    await p.close();
  });

  test('an invalid topic name is refused up front', () => {
    assert.throws(() => createPubSubResultPublisher({ topic: 'scc-results' }), (err: unknown) => classifyError(err).kind === 'permanent');
  });

  test('an aborted signal stops the wait: transient', async () => {
    fake.faults.inject({ match: 'Publish', hang: true });
    const controller = new AbortController();
    const m = message(9);
    const p = publisher.publish(m.payload, m.attributes, `${m.orderingKey}-abort`, controller.signal);
    setImmediate(() => controller.abort());
    await assert.rejects(p, (err: unknown) => classifyError(err).kind === 'transient');
  });
});
