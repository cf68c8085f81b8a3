// The results message is built purely: scrubbed payload, bounded string attributes, ordering key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RESULT_SCHEMA, resultAttributes, resultMessage } from '../../shared/record/result-publisher.js';
import { classifyError } from '../../shared/common/errors.js';

const FINDING = 'organizations/1/sources/2/findings/abc';
const SECRET = 'sk_live_DO_NOT_LOG_51Hxyz';

test('payload is the scrubbed report; attributes carry the filterable facts; key is the finding name', () => {
  const report = { finding: FINDING, incident: { envVariables: [{ name: 'STRIPE_API_KEY', val: SECRET }], args: [`--key=${SECRET}`] }, action: 'would-delete' };
  const m = resultMessage(report, { findingName: FINDING, category: 'Execution: Modified Malicious Binary Executed', severity: 'CRITICAL', action: 'would-delete', cluster: 'payments', verdict: 'dry-run', mode: 'dry-run' });
  assert.equal(m.orderingKey, FINDING);
  assert.ok(!m.payload.toString().includes(SECRET));
  assert.equal((JSON.parse(m.payload.toString()) as { action: string }).action, 'would-delete');
  assert.deepEqual(m.attributes, {
    producer: 'scc-container-responder', schema: RESULT_SCHEMA, finding: FINDING, category: 'Execution: Modified Malicious Binary Executed',
    severity: 'CRITICAL', action: 'would-delete', cluster: 'payments', verdict: 'dry-run', mode: 'dry-run',
  });
});

test('absent or empty facts are left out; long values are cut to 1024 bytes on a character boundary', () => {
  const a = resultAttributes({ findingName: FINDING, cluster: '', rule: 'é'.repeat(600) });
  assert.equal('cluster' in a, false);
  assert.equal('action' in a, false);
  assert.ok(Buffer.byteLength(a['rule']!) <= 1024);
  assert.equal(a['rule'], 'é'.repeat(512));
});

test('an ordering key beyond 1024 bytes is a permanent error', () => {
  assert.throws(() => resultMessage({}, { findingName: `organizations/1/sources/2/findings/${'x'.repeat(1100)}` }), (err: unknown) => classifyError(err).kind === 'permanent');
});
