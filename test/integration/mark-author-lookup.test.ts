// findMarkAuthor through the real @google-cloud/logging client against the Cloud Logging
// gRPC fake (ListLogEntries, protoPayload as an Any of google.cloud.audit.AuditLog): who set
// the approval mark, and every way it cannot tell (not found, 403, timeout, bad input).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Logging } from '@google-cloud/logging';
import { CloudLoggingSearch, entryView } from '../../shared/gcp/cloud-logging-search.js';
import type { MarkAuthor, MarkAuthorFound, MarkAuthorLookup, MarkAuthorRequest } from '../../shared/ports.js';
import { startFakeLogging, type FakeLogEntry, type FakeLogging } from '../support/fake-logging.js';

const ORG = 'organizations/1234';
const FINDING = `${ORG}/sources/5678/findings/f0a1b2`;
const KEY = 'scc_responder_approval';
const SINCE = '2026-12-01T10:00:00.000Z';
const NOW = new Date('2026-12-01T12:00:00.000Z');
const V1 = 'google.cloud.securitycenter.v1.SecurityCenter.UpdateSecurityMarks';
const V2 = 'google.cloud.securitycenter.v2.SecurityCenter.UpdateSecurityMarks';

let fake: FakeLogging;
let logging: Logging;

before(async () => {
  fake = await startFakeLogging();
  logging = new Logging({ ...fake.clientOptions(), projectId: 'responder-project' });
});
after(async () => {
  await logging.loggingService.close?.();
  await fake.close();
});

interface MarkEntry {
  at: string;
  value: string;
  principal?: string;
  method?: string;
  resourceName?: string;
  statusCode?: number;
  parent?: string;
}

function markEntry(e: MarkEntry): FakeLogEntry {
  return {
    logName: `${e.parent ?? ORG}/logs/cloudaudit.googleapis.com%2Fdata_access`,
    resource: { type: 'audited_resource', labels: { service: 'securitycenter.googleapis.com', method: e.method ?? V1 } },
    timestamp: e.at,
    severity: 'NOTICE',
    audit: {
      serviceName: 'securitycenter.googleapis.com',
      methodName: e.method ?? V1,
      resourceName: e.resourceName ?? `${FINDING}/securityMarks`,
      ...(e.principal === undefined ? {} : { principalEmail: e.principal }),
      ...(e.statusCode === undefined ? {} : { statusCode: e.statusCode, statusMessage: 'denied' }),
    },
    request: { '@type': 'type.googleapis.com/google.cloud.securitycenter.v1.UpdateSecurityMarksRequest', securityMarks: { name: e.resourceName ?? `${FINDING}/securityMarks`, marks: { [KEY]: e.value } }, updateMask: `marks.${KEY}` },
  };
}

function lookup(entries: FakeLogEntry[], over: Partial<MarkAuthorRequest> = {}, timeoutMs = 30_000): Promise<MarkAuthor> {
  fake.entries.splice(0, fake.entries.length, ...entries);
  fake.requests.length = 0;
  const search = new CloudLoggingSearch(logging, { gaxOptions: { maxRetries: 0 }, markAuthor: { timeoutMs, now: () => NOW } });
  return search.findMarkAuthor({ findingName: FINDING, markKey: KEY, markValue: 'approve:run-1', since: SINCE, ...over });
}

function found(a: MarkAuthor): MarkAuthorFound {
  assert.notEqual(a.principal, undefined, `expected a principal, got: ${'reason' in a ? a.reason : ''}`);
  return a as MarkAuthorFound;
}

test('found: the approver of this run, from the parent organization\'s Data Access log, in one bounded newest-first page', async () => {
  const a = found(await lookup([markEntry({ at: '2026-12-01T11:00:00.000Z', value: 'approve:run-1', principal: 'alice@example.com' })]));
  assert.equal(a.principal, 'alice@example.com');
  assert.equal(a.serviceAccount, false);
  assert.equal(a.at, '2026-12-01T11:00:00.000Z');
  assert.equal(a.logName, `${ORG}/logs/cloudaudit.googleapis.com%2Fdata_access`);
  assert.match(a.logsExplorerUrl, /^https:\/\/console\.cloud\.google\.com\/logs\/query;query=.*\?organizationId=1234$/);
  assert.equal(fake.requests.length, 1, 'one call');
  const r = fake.requests[0];
  assert.deepEqual(r?.resourceNames, [ORG]);
  assert.equal(r?.orderBy, 'timestamp desc');
  assert.ok((r?.pageSize ?? 0) >= 1 && (r?.pageSize ?? 0) <= 5, `page size ${r?.pageSize}`);
  assert.match(r?.filter ?? '', /^protoPayload\.request\.securityMarks\.marks\.scc_responder_approval="approve:run-1"$/m);
  assert.match(r?.filter ?? '', /^timestamp>="2026-12-01T10:00:00\.000Z"$/m);
});

