// Cloud Logging refuses entries over 256 KB. Every value the audit log writes is bounded, so a
// hostile finding (a 900 KB category, a huge argument list, a 2 MB step payload) still gives
// entries well under the limit that name what was cut.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boundEntry, boundValue, createAuditLog, MAX_ENTRY_FIELDS_BYTES, MAX_LOGGED_STRING } from '../../shared/record/audit-log.js';
import { captureAudit } from '../support/audit-capture.js';

const LIMIT = 256 * 1024;

test('a 900 KB category, 5,000 arguments and a 2 MB step payload: every line stays well under 256 KB', () => {
  const capture = captureAudit();
  const log = createAuditLog({ serviceVersion: 't', level: 'debug', projectId: 'p', destination: capture.destination });
  const category = 'C'.repeat(900 * 1024);
  const audit = log.forFinding('organizations/1/sources/2/findings/f', { category });
  audit.received({ category, severity: 'HIGH', eventTime: '2026-11-27T09:14:02.113Z', apiVersion: 'v1' });
  audit.warning(`finding not confirmed by SCC: ${category}`, { args: Array.from({ length: 5000 }, (_, i) => `arg${i}`) });
  audit.step({ name: 'enrich.pod', status: 'ok', startedAt: new Date().toISOString(), durationMs: 1, data: { blob: 'x'.repeat(2 * 1024 * 1024) } });
  audit.summary({ verdict: 'handled', action: 'none', details: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'y'.repeat(7000)])) });
  log.event(category, { category }, { severity: 'ERROR', operationId: 'm-1' });
  assert.equal(capture.lines.length, 5);
  for (const line of capture.lines) {
    assert.ok(Buffer.byteLength(line) < 200 * 1024, `line of ${Buffer.byteLength(line)} bytes`);
    JSON.parse(line);
  }
  assert.match(capture.lines[0] ?? '', /truncated \d+ characters/);
  assert.ok(category.length > LIMIT, 'negative control: the unbounded value alone would exceed the limit');
});

test('boundValue cuts strings and lists; boundEntry previews the largest fields', () => {
  const v = boundValue({ s: 'a'.repeat(MAX_LOGGED_STRING + 10), list: Array.from({ length: 250 }, () => 1) }) as { s: string; list: unknown[] };
  assert.ok(v.s.length < MAX_LOGGED_STRING + 50);
  assert.equal(v.list.length, 201);
  const fields = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}`, 'z'.repeat(MAX_LOGGED_STRING)]));
  const bounded = boundEntry(fields);
  assert.ok(Buffer.byteLength(JSON.stringify(bounded)) <= MAX_ENTRY_FIELDS_BYTES);
  assert.ok(Object.values(bounded).some((x) => typeof x === 'object' && (x as { truncated?: boolean }).truncated === true));
  assert.equal(boundEntry({ small: 'x' }).small, 'x');
});
