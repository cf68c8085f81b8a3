// The approval author query: what the filter constrains, how hostile values are quoted or
// refused, which parent's log is searched, and the Logs Explorer link. Pure.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  isServiceAccountPrincipal,
  isUpdateSecurityMarksMethod,
  markAuthorQuery,
  namesFindingMarks,
  type MarkAuthorQueryInput,
} from '../../shared/finding/mark-author-query.js';
import { matchesFilter, parseFilter, type FakeLogEntry } from '../support/fake-logging.js';

const FINDING = 'organizations/1234/sources/5678/findings/f0a1b2';
const base: MarkAuthorQueryInput = {
  findingName: FINDING,
  markKey: 'scc_responder_approval',
  markValue: 'approve:run-1',
  since: '2026-12-01T10:00:00.000Z',
  until: '2026-12-01T12:00:00.000Z',
};

test('the filter names the parent\'s Data Access audit log (UpdateSecurityMarks is DATA_WRITE), the method, the finding and the exact mark, inside the window', () => {
  const q = markAuthorQuery(base);
  assert.equal(q.parent, 'organizations/1234');
  assert.equal(q.findingV1, FINDING);
  assert.deepEqual(q.filter.split('\n'), [
    'logName="organizations/1234/logs/cloudaudit.googleapis.com%2Fdata_access"',
    'protoPayload.serviceName="securitycenter.googleapis.com"',
    'protoPayload.methodName:"SecurityCenter.UpdateSecurityMarks"',
    'protoPayload.resourceName:"/sources/5678/"',
    'protoPayload.resourceName:"/findings/f0a1b2"',
    'protoPayload.request.securityMarks.marks.scc_responder_approval="approve:run-1"',
    'timestamp>="2026-12-01T10:00:00.000Z"',
    'timestamp<="2026-12-01T12:00:00.000Z"',
  ]);
  assert.equal(q.baseFilter, q.filter.split('\n').slice(0, 6).join('\n'));
});

test('the searched parent follows the finding: folder, project, and a v2 name (location) keeps its parent', () => {
  assert.equal(markAuthorQuery({ ...base, findingName: 'folders/77/sources/5678/findings/abc' }).parent, 'folders/77');
  const p = markAuthorQuery({ ...base, findingName: 'projects/my-proj/sources/5678/locations/global/findings/abc' });
  assert.equal(p.parent, 'projects/my-proj');
  assert.equal(p.findingV1, 'projects/my-proj/sources/5678/findings/abc');
  assert.match(p.filter, /^logName="projects\/my-proj\/logs\/cloudaudit\.googleapis\.com%2Fdata_access"$/m);
});

test('the Logs Explorer link runs the same query over the same window, scoped to the parent', () => {
  const q = markAuthorQuery(base);
  const url = new URL(q.logsExplorerUrl);
  assert.equal(url.origin, 'https://console.cloud.google.com');
  assert.equal(url.searchParams.get('organizationId'), '1234');
  const [, query] = /;query=([^;?]*)/.exec(q.logsExplorerUrl) ?? [];
  assert.equal(decodeURIComponent(query ?? ''), q.baseFilter);
  assert.match(q.logsExplorerUrl, /;startTime=2026-12-01T10:00:00\.000Z;endTime=2026-12-01T12:00:00\.000Z\?/);
  assert.equal(new URL(markAuthorQuery({ ...base, findingName: 'projects/p1/sources/5/findings/x' }).logsExplorerUrl).searchParams.get('project'), 'p1');
  assert.equal(new URL(markAuthorQuery({ ...base, findingName: 'folders/9/sources/5/findings/x' }).logsExplorerUrl).searchParams.get('folder'), '9');
});