test('the newest matching entry wins; newer entries for another value, run, finding or a refused call are ignored', async () => {
  const a = found(
    await lookup([
      markEntry({ at: '2026-12-01T10:30:00.000Z', value: 'approve:run-1', principal: 'first@example.com' }),
      markEntry({ at: '2026-12-01T11:00:00.000Z', value: 'approve:run-1', principal: 'alice@example.com', method: V2, resourceName: `${ORG}/sources/5678/locations/global/findings/f0a1b2/securityMarks` }),
      markEntry({ at: '2026-12-01T11:10:00.000Z', value: 'deny:run-1', principal: 'mallory@example.com' }),
      markEntry({ at: '2026-12-01T11:20:00.000Z', value: 'approve:run-2', principal: 'bob@example.com' }),
      markEntry({ at: '2026-12-01T11:30:00.000Z', value: 'approve:run-1', principal: 'eve@example.com', statusCode: 7 }),
      markEntry({ at: '2026-12-01T11:40:00.000Z', value: 'approve:run-1', principal: 'carol@example.com', resourceName: `${ORG}/sources/5678/findings/f0a1b2xyz/securityMarks` }),
    ]),
  );
  assert.equal(a.principal, 'alice@example.com', 'the v2 call by alice is the newest successful one on this finding');
});

test('a service account principal is reported as such', async () => {
  const a = found(await lookup([markEntry({ at: '2026-12-01T11:00:00.000Z', value: 'approve:run-1', principal: 'approver-bot@ops-proj.iam.gserviceaccount.com' })]));
  assert.equal(a.serviceAccount, true);
});

test('a project finding searches the project\'s log, with a project-scoped link', async () => {
  const finding = 'projects/shop-prod/sources/5678/findings/f0a1b2';
  const a = found(await lookup([markEntry({ at: '2026-12-01T11:00:00.000Z', value: 'approve:run-1', principal: 'alice@example.com', parent: 'projects/shop-prod', resourceName: `${finding}/securityMarks` })], { findingName: finding }));
  assert.equal(a.principal, 'alice@example.com');
  assert.deepEqual(fake.requests[0]?.resourceNames, ['projects/shop-prod']);
  assert.match(a.logsExplorerUrl, /\?project=shop-prod$/);
});

test('not found: the reason says where SCC logs it and what must be enabled, with the link (entries before `since` do not count)', async () => {
  const a = await lookup([markEntry({ at: '2026-12-01T09:00:00.000Z', value: 'approve:run-1', principal: 'old@example.com' })]);
  assert.equal(a.principal, undefined);
  assert.ok('reason' in a);
  assert.match(a.reason, /no Data Access audit entry on organizations\/1234 sets that mark on this finding since 2026-12-01T10:00:00\.000Z/);
  assert.match(a.reason, /Data Access audit logs \(DATA_WRITE\) are enabled for securitycenter\.googleapis\.com on organizations\/1234/);
  assert.match(a.logsExplorerUrl ?? '', /^https:\/\/console\.cloud\.google\.com\/logs\/query;query=/);
});

test('only refused calls: not found, and the reason says newer entries were skipped', async () => {
  const a = await lookup([markEntry({ at: '2026-12-01T11:30:00.000Z', value: 'approve:run-1', principal: 'eve@example.com', statusCode: 7 })]);
  assert.equal(a.principal, undefined);
  assert.match('reason' in a ? a.reason : '', /1 newer entry were refused calls or other resources/);
});

test('an entry without a principal email: unknown, and says so', async () => {
  const a = await lookup([markEntry({ at: '2026-12-01T11:00:00.000Z', value: 'approve:run-1' })]);
  assert.equal(a.principal, undefined);
  assert.match('reason' in a ? a.reason : '', /has no principal email/);
});

test('permission denied: resolves with a reason naming roles/logging.privateLogViewer on the finding\'s parent', async () => {
  fake.faults.inject({ match: 'ListLogEntries', status: 403, times: Number.POSITIVE_INFINITY });
  try {
    const a = await lookup([markEntry({ at: '2026-12-01T11:00:00.000Z', value: 'approve:run-1', principal: 'alice@example.com' })]);
    assert.equal(a.principal, undefined);
    assert.match('reason' in a ? a.reason : '', /PERMISSION_DENIED\): grant its service account roles\/logging\.privateLogViewer on organizations\/1234/);
    assert.ok(a.logsExplorerUrl, 'the link lets a human look instead');
  } finally {
    fake.faults.clear();
  }
});

