// Security marks through the real @google-cloud/security-center clients (v1 default export
// client and .v2) against the gRPC fake: right API version per finding name, right resource
// name, a mask of marks.<key> only (another team's mark survives), faults classified.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { isHandled, MARK_KEYS, marksFor } from '../../shared/record/marks.js';
import { createSccFindingMarks, type SccFindingMarks } from '../../shared/gcp/scc-marks.js';
import { classifyError, ResponderError } from '../../shared/common/errors.js';
import type { Incident } from '../../shared/finding/types.js';
import { startFakeScc, type FakeScc } from '../support/fake-scc.js';

const nameOf = (file: string): string => (JSON.parse(fs.readFileSync(new URL(`../fixtures/${file}`, import.meta.url), 'utf8')) as { finding: { name: string } }).finding.name;
const V1 = nameOf('modified-malicious-binary.v1.json');
const V2 = nameOf('modified-malicious-binary.v2.json');
const AT = '2026-11-27T09:20:00.000Z';

let fake: FakeScc;
let marks: SccFindingMarks;
before(async () => {
  fake = await startFakeScc();
  marks = createSccFindingMarks({ clientOptions: fake.clientOptions(), timeoutMs: 30_000 });
});
after(async () => {
  await marks.close();
  await fake.close();
});

const dryRun = marksFor({ runId: 'run-1', rule: 'snapshot-and-delete', mode: 'dry-run', actions: [{ type: 'deletePod', status: 'would-do' }], evidenceUri: 'gs://evidence/a6e3/usr/bin/curl', hash: 'matches', at: AT });

// What those marks must say, written out (not built by the code under test).
test('the dry-run marks say exactly what happened (literal table)', () => {
  assert.equal(dryRun['scc_responder_state'], 'triaged');
  assert.equal(dryRun['scc_responder_action'], 'would-delete');
  assert.equal(dryRun['scc_responder_mode'], 'dry-run');
  assert.equal(dryRun['scc_responder_rule'], 'snapshot-and-delete');
  assert.equal(dryRun['scc_responder_run'], 'run-1');
  assert.equal(dryRun['scc_responder_hash'], 'matches');
  assert.equal(dryRun['scc_responder_evidence'], 'gs://evidence/a6e3/usr/bin/curl');
});

describe('marks through the real SCC clients', () => {
  test('v1 fixture: v1 service, <finding>/securityMarks, mask of our keys only, other marks kept', async () => {
    fake.setMarks(V1, { team: 'payments-sec' });
    const before = fake.updates.length;
    await marks.update({ findingName: V1 } as Incident, dryRun);
    const u = fake.updates.slice(before);
    assert.equal(u.length, 1);
    assert.equal(u[0]!.version, 'v1');
    assert.equal(u[0]!.name, `${V1}/securityMarks`);
    assert.deepEqual([...u[0]!.paths].sort(), Object.values(MARK_KEYS).map((k) => `marks.${k}`).sort());
    assert.deepEqual(u[0]!.marks, dryRun);
    assert.equal(u[0]!.routing, `security_marks.name=${encodeURIComponent(`${V1}/securityMarks`)}`);
    assert.deepEqual(fake.marksOf(V1), { team: 'payments-sec', ...dryRun });
    assert.equal(fake.marksOf(V1)?.[MARK_KEYS.action], 'would-delete');
    // the re-notification SCC sends after this write carries these marks: recognised as handled
    assert.equal(isHandled(fake.marksOf(V1)), true);
  });

  test('v2 fixture (locations/global): v2 service', async () => {
    const before = fake.updates.length;
    await marks.updateByName(V2, dryRun);
    const u = fake.updates.slice(before);
    assert.equal(u.length, 1);
    assert.equal(u[0]!.version, 'v2');
    assert.equal(u[0]!.name, `${V2}/securityMarks`);
    assert.deepEqual(fake.marksOf(V2), dryRun);
  });

  test('folder and project parents go to v1, a later run overwrites our keys only', async () => {
    const folder = 'folders/42/sources/7/findings/f1';
    const project = 'projects/acme/sources/7/findings/f2';
    await marks.updateByName(folder, dryRun);
    await marks.updateByName(project, dryRun);
    assert.deepEqual(fake.updates.slice(-2).map((u) => [u.version, u.finding]), [['v1', folder], ['v1', project]]);
    const enforced = marksFor({ runId: 'run-2', rule: 'snapshot-and-delete', mode: 'enforce', actions: [{ type: 'deletePod', status: 'done' }], evidenceUri: 'gs://evidence/x', hash: 'matches', at: AT });
    fake.setMarks(folder, { ...fake.marksOf(folder), owner: 'sre' });
    await marks.updateByName(folder, enforced);
    assert.deepEqual(fake.marksOf(folder), { owner: 'sre', ...enforced });
    assert.equal(fake.marksOf(folder)?.[MARK_KEYS.state], 'contained');
  });

  test('an invalid name or an empty set of marks never reaches SCC', async () => {
    const before = fake.updates.length;
    const calls = fake.faults.calls.length;
    await assert.rejects(marks.updateByName('organizations/1/findings/x', dryRun), (err: unknown) => classifyError(err).kind === 'permanent');
    await assert.rejects(marks.updateByName(V1, {}), /empty update mask/);
    assert.equal(fake.updates.length, before);
    assert.equal(fake.faults.calls.length, calls);
  });
});

