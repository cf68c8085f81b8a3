// The audit trail through the real pino, in Cloud Logging's structured shape: every line a
// full finding's handling writes is one valid JSON object with a severity, the operation id
// and labels, and a planted secret appears in none of them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createAuditLog, LABELS_KEY, OPERATION_KEY, summarizeSteps, type AuditLogOptions } from '../../shared/record/audit-log.js';
import { secretsFromEnv } from '../../shared/record/scrub.js';
import type { StepResult } from '../../shared/common/step.js';

const SECRET = 'sk_live_DO_NOT_LOG_51Hxyz';
const OTHER_SECRET = 'correct-horse-battery-staple'; // no token shape: only known-value scrubbing catches it
const FINDING = 'organizations/123456789012/sources/7153827493721873246/findings/a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b';

function collector(): { stream: Writable; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, lines: () => chunks.join('').split('\n').filter((l) => l.length > 0) };
}

function newLog(extra: Partial<AuditLogOptions> = {}) {
  const c = collector();
  const log = createAuditLog({ destination: c.stream, serviceVersion: '0.1.0-test', projectId: 'scc-responder-test', ...extra });
  return { log, lines: c.lines };
}

const step = (name: string, status: StepResult['status'], more: Partial<StepResult> = {}): StepResult => ({
  name,
  status,
  startedAt: '2026-11-27T09:14:10.000Z',
  durationMs: 12,
  ...more,
});