test('a lookup that never answers resolves at its deadline with a reason (bounded)', async () => {
  fake.faults.inject({ match: 'ListLogEntries', hang: true, times: Number.POSITIVE_INFINITY });
  try {
    const a = await lookup([], {}, 300);
    assert.equal(a.principal, undefined);
    assert.match('reason' in a ? a.reason : '', /did not answer within 300 ms|timed out/);
  } finally {
    fake.faults.clear();
  }
});

test('the caller\'s signal ends the lookup: resolves (never rejects) with a reason', async () => {
  fake.faults.inject({ match: 'ListLogEntries', hang: true, times: Number.POSITIVE_INFINITY });
  try {
    const controller = new AbortController();
    const pending = lookup([], { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('finding deadline')), 50);
    const a = await pending;
    assert.equal(a.principal, undefined);
    assert.match('reason' in a ? a.reason : '', /cancelled/);
  } finally {
    fake.faults.clear();
  }
});

test('hostile input: no call is made; a quote in the mark value reaches the server escaped', async () => {
  const bad = await lookup([], { findingName: `${FINDING}" OR logName:"x` });
  assert.equal(bad.principal, undefined);
  assert.match('reason' in bad ? bad.reason : '', /no audit log lookup: mark author query: not an SCC finding name/);
  assert.equal(fake.requests.length, 0, 'nothing was sent');

  const value = 'approve:run-1" OR protoPayload.methodName:"';
  const a = await lookup([
    markEntry({ at: '2026-12-01T11:00:00.000Z', value: 'approve:run-1', principal: 'alice@example.com' }),
    markEntry({ at: '2026-12-01T11:05:00.000Z', value, principal: 'quoted@example.com' }),
  ], { markValue: value });
  assert.equal(found(a).principal, 'quoted@example.com', 'only the entry whose value is the whole hostile string');
  assert.match(fake.requests[0]?.filter ?? '', /^protoPayload\.request\.securityMarks\.marks\.scc_responder_approval="approve:run-1\\" OR protoPayload\.methodName:\\""$/m);
});

test('negative control: a deny mark set after the approval is not the approver, and the fake would return it without the mark clause', async () => {
  const entries = [
    markEntry({ at: '2026-12-01T11:00:00.000Z', value: 'approve:run-1', principal: 'alice@example.com' }),
    markEntry({ at: '2026-12-01T11:10:00.000Z', value: 'deny:run-1', principal: 'mallory@example.com' }),
  ];
  assert.equal(found(await lookup(entries)).principal, 'alice@example.com');
  // The same server, asked the lookup's filter minus its mark clause, answers mallory first:
  // the fake evaluates the clause, so the assertion above depends on the filter keeping it.
  const filter = (fake.requests[0]?.filter ?? '').split('\n').filter((l) => !l.startsWith('protoPayload.request.')).join('\n');
  const [unconstrained] = await logging.getEntries({ filter, resourceNames: [ORG], orderBy: 'timestamp desc', pageSize: 1, autoPaginate: false, gaxOptions: { maxRetries: 0 } });
  assert.equal(unconstrained.length, 1);
  assert.equal(unconstrained[0] && entryView(unconstrained[0]).principal, 'mallory@example.com');
});

test('wired: the function\'s logging adapter (buildAdapters) exposes findMarkAuthor on the same lazily loaded client', async () => {
  const { buildAdapters } = await import('../../functions/composition/adapters.js');
  const { loadConfig } = await import('../../shared/config.js');
  const env = {
    SCC_RESPONDER_CLUSTER_ACCESS: 'none',
    SCC_RESPONDER_EVIDENCE: 'none',
    SCC_RESPONDER_MARKS: 'false',
    SCC_RESPONDER_CONFIRM: 'false',
    SCC_RESPONDER_LOGS: 'true',
    SCC_RESPONDER_ENDPOINT_LOGGING: `127.0.0.1:${fake.port}`,
    GOOGLE_CLOUD_PROJECT: 'responder-project',
  };
  const adapters = await buildAdapters(loadConfig(env, 'cli', 'test'), env);
  const logs = adapters.logs as (typeof adapters.logs & Partial<MarkAuthorLookup>) | undefined;
  assert.equal(typeof logs?.findMarkAuthor, 'function');
  fake.entries.splice(0, fake.entries.length, markEntry({ at: new Date(Date.now() - 60_000).toISOString(), value: 'approve:run-9', principal: 'alice@example.com' }));
  const a = await logs?.findMarkAuthor?.({ findingName: FINDING, markKey: KEY, markValue: 'approve:run-9', since: new Date(Date.now() - 3_600_000) });
  assert.equal(a && found(a).principal, 'alice@example.com');
});
