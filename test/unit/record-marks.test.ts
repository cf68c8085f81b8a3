// Pure marks logic: the vocabulary says exactly what happened, dry-run never claims an
// effect, keys/values obey SCC's constraints, and our own marks are recognised as "handled".
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { actionWord, APPROVAL_MARK_KEY, isHandled, MARK_KEYS, MARKS_TABLE, marksFor } from '../../shared/record/marks.js';
import { apiVersionOf, marksResourceName, markValue, updateMarksRequest } from '../../shared/finding/security-marks.js';
import { classifyError } from '../../shared/common/errors.js';

const V1 = 'organizations/123/sources/456/findings/abc';
const V2 = 'organizations/123/sources/456/locations/global/findings/abc';
const AT = '2026-11-27T09:20:00.000Z';

describe('marksFor', () => {
  test('dry-run delete: would-delete, triaged, never deleted', () => {
    const m = marksFor({ runId: 'r1', rule: 'snap-delete', mode: 'dry-run', actions: [{ type: 'deletePod', status: 'would-do' }], evidenceUri: 'gs://ev/a/curl', hash: 'matches', at: AT });
    assert.deepEqual(m, {
      scc_responder_state: 'triaged', scc_responder_action: 'would-delete', scc_responder_evidence: 'gs://ev/a/curl', scc_responder_hash: 'matches',
      scc_responder_rule: 'snap-delete', scc_responder_mode: 'dry-run', scc_responder_run: 'r1', scc_responder_time: AT,
      scc_responder_confirmed: 'unknown',
    });
  });

  test('enforce delete done: deleted, contained', () => {
    const m = marksFor({ runId: 'r', rule: 'x', mode: 'enforce', actions: [{ type: 'labelPod', status: 'done' }, { type: 'deletePod', status: 'done' }] });
    assert.equal(m[MARK_KEYS.action], 'labelled,deleted');
    assert.equal(m[MARK_KEYS.state], 'contained');
  });

  test('labels only: triaged (nothing contained)', () => {
    assert.equal(marksFor({ runId: 'r', rule: 'x', mode: 'enforce', actions: [{ type: 'annotatePod', status: 'done' }] })[MARK_KEYS.state], 'triaged');
  });

  test('a done action in dry-run is refused, not recorded', () => {
    assert.throws(() => marksFor({ runId: 'r', rule: 'x', mode: 'dry-run', actions: [{ type: 'deletePod', status: 'done' }] }), /dry-run/);
  });

  test('no rule, no action, failure and missing evidence are said as such', () => {
    const none = marksFor({ runId: 'r' });
    assert.equal(none[MARK_KEYS.action], 'no-rule');
    assert.equal(none[MARK_KEYS.rule], 'none');
    assert.equal(none[MARK_KEYS.mode], 'none');
    assert.equal(none[MARK_KEYS.evidence], 'none');
    assert.equal(none[MARK_KEYS.hash], 'no-evidence');
    assert.equal(marksFor({ runId: 'r', rule: 'x', mode: 'enforce' })[MARK_KEYS.action], 'none');
    assert.equal(marksFor({ runId: 'r', rule: 'x', evidenceUri: 'gs://b/k' })[MARK_KEYS.hash], 'not-compared');
    const failed = marksFor({ runId: 'r', rule: 'x', mode: 'enforce', failed: true, actions: [{ type: 'deletePod', status: 'failed' }] });
    assert.equal(failed[MARK_KEYS.state], 'failed');
    assert.equal(failed[MARK_KEYS.action], 'delete-failed');
  });

  test('every key written every time, all in the documented table, all valid for SCC', () => {
    const m = marksFor({ runId: 'r', rule: 'x' });
    assert.deepEqual(Object.keys(m).sort(), Object.values(MARK_KEYS).sort());
    // Plus the one mark a person writes (approve mode), never written by marksFor.
    assert.deepEqual(MARKS_TABLE.map((r) => r.key).sort(), [...Object.values(MARK_KEYS), APPROVAL_MARK_KEY].sort());
    for (const [k, v] of Object.entries(m)) {
      assert.match(k, /^[a-z0-9_]{1,256}$/);
      assert.ok(v.length >= 1 && v.length <= 4096 && v === v.trim());
    }
  });
});