describe('faults are classified with context', () => {
  // A dropped stream surfaces as INTERNAL (RST_STREAM) or UNAVAILABLE depending on timing: both transient.
  const cases: [string, { status?: number; hang?: boolean; drop?: boolean }, 'transient' | 'permanent', string | RegExp][] = [
    ['503', { status: 503 }, 'transient', 'UNAVAILABLE'],
    ['429', { status: 429 }, 'transient', 'RESOURCE_EXHAUSTED'],
    ['500', { status: 500 }, 'transient', 'INTERNAL'],
    ['403', { status: 403 }, 'permanent', 'PERMISSION_DENIED'],
    ['404', { status: 404 }, 'permanent', 'NOT_FOUND'],
    ['400', { status: 400 }, 'permanent', 'INVALID_ARGUMENT'],
    ['dropped connection', { drop: true }, 'transient', /^(INTERNAL|UNAVAILABLE)$/],
  ];
  for (const [name, fault, kind, code] of cases) {
    test(`${name} -> ${kind} ${String(code)}`, async () => {
      fake.faults.inject({ match: 'UpdateSecurityMarks', ...fault });
      const err = await marks.updateByName(V2, dryRun).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof ResponderError, `expected a ResponderError, got ${String(err)}`);
      assert.equal(err.kind, kind);
      if (typeof code === 'string') assert.equal(err.code, code);
      else assert.match(String(err.code), code);
      assert.match(err.message, /SCC v2 UpdateSecurityMarks on organizations\/.*\/securityMarks failed/);
      assert.deepEqual(classifyError(err), { kind, code: err.code, reason: err.message });
    });
  }

  test('a hanging SCC hits the call deadline: transient DEADLINE_EXCEEDED', async () => {
    const short = createSccFindingMarks({ clientOptions: fake.clientOptions(), timeoutMs: 300 });
    fake.faults.inject({ match: 'UpdateSecurityMarks', hang: true });
    await assert.rejects(short.updateByName(V1, dryRun), (err: unknown) => err instanceof ResponderError && err.kind === 'transient' && err.code === 'DEADLINE_EXCEEDED');
    await short.close();
  });

  test('an aborted signal cancels the call: transient', async () => {
    fake.faults.inject({ match: 'UpdateSecurityMarks', hang: true });
    const controller = new AbortController();
    const p = marks.updateByName(V1, dryRun, controller.signal);
    setImmediate(() => controller.abort());
    await assert.rejects(p, (err: unknown) => err instanceof ResponderError && err.kind === 'transient');
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(marks.updateByName(V1, dryRun, pre.signal));
  });
});
