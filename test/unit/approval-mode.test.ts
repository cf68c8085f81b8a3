// approve mode, the pure parts: the policy schema (mode approve, approval settings, errors
// with their line), the split of a plan into immediate and pending actions, the approval mark
// (parsing, loop safety), the marks of a pending run, and the gcloud commands a person runs
// (v1 and v2 finding names; organization, folder and project parents).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { APPROVAL_MARK, approvalArgv, approvalAuditLink, approvalCommands } from '../../shared/finding/approval-commands.js';
import { toIncident } from '../../shared/finding/incident.js';
import { approvalFlow, approvalSplit, immediatePlan, waitsForApproval } from '../../shared/policy/approval.js';
import { decide } from '../../shared/policy/decide.js';
import { loadPolicy } from '../../shared/policy/load.js';
import type { ResponsePlan } from '../../shared/policy/types.js';
import { APPROVAL_MARK_KEY, approvalMarkOf, isHandled, MARK_KEYS, marksFor } from '../../shared/record/marks.js';
import { v1 } from './finding-helpers.js';

const RULE = (extra: string): string => `version: 1
rules:
  - name: r
    match:
      categories: [x]
    mode: approve
${extra}    actions:
      - type: labelPod
      - type: quarantinePod
      - type: deletePod
`;

function errorsOf(text: string): string[] {
  const r = loadPolicy(text, 'policy.yaml');
  assert.equal(r.ok, false, 'must be rejected');
  return r.ok ? [] : r.errors.map((e) => e.text);
}

describe('policy schema: mode approve and approval settings', () => {
  test('defaults: expires after 4 h, nothing destructive before approval', () => {
    const r = loadPolicy(RULE(''), 'policy.yaml');
    assert.ok(r.ok, r.ok ? '' : r.errors.map((e) => e.text).join('\n'));
    assert.equal(r.policy.rules[0]?.mode, 'approve');
    assert.deepEqual(r.warnings, []);
  });

  test('deletePod in beforeApproval is an error with its line', () => {
    assert.deepEqual(errorsOf(RULE('    approval:\n      beforeApproval: [quarantinePod, deletePod]\n')), [
      'policy.yaml:8:39 rules[0].approval.beforeApproval[1]: deletePod cannot run before approval: it is what the approval is for',
    ]);
  });

  test('expiresAfterHours is 1..168; an unknown key, an action the rule lacks and approval outside approve mode are errors', () => {
    assert.match(errorsOf(RULE('    approval:\n      expiresAfterHours: 0\n'))[0] ?? '', /^policy\.yaml:8:26 rules\[0\]\.approval\.expiresAfterHours: /);
    assert.match(errorsOf(RULE('    approval:\n      expiresAfterHours: 169\n'))[0] ?? '', /^policy\.yaml:8:26 rules\[0\]\.approval\.expiresAfterHours: /);
    assert.deepEqual(errorsOf(RULE('    approval:\n      expiresAfterHour: 2\n')), ['policy.yaml:8:7 rules[0].approval.expiresAfterHour: unknown key']);
    assert.deepEqual(errorsOf(RULE('    approval:\n      beforeApproval: [cordonNode]\n')), ["policy.yaml:8:24 rules[0].approval.beforeApproval[0]: cordonNode is not one of this rule's actions"]);
    const enforce = RULE('    approval: {expiresAfterHours: 2}\n').replace('mode: approve', 'mode: enforce');
    assert.deepEqual(errorsOf(enforce), ['policy.yaml:7:15 rules[0].approval: approval is only read in mode approve (this rule is enforce)']);
  });

  test('an approve rule where nothing waits gets a warning', () => {
    const r = loadPolicy('version: 1\nrules:\n  - name: r\n    match: {categories: [x]}\n    mode: approve\n    actions: [{type: labelPod}]\n', 'p.yaml');
    assert.ok(r.ok);
    assert.deepEqual(r.warnings, ['p.yaml: rule r is approve but no action waits for approval (everything runs at once, as in enforce)']);
  });

  test('policies/approve-before-delete.yaml: label + quarantine at once, delete after approval, 4 h', () => {
    const text = readFileSync(new URL('../../policies/approve-before-delete.yaml', import.meta.url), 'utf8');
    const r = loadPolicy(text, 'approve-before-delete.yaml');
    assert.ok(r.ok, r.ok ? '' : r.errors.map((e) => e.text).join('\n'));
    assert.deepEqual(r.warnings, []);
    const i = toIncident(v1());
    assert.ok(i.ok);
    const d = decide(i.incident, r.policy);
    assert.ok(d.matched);
    assert.equal(d.mode, 'approve');
    assert.deepEqual(d.approval, { expiresAfterHours: 4, beforeApproval: ['quarantinePod'] });
    const split = approvalSplit(d);
    assert.deepEqual(split.now.map((a) => a.type), ['labelPod', 'quarantinePod']);
    assert.deepEqual(split.pending.map((a) => a.type), ['deletePod']);
    const flow = approvalFlow(d.rule, d);
    assert.deepEqual([flow?.atOnce, flow?.waits, flow?.expiresAfterHours], [['labelPod', 'quarantinePod'], ['deletePod'], 4]);
  });
});