describe('action words', () => {
  const cases: [string, 'done' | 'would-do' | 'refused' | 'skipped' | 'failed', string][] = [
    ['deletePod', 'done', 'deleted'], ['deletePod', 'would-do', 'would-delete'], ['deletePod', 'skipped', 'pod-gone'],
    ['deletePod', 'refused', 'delete-refused'], ['quarantinePod', 'done', 'quarantined'], ['quarantinePod', 'would-do', 'would-quarantine'],
    ['cordonNode', 'skipped', 'already-cordoned'], ['labelPod', 'would-do', 'would-label'], ['annotatePod', 'done', 'annotated'],
    ['futureAction', 'would-do', 'would-futureAction'],
  ];
  for (const [type, status, word] of cases) test(`${type} ${status} -> ${word}`, () => assert.equal(actionWord({ type, status }), word));
});

describe('values, names and requests', () => {
  test('values: trimmed, control characters removed, bounded, never empty', () => {
    assert.equal(markValue('  a\nb\u0000c  '), 'a b c');
    assert.equal(markValue('   '), 'none');
    const long = markValue('x'.repeat(5000));
    assert.equal(long.length, 4096);
    assert.ok(long.endsWith('...'));
  });

  test('finding names: v1 for organizations/folders/projects, v2 with locations, others refused as permanent', () => {
    assert.equal(apiVersionOf(V1), 'v1');
    assert.equal(apiVersionOf('folders/9/sources/1/findings/f'), 'v1');
    assert.equal(apiVersionOf('projects/p/sources/1/findings/f'), 'v1');
    assert.equal(apiVersionOf(V2), 'v2');
    assert.equal(apiVersionOf('projects/p/sources/1/locations/eu/findings/f'), 'v2');
    assert.equal(marksResourceName(V2), `${V2}/securityMarks`);
    for (const bad of ['', 'organizations/1/sources/2/findings/', 'organizations/1/sources/2/findings/f/securityMarks', 'x/organizations/1/sources/2/findings/f', 'organizations/1/findings/f']) {
      assert.throws(() => apiVersionOf(bad), (err: unknown) => classifyError(err).kind === 'permanent', bad);
    }
  });

  test('request: mask is exactly marks.<key> per key; empty mask and bad keys are refused', () => {
    const r = updateMarksRequest(V1, { scc_responder_state: 'triaged', other: ' x ' });
    assert.deepEqual(r, { securityMarks: { name: `${V1}/securityMarks`, marks: { scc_responder_state: 'triaged', other: 'x' } }, updateMask: { paths: ['marks.scc_responder_state', 'marks.other'] } });
    assert.throws(() => updateMarksRequest(V1, {}), /empty update mask/);
    assert.throws(() => updateMarksRequest(V1, { 'a.b': 'x' }), /invalid security mark key/);
    assert.throws(() => updateMarksRequest(V1, { 'a b': 'x' }), /invalid security mark key/);
  });
});

describe('isHandled', () => {
  test('our states mean handled, case-insensitively; anything else does not', () => {
    assert.equal(isHandled(marksFor({ runId: 'r', rule: 'x', mode: 'dry-run' })), true);
    assert.equal(isHandled({ SCC_RESPONDER_STATE: ' Contained ' }), true);
    assert.equal(isHandled({ scc_responder_state: 'failed' }), true);
    assert.equal(isHandled({ scc_responder_state: 'in-progress' }), false);
    assert.equal(isHandled({ scc_responder_action: 'deleted' }), false);
    assert.equal(isHandled({ team: 'payments' }), false);
    assert.equal(isHandled({}), false);
    assert.equal(isHandled(undefined), false);
    assert.equal(isHandled(null), false);
  });
});