function fullRun(log: ReturnType<typeof createAuditLog>): void {
  const env = [
    { name: 'STRIPE_API_KEY', val: SECRET },
    { name: 'APP_PASSPHRASE_HINT', val: OTHER_SECRET },
    { name: 'HOSTNAME', val: 'checkout-7d9f8b6c5d-q2x8z' },
  ];
  log.event('responder started', { version: '0.1.0-test' }, { operationId: 'startup' });
  const audit = log.forFinding(FINDING, { cluster: 'payments', namespace: 'payments', pod: 'checkout-7d9f8b6c5d-q2x8z', category: 'Execution: Modified Malicious Binary Executed' }, { secrets: [...secretsFromEnv(env), OTHER_SECRET] });
  audit.received({ category: 'Execution: Modified Malicious Binary Executed', severity: 'CRITICAL', messageId: '42', envVariables: env });
  audit.decision({ matched: true, rule: 'snapshot-and-delete', actions: ['snapshot', 'delete-pod'], mode: 'dry-run' });
  const steps = [
    step('locate', 'ok', { data: { cluster: 'payments', endpoint: 'https://10.0.0.2', token: 'ya29.a0AfH6SMBxxxxxxxxxxxxxxxxxxxxxx' } }),
    step('enrich.pod', 'ok', { data: { args: ['/usr/bin/curl', '-H', `Authorization: Bearer ${SECRET}`, `STRIPE_API_KEY=${SECRET}`], note: `saw ${OTHER_SECRET}` } }),
    step('enrich.logs', 'failed', { failure: 'transient', code: 'UNAVAILABLE', reason: `logging unavailable (${SECRET})` }),
    step('snapshot', 'ok', { data: { uri: 'gs://evidence/a6e3/curl', sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', hash: 'matches' } }),
    step('contain.deletePod', 'skipped', { reason: 'dry-run: would delete pod payments/checkout-7d9f8b6c5d-q2x8z' }),
    step('record.marks', 'failed', { failure: 'permanent', code: 'PERMISSION_DENIED', reason: 'securitycenter.findings.setMarks denied' }),
  ];
  for (const s of steps) audit.step(s);
  audit.warning(`guard: evidence bucket not durable for ${SECRET}`, { apiKey: SECRET });
  const { counts, durations, totalMs } = summarizeSteps(steps);
  audit.summary({ verdict: 'dry-run', action: 'would-delete', outcome: 'completed', rule: 'snapshot-and-delete', mode: 'dry-run', counts, durations, totalMs, evidenceUri: 'gs://evidence/a6e3/curl', hashVerdict: 'matches', details: { env } });
  log.event('message rejected: finding.category: required', { reason: 'finding.category: required', messageId: '43', payloadPreview: `{"x":"${SECRET}"}` }, { severity: 'ERROR', operationId: 'pubsub/43' });
}

describe('audit log', () => {
  test('a full sequence: every line is JSON with severity, operation id, and no planted secret', async () => {
    const { log, lines } = newLog();
    fullRun(log);
    await log.flush();
    const all = lines();
    assert.equal(all.length, 12);
    const entries = all.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const [i, line] of all.entries()) {
      assert.ok(!line.includes(SECRET), `line ${i} leaks the planted secret: ${line}`);
      assert.ok(!line.includes(OTHER_SECRET), `line ${i} leaks the known secret: ${line}`);
      assert.ok(!line.includes('ya29.a0AfH6'), `line ${i} leaks an OAuth token: ${line}`);
      const e = entries[i]!;
      assert.match(String(e['severity']), /^(DEBUG|INFO|NOTICE|WARNING|ERROR|CRITICAL)$/);
      assert.equal(typeof e['message'], 'string');
      const op = e[OPERATION_KEY] as { id?: string; producer?: string };
      assert.ok(op && typeof op.id === 'string' && op.id.length > 0, `line ${i} has no operation id`);
      assert.equal(op.producer, 'scc-container-responder');
      assert.deepEqual(e['serviceContext'], { service: 'scc-container-responder', version: '0.1.0-test' });
    }
    const finding = entries.filter((e) => (e[OPERATION_KEY] as { id: string }).id === FINDING);
    assert.equal(finding.length, 10);
    assert.deepEqual(finding.map((e) => e['severity']), ['INFO', 'NOTICE', 'INFO', 'INFO', 'WARNING', 'INFO', 'INFO', 'ERROR', 'WARNING', 'ERROR']);
    // first/last flags exactly once, on the right entries
    assert.deepEqual(finding.map((e) => (e[OPERATION_KEY] as { first?: boolean }).first === true), finding.map((_, i) => i === 0));
    assert.deepEqual(finding.map((e) => (e[OPERATION_KEY] as { last?: boolean }).last === true), finding.map((_, i) => i === finding.length - 1));
    // the same run id on every entry of the finding
    assert.equal(new Set(finding.map((e) => e['run'])).size, 1);
    // labels: strings only, complete on the summary
    for (const e of finding) for (const v of Object.values(e[LABELS_KEY] as Record<string, unknown>)) assert.equal(typeof v, 'string');
    const summary = finding.at(-1)!;
    assert.deepEqual(summary[LABELS_KEY], {
      cluster: 'payments', namespace: 'payments', pod: 'checkout-7d9f8b6c5d-q2x8z', action: 'would-delete', rule: 'snapshot-and-delete',
      verdict: 'dry-run', category: 'Execution: Modified Malicious Binary Executed', mode: 'dry-run',
    });
    const body = summary['summary'] as Record<string, unknown>;
    assert.deepEqual(body['counts'], { ok: 3, skipped: 1, failed: 2, transient: 1, permanent: 1 });
    assert.equal((body['durations'] as Record<string, number>)['snapshot'], 12);
    // env names survive, values do not; the pod name (HOSTNAME's value) is not scrubbed away
    assert.match(JSON.stringify(entries[1]), /"name":"STRIPE_API_KEY","val":"\[REDACTED\]"/);
    // step entries carry the step record and its data
    const snap = finding.find((e) => (e['step'] as { name?: string } | undefined)?.name === 'snapshot')!;
    assert.equal((snap['data'] as { hash: string }).hash, 'matches');
    assert.equal(snap['message'], 'step snapshot ok');
    const failed = finding.find((e) => (e['step'] as { name?: string } | undefined)?.name === 'record.marks')!;
    assert.equal(failed['message'], 'step record.marks failed (permanent): securitycenter.findings.setMarks denied');
    // the rejected message: ERROR, single-entry operation
    const rejected = entries.at(-1)!;
    assert.equal(rejected['severity'], 'ERROR');
    assert.deepEqual(rejected[OPERATION_KEY], { id: 'pubsub/43', producer: 'scc-container-responder', first: true, last: true });
    assert.equal(rejected['reason'], 'finding.category: required');
  });

  test('summary severity: effect NOTICE, retry WARNING, permanent failure ERROR, nothing done INFO', () => {
    const { log, lines } = newLog();
    const cases: [Parameters<ReturnType<typeof log.forFinding>['summary']>[0], string][] = [
      [{ verdict: 'handled', action: 'deleted' }, 'NOTICE'],
      [{ verdict: 'retry', action: 'none', outcome: 'retry' }, 'WARNING'],
      [{ verdict: 'failed', action: 'none', outcome: 'failed' }, 'ERROR'],
      [{ verdict: 'no-rule', action: 'no-rule' }, 'INFO'],
      [{ verdict: 'dry-run', action: 'would-delete', severity: 'CRITICAL' }, 'CRITICAL'],
    ];
    for (const [s] of cases) log.forFinding(FINDING).summary(s);
    const got = lines().map((l) => (JSON.parse(l) as { severity: string }).severity);
    assert.deepEqual(got, cases.map(([, sev]) => sev));
    // a summary that is also the first entry carries both flags
    const op = (JSON.parse(lines()[0]!) as Record<string, unknown>)[OPERATION_KEY];
    assert.deepEqual(op, { id: FINDING, producer: 'scc-container-responder', first: true, last: true });
  });

  test('level filtering: entries below the level are not written, first goes to the first written entry', () => {
    const { log, lines } = newLog({ level: 'warn' });
    const audit = log.forFinding(FINDING);
    audit.received({ category: 'c' });
    audit.step(step('locate', 'ok'));
    audit.step(step('snapshot', 'failed', { failure: 'transient', reason: 'timeout' }));
    audit.summary({ verdict: 'retry', action: 'none', outcome: 'retry' });
    const entries = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(entries.length, 2);
    assert.deepEqual(entries[0]![OPERATION_KEY], { id: FINDING, producer: 'scc-container-responder', first: true });
    assert.equal(log.enabled('INFO'), false);
    assert.equal(log.enabled('ERROR'), true);
  });

  test('an unknown level is refused with the valid names', () => {
    assert.throws(() => createAuditLog({ serviceVersion: '1', level: 'verbose' }), /unknown level "verbose".*info/);
  });

  test('caller fields never overwrite the reserved GCP fields', () => {
    const { log, lines } = newLog();
    log.event('hello', { severity: 'DEBUG', message: 'spoof', 'logging.googleapis.com/operation': { id: 'spoof' }, trace_id: 'x' }, { operationId: 'op-1' });
    const e = JSON.parse(lines()[0]!) as Record<string, unknown>;
    assert.equal(e['severity'], 'INFO');
    assert.equal(e['message'], 'hello');
    assert.deepEqual(e[OPERATION_KEY], { id: 'op-1', producer: 'scc-container-responder', first: true, last: true });
    assert.equal(e['field_severity'], 'DEBUG');
    assert.equal(e['field_trace_id'], 'x');
    assert.equal(e['logging.googleapis.com/trace'], undefined);
  });

  test('oversized step data is replaced by a bounded preview', () => {
    const { log, lines } = newLog({ maxDataBytes: 1024 });
    log.forFinding(FINDING).step(step('enrich.logs', 'ok', { data: { entries: Array.from({ length: 200 }, (_, i) => ({ i, text: 'x'.repeat(50) })) } }));
    const e = JSON.parse(lines()[0]!) as { data: { truncated: boolean; bytes: number; preview: string } };
    assert.equal(e.data.truncated, true);
    assert.ok(e.data.bytes > 1024);
    assert.ok(e.data.preview.length <= 2048);
  });

  test('in a fresh process, no @google-cloud module loads for any audit entry, standalone or of a finding', () => {
    // A child process (inheriting tsx and the network guard through NODE_OPTIONS). The audit
    // trail is written on every cold instance before its first pod read: loading a Google
    // library there (the GCP pino config needs @google-cloud/logging + google-gax, ~470 ms)
    // would put seconds of CPU in front of containment.
    const script = `
      import { createRequire } from 'node:module';
      const { createAuditLog } = await import(${JSON.stringify(new URL('../../shared/record/audit-log.ts', import.meta.url).href)});
      const req = createRequire(import.meta.url);
      const count = () => Object.keys(req.cache).filter((k) => k.includes('@google-cloud') || k.includes('google-gax')).length;
      const lines = [];
      const log = createAuditLog({ serviceVersion: '1', level: 'info', destination: { write(s) { lines.push(s); } } });
      log.event('written', {}, { severity: 'ERROR' });
      const f = log.forFinding('organizations/1/sources/2/findings/3');
      f.step({ name: 's', status: 'ok', startedAt: '', durationMs: 0 });
      f.error('finding entry');
      console.log(JSON.stringify({ loaded: count(), lines: lines.length }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: process.env });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { loaded: number; lines: number };
    assert.equal(out.lines, 3, 'three entries were written (the check is not vacuous)');
    assert.equal(out.loaded, 0, 'no Google library loaded by the audit log');
  });
});

test('standalone events and finding entries share the Cloud Logging structured shape', async () => {
  const { createAuditLog } = await import('../../shared/record/audit-log.js');
  const lines: string[] = [];
  const log = createAuditLog({ serviceVersion: '9.9.9', level: 'info', destination: { write: (s: string) => void lines.push(s) } });
  log.event('message rejected: finding.category: required', { reason: 'bad-shape' }, { severity: 'ERROR', operationId: 'organizations/1/sources/2/findings/3' });
  log.event('not ours', { token: 'sk_live_DO_NOT_LOG_51Hxyz' }, { severity: 'INFO' });
  assert.equal(lines.length, 2);
  const [rejected, ignored] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(rejected?.['severity'], 'ERROR');
  assert.equal(rejected?.['message'], 'message rejected: finding.category: required');
  assert.ok(typeof rejected?.['timestamp'] === 'string' && !Number.isNaN(Date.parse(rejected['timestamp'] as string)));
  assert.deepEqual(rejected?.['logging.googleapis.com/operation'], { id: 'organizations/1/sources/2/findings/3', producer: 'scc-container-responder', first: true, last: true });
  assert.deepEqual(rejected?.['serviceContext'], { service: 'scc-container-responder', version: '9.9.9' });
  assert.equal(ignored?.['severity'], 'INFO');
  assert.ok(!lines.join('').includes('sk_live_DO_NOT_LOG_51Hxyz'));
});
