// Results through the real @google-cloud/pubsub client (emulator mode) against the Publisher
// fake: attributes and ordering key arrive, faults are classified, and a failed publish does
// not leave the finding's ordering key paused for the retry.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { createPubSubResultPublisher, resultMessage, type PubSubResultPublisher } from '../../shared/record/result-publisher.js';
import { classifyError, ResponderError } from '../../shared/respond/errors.js';
import { startFakePubSub, type FakePubSub } from '../support/fake-pubsub.js';

const fixture = JSON.parse(fs.readFileSync(new URL('../fixtures/modified-malicious-binary.v1.json', import.meta.url), 'utf8')) as { finding: { name: string; category: string; severity: string } };
const FINDING = fixture.finding.name;
const TOPIC = 'projects/scc-responder-test/topics/scc-results';
const SECRET = 'sk_live_DO_NOT_LOG_51Hxyz';

let fake: FakePubSub;
let publisher: PubSubResultPublisher;
before(async () => {
  fake = await startFakePubSub({ topics: [TOPIC] });
  publisher = createPubSubResultPublisher({ topic: TOPIC, clientOptions: { apiEndpoint: fake.endpoint }, maxRetries: 0, timeoutMs: 30_000 });
});
after(async () => {
  await publisher.close();
  await fake.close();
});

const message = (n: number) =>
  resultMessage(
    { n, finding: FINDING, env: [{ name: 'STRIPE_API_KEY', val: SECRET }] },
    { findingName: FINDING, category: fixture.finding.category, severity: fixture.finding.severity, action: 'would-delete', cluster: 'payments', verdict: 'dry-run' },
  );

describe('results topic', () => {
  test('the report arrives with its attributes and the finding name as ordering key', async () => {
    const m = message(1);
    const id = await publisher.publish(m.payload, m.attributes, m.orderingKey);
    const got = fake.messages.find((x) => x.messageId === id);
    assert.ok(got, 'message not received');
    assert.equal(got.topic, TOPIC);
    assert.equal(got.orderingKey, FINDING);
    assert.deepEqual(got.attributes, m.attributes);
    assert.equal(got.attributes['action'], 'would-delete');
    assert.equal(got.attributes['category'], 'Execution: Modified Malicious Binary Executed');
    assert.equal(got.attributes['cluster'], 'payments');
    assert.equal(got.attributes['severity'], 'CRITICAL');
    assert.equal(got.attributes['verdict'], 'dry-run');
    assert.ok(!got.data.toString().includes(SECRET));
    assert.equal((JSON.parse(got.data.toString()) as { n: number }).n, 1);
  });

  test('several results for one finding keep their order', async () => {
    const before = fake.messages.length;
    await Promise.all([2, 3, 4].map((n) => message(n)).map((m) => publisher.publish(m.payload, m.attributes, m.orderingKey)));
    assert.deepEqual(fake.messages.slice(before).map((x) => (JSON.parse(x.data.toString()) as { n: number }).n), [2, 3, 4]);
  });

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

  test('a missing topic is permanent NOT_FOUND', async () => {
    const p = createPubSubResultPublisher({ topic: 'projects/scc-responder-test/topics/missing', clientOptions: { apiEndpoint: fake.endpoint }, maxRetries: 0 });
    const m = message(7);
    await assert.rejects(p.publish(m.payload, m.attributes, m.orderingKey), (err: unknown) => classifyError(err).kind === 'permanent' && classifyError(err).code === 'NOT_FOUND');
    await p.close();
  });

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