describe('immediate and pending actions', () => {
  const plan = (mode: ResponsePlan['mode'], beforeApproval: ResponsePlan['actions'][number]['type'][] = []): ResponsePlan => ({
    matched: true, rule: 'r', mode, enrich: true, snapshot: true, requireEvidence: true, evidenceGate: 'attempted',
    actions: [{ type: 'labelPod', params: {} }, { type: 'cordonNode', params: {} }, { type: 'deletePod', params: { requireController: true } }],
    approval: { expiresAfterHours: 4, beforeApproval },
  });

  test('approve: metadata at once, destructive waits unless listed; the immediate plan runs as enforce', () => {
    assert.deepEqual(approvalSplit(plan('approve')).pending.map((a) => a.type), ['cordonNode', 'deletePod']);
    assert.deepEqual(approvalSplit(plan('approve', ['cordonNode'])).pending.map((a) => a.type), ['deletePod']);
    const now = immediatePlan(plan('approve'));
    assert.equal(now.mode, 'enforce');
    assert.deepEqual(now.actions.map((a) => a.type), ['labelPod']);
    assert.equal(waitsForApproval('annotatePod'), false);
    assert.equal(waitsForApproval('nuke'), false);
  });

  test('enforce and dry-run: nothing pending, the plan unchanged', () => {
    for (const mode of ['enforce', 'dry-run'] as const) {
      assert.deepEqual(approvalSplit(plan(mode)).pending, []);
      assert.equal(immediatePlan(plan(mode)).actions.length, 3);
    }
  });
});

describe('the approval mark and the marks of a pending run', () => {
  const run = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';

  test('approve:/deny:<run> parsed case-insensitively; anything else is invalid', () => {
    assert.deepEqual(approvalMarkOf({ scc_responder_approval: `approve:${run}` }), { verb: 'approve', runId: run });
    assert.deepEqual(approvalMarkOf({ SCC_RESPONDER_APPROVAL: ` DENY:${run.toUpperCase()} ` }), { verb: 'deny', runId: run });
    assert.ok('invalid' in (approvalMarkOf({ scc_responder_approval: 'yes' }) ?? { verb: 'approve', runId: '' }));
    assert.equal(approvalMarkOf({ other: 'x' }), undefined);
    assert.equal(APPROVAL_MARK, APPROVAL_MARK_KEY, 'the command builder and the marks agree on the key');
  });

  test('loop safety: awaiting-approval is handled (our echo) until a decision mark is on it', () => {
    assert.equal(isHandled({ [MARK_KEYS.state]: 'awaiting-approval' }), true);
    assert.equal(isHandled({ [MARK_KEYS.state]: 'awaiting-approval', [APPROVAL_MARK_KEY]: `approve:${run}` }), false);
    assert.equal(isHandled({ [MARK_KEYS.state]: 'awaiting-approval', [APPROVAL_MARK_KEY]: 'garbage' }), false, 'an invalid mark is read (and refused) from SCC\'s copy');
    // After the decision the state is final: a leftover approval mark changes nothing.
    for (const s of ['contained', 'denied', 'expired', 'triaged']) assert.equal(isHandled({ [MARK_KEYS.state]: s, [APPROVAL_MARK_KEY]: `approve:${run}` }), true, s);
    // Negative control: no state mark of ours, an approval mark alone is not "handled".
    assert.equal(isHandled({ [APPROVAL_MARK_KEY]: `approve:${run}` }), false);
  });

  test('marksFor a pending run: awaiting-approval, <noun>-pending words, mode approve', () => {
    const m = marksFor({ runId: run, rule: 'r', mode: 'approve', actions: [{ type: 'labelPod', status: 'done' }], pending: ['deletePod'] });
    assert.equal(m[MARK_KEYS.state], 'awaiting-approval');
    assert.equal(m[MARK_KEYS.action], 'labelled,delete-pending');
    assert.equal(m[MARK_KEYS.mode], 'approve');
  });
});

describe('gcloud commands that approve or deny', () => {
  const run = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';
  const tail = [`--security-marks=scc_responder_approval=approve:${run}`, '--update-mask=marks.scc_responder_approval'];

  test('v1 organization name: --organization and --source, no --location', () => {
    assert.deepEqual(approvalArgv('organizations/123/sources/456/findings/abc', 'approve', run), ['gcloud', 'scc', 'findings', 'update-marks', 'abc', '--organization=123', '--source=456', ...tail]);
  });

  test('v2 name: --location added', () => {
    const c = approvalCommands('organizations/123/sources/456/locations/global/findings/abc', run);
    assert.equal(c.approve, `gcloud scc findings update-marks abc --organization=123 --source=456 --location=global ${tail.join(' ')}`);
    assert.equal(c.deny, c.approve.replace(`approve:${run}`, `deny:${run}`));
  });

  test('project and folder parents', () => {
    assert.equal(approvalArgv('projects/acme-prod/sources/9/locations/eu/findings/f1', 'deny', run)[5], '--project=acme-prod');
    assert.equal(approvalArgv('folders/77/sources/9/findings/f1', 'deny', run)[5], '--folder=77');
  });

  test('refused: not a finding name, not a run id', () => {
    assert.throws(() => approvalArgv('organizations/1/sources/2/findings/a/extra', 'approve', run), /not an SCC finding name/);
    assert.throws(() => approvalArgv('organizations/1/sources/2/findings/a', 'approve', 'x; rm -rf /'), /not a run id/);
  });

  test('the audit-log link queries UpdateSecurityMarks on this finding', () => {
    const link = approvalAuditLink('organizations/123/sources/456/locations/global/findings/abc');
    assert.match(link, /^https:\/\/console\.cloud\.google\.com\/logs\/query;query=/);
    assert.ok(decodeURIComponent(link).includes('protoPayload.methodName:"UpdateSecurityMarks"'));
    assert.ok(decodeURIComponent(link).includes('findings/abc'));
    assert.ok(link.endsWith('?organizationId=123'));
  });
});