test('a hostile mark value stays one quoted literal: it cannot close the string, add a clause or a line', () => {
  const hostile = 'approve:x" OR logName:"anything\\" OR "" \n protoPayload.methodName:"*';
  // Newlines are refused outright (below); the quote/backslash escape is checked without one.
  const value = hostile.replace('\n', ' ');
  const q = markAuthorQuery({ ...base, markValue: value });
  const lines = q.filter.split('\n');
  assert.equal(lines.length, 8, 'no clause added');
  const markLine = lines[5] ?? '';
  assert.equal(markLine, `protoPayload.request.securityMarks.marks.scc_responder_approval="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
  // Read back by the fake's parser, the clause is one equality with the original value.
  const parsed = parseFilter(q.filter);
  assert.deepEqual(parsed.equals.find(([f]) => f.startsWith('protoPayload.request.')), ['protoPayload.request.securityMarks.marks.scc_responder_approval', value]);
  assert.deepEqual(parsed.terms, [], 'nothing escaped into a free-text term');
});

test('hostile names, keys and values are refused with what was wrong, before any filter exists', () => {
  const refuse = (over: Partial<MarkAuthorQueryInput>, re: RegExp): void => assert.throws(() => markAuthorQuery({ ...base, ...over }), (e: unknown) => e instanceof RangeError && re.test(e.message));
  refuse({ findingName: 'organizations/1234/sources/5678/findings/f" OR "x' }, /not an SCC finding name/);
  refuse({ findingName: 'organizations/1234/sources/5678/findings/f\nlogName:"x"' }, /not an SCC finding name/);
  refuse({ findingName: '//securitycenter.googleapis.com/organizations/1/sources/2/findings/3' }, /not an SCC finding name/);
  refuse({ findingName: 'organizations/1234/sources/../findings/f' }, /not an SCC finding name/);
  refuse({ markKey: 'scc_responder_approval="x" OR x' }, /mark key must match/);
  refuse({ markKey: 'a.b' }, /mark key must match/);
  refuse({ markKey: '' }, /mark key must match/);
  refuse({ markValue: 'approve:x\nlogName:"other"' }, /control characters/);
  refuse({ markValue: 'approve:x\u0000' }, /control characters/);
  refuse({ markValue: 'approve:\ud800' }, /ill-formed UTF-16/);
  refuse({ markValue: '' }, /1-512 characters/);
  refuse({ markValue: 'a'.repeat(513) }, /1-512 characters/);
  refuse({ since: 'yesterday' }, /not a valid time/);
});

const entry = (over: Partial<FakeLogEntry['audit']> = {}, request: Record<string, unknown> = { securityMarks: { marks: { scc_responder_approval: 'approve:run-1' } } }): FakeLogEntry => ({
  logName: 'organizations/1234/logs/cloudaudit.googleapis.com%2Fdata_access',
  resource: { type: 'audited_resource', labels: {} },
  timestamp: '2026-12-01T11:00:00.000Z',
  audit: { serviceName: 'securitycenter.googleapis.com', methodName: 'google.cloud.securitycenter.v1.SecurityCenter.UpdateSecurityMarks', resourceName: `${FINDING}/securityMarks`, principalEmail: 'a@example.com', ...over },
  request,
});

test('read by the fake, the filter selects the matching entry and nothing else (each constraint counts)', () => {
  const f = parseFilter(markAuthorQuery(base).filter);
  assert.equal(matchesFilter(entry(), f), true);
  assert.equal(matchesFilter(entry({ methodName: 'google.cloud.securitycenter.v2.SecurityCenter.UpdateSecurityMarks', resourceName: 'organizations/1234/sources/5678/locations/global/findings/f0a1b2/securityMarks' }), f), true, 'v2 call');
  assert.equal(matchesFilter(entry({}, { securityMarks: { marks: { scc_responder_approval: 'deny:run-1' } } }), f), false, 'other value');
  assert.equal(matchesFilter(entry({}, { securityMarks: { marks: { scc_responder_approval: 'approve:run-2' } } }), f), false, 'other run');
  assert.equal(matchesFilter(entry({ resourceName: 'organizations/1234/sources/9999/findings/f0a1b2/securityMarks' }), f), false, 'other source');
  assert.equal(matchesFilter(entry({ resourceName: 'organizations/1234/sources/5678/findings/zzz/securityMarks' }), f), false, 'other finding');
  assert.equal(matchesFilter(entry({ methodName: 'google.cloud.securitycenter.v1.SecurityCenter.SetFindingState' }), f), false, 'other method');
  assert.equal(matchesFilter({ ...entry(), timestamp: '2026-12-01T09:59:59.000Z' }, f), false, 'before since');
});

test('negative control: without the mark clause the same fake returns the deny entry, so the clause is what excludes it', () => {
  const q = markAuthorQuery(base);
  const deny = entry({}, { securityMarks: { marks: { scc_responder_approval: 'deny:run-1' } } });
  const unconstrained = q.filter.split('\n').filter((l) => !l.startsWith('protoPayload.request.')).join('\n');
  assert.equal(matchesFilter(deny, parseFilter(unconstrained)), true);
  assert.equal(matchesFilter(deny, parseFilter(q.filter)), false);
});

test('entry checks: exact method shape, the finding in any spelling, service account principals', () => {
  assert.equal(isUpdateSecurityMarksMethod('google.cloud.securitycenter.v1.SecurityCenter.UpdateSecurityMarks'), true);
  assert.equal(isUpdateSecurityMarksMethod('google.cloud.securitycenter.v2.SecurityCenter.UpdateSecurityMarks'), true);
  assert.equal(isUpdateSecurityMarksMethod('google.cloud.securitycenter.v1p1beta1.SecurityCenter.UpdateSecurityMarks'), true);
  assert.equal(isUpdateSecurityMarksMethod('evil.SecurityCenter.UpdateSecurityMarks'), false);
  assert.equal(isUpdateSecurityMarksMethod(undefined), false);
  assert.equal(namesFindingMarks(`${FINDING}/securityMarks`, FINDING), true);
  assert.equal(namesFindingMarks(FINDING, FINDING), true);
  assert.equal(namesFindingMarks('organizations/1234/sources/5678/locations/global/findings/f0a1b2/securityMarks', FINDING), true);
  assert.equal(namesFindingMarks(`//securitycenter.googleapis.com/${FINDING}/securityMarks`, FINDING), true);
  assert.equal(namesFindingMarks(`${FINDING}x/securityMarks`, FINDING), false, 'a longer finding id that `:` would also match');
  assert.equal(namesFindingMarks('organizations/9/sources/5678/findings/f0a1b2', FINDING), false);
  assert.equal(isServiceAccountPrincipal('approver-bot@my-proj.iam.gserviceaccount.com'), true);
  assert.equal(isServiceAccountPrincipal('service-123@gcp-sa-scc-notification.iam.gserviceaccount.com'), true);
  assert.equal(isServiceAccountPrincipal('alice@example.com'), false);
  assert.equal(isServiceAccountPrincipal('gserviceaccount.com@example.com'), false);
});
