// The approvals listing walks the whole store a page at a time (EvidenceStore.listPages):
// on Cloud Storage (the real client against the fake, objects.list pages followed by
// nextPageToken) and on the local store (a directory per page). Checked: the pages hold
// exactly list()'s keys; the GCS walk asks for the next page only when the first is consumed
// (the negative control of "streamed": list() fetches every page before returning); the
// approvals listing over GCS finds the pending records among other objects, newest first,
// with their status (pending, expired-unclosed, closed from <folder>/approval/report.json),
// and reports a record it cannot read instead of guessing.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Storage } from '@google-cloud/storage';
import { GcsEvidenceStore } from '../../shared/gcp/gcs-store.js';
import { putBytes, putJson, storeKeys } from '../../shared/ledger/json.js';
import { keysIn } from '../../shared/ledger/layout.js';
import { LocalEvidenceStore } from '../../shared/ledger/local-store.js';
import type { EvidenceStore } from '../../shared/ports.js';
import { listApprovals } from '../../shared/respond/approval-sweep.js';
import { MemoryStore } from '../support/memory-store.js';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';

const BUCKET = 'approvals-listing';
let fake: FakeGcs;
let root: string;

before(async () => {
  fake = await startFakeGcs({ buckets: [BUCKET] });
  root = await mkdtemp(join(tmpdir(), 'approval-listing-'));
});

after(async () => {
  await fake.close();
  await rm(root, { recursive: true, force: true });
});

function gcsStore(prefix: string, listPageSize: number): GcsEvidenceStore {
  const storage = new Storage({ apiEndpoint: fake.url, projectId: 'scc-responder-test', retryOptions: { maxRetries: 2, retryDelayMultiplier: 1.1, maxRetryDelay: 1, totalTimeout: 30, autoRetry: true } });
  return new GcsEvidenceStore({ storage, bucket: BUCKET, prefix, listPageSize });
}

function pendingRecord(id: string, createdAt: string, hours: number): Record<string, unknown> {
  return {
    status: 'pending', findingName: `organizations/1/sources/2/findings/${id}`, runId: `run-${id}`, rule: 'approve-delete',
    actions: [{ type: 'deletePod' }], pod: { uid: `uid-${id}`, namespace: 'payments', name: `pod-${id}` }, evidence: { stored: true },
    createdAt, expiresAt: new Date(Date.parse(createdAt) + hours * 3_600_000).toISOString(), commands: { approve: 'gcloud ...', deny: 'gcloud ...' },
  };
}

/** Three pending records among other objects: one closed (denied), one expired, one pending; and one unreadable. */
async function seed(store: EvidenceStore): Promise<void> {
  const folder = (id: string): string => `proj/cluster/payments/pod-${id}/${id}`;
  await putJson(store, keysIn(folder('aaa')).pendingApproval, 'pending-approval', pendingRecord('aaa', '2026-12-01T08:00:00.000Z', 4));
  await putJson(store, `${keysIn(folder('aaa')).approvalFolder}/report.json`, 'report', { approval: { status: 'denied' } });
  await putJson(store, keysIn(folder('bbb')).pendingApproval, 'pending-approval', pendingRecord('bbb', '2026-12-01T09:00:00.000Z', 1));
  await putJson(store, keysIn(folder('ccc')).pendingApproval, 'pending-approval', pendingRecord('ccc', '2026-12-01T10:00:00.000Z', 24));
  await putBytes(store, keysIn(folder('ddd')).pendingApproval, 'pending-approval', '{"status":"pend');
  for (const id of ['aaa', 'bbb', 'ccc', 'eee']) await putJson(store, keysIn(folder(id)).reportJson, 'report', { findingName: id });
  await putBytes(store, 'budget/proj/cluster/2026120110/eee-10', 'evidence-budget', '');
}

async function pagesOf(store: EvidenceStore): Promise<string[][]> {
  const pages: string[][] = [];
  for await (const page of store.listPages?.('') ?? []) pages.push(page);
  return pages;
}

test('GCS: listPages follows nextPageToken page by page, and holds exactly list()', async () => {
  const store = gcsStore('paged', 3);
  await seed(store);
  const all = await store.list('');
  assert.equal(all.length, 10);
  const pages = await pagesOf(store);
  assert.deepEqual(pages.map((p) => p.length), [3, 3, 3, 1]);
  assert.deepEqual(pages.flat().sort(), all);

  // Streamed: after the first page only one objects.list request went out; the rest follow
  // as the walk goes on (the negative control: a walk that fetched everything first would
  // show all four requests already after the first page).
  const lists = (): number => fake.requests.filter((r) => r.method === 'GET' && r.path === `/storage/v1/b/${BUCKET}/o`).length;
  const before = lists();
  const it = store.listPages('')[Symbol.asyncIterator]();
  assert.equal((await it.next()).value?.length, 3);
  assert.equal(lists() - before, 1, 'one page fetched for one page consumed');
  let more = 0;
  while (!(await it.next()).done) more += 1;
  assert.equal(more, 3);
  assert.equal(lists() - before, 4, 'the other pages were fetched as they were consumed');
});

test('GCS: list() and listPages() ask for the names only (a partial response) and still return every key', async () => {
  const store = gcsStore('names', 4);
  await seed(store);
  const lists = (): { query: string }[] => fake.requests.filter((r) => r.method === 'GET' && r.path === `/storage/v1/b/${BUCKET}/o`);
  const before = lists().length;
  const all = await store.list('');
  assert.equal(all.length, 10);
  assert.deepEqual((await pagesOf(store)).flat().sort(), all);
  const sent = lists().slice(before);
  assert.ok(sent.length >= 4, 'list() and three pages of listPages()');
  for (const r of sent) assert.equal(new URLSearchParams(r.query).get('fields'), 'items(name),nextPageToken', r.query);
  // Negative control: the fake honours `fields`, so a listing without it gets whole resources
  // (metadata and all) and the assertion above could fail.
  const res = await fetch(`${fake.url}/storage/v1/b/${BUCKET}/o?prefix=names/`);
  const full = (await res.json()) as { items: Record<string, unknown>[] };
  assert.ok(full.items.length === 10 && full.items.every((i) => 'metadata' in i && 'size' in i));
  const partial = (await (await fetch(`${fake.url}/storage/v1/b/${BUCKET}/o?prefix=names/&fields=items(name),nextPageToken`)).json()) as { items: Record<string, unknown>[] };
  assert.ok(partial.items.every((i) => Object.keys(i).join() === 'name'));
});

test('local store: a directory per page, exactly list(); a store without listPages is walked through list()', async () => {
  const local = new LocalEvidenceStore({ root: join(root, 'local') });
  await seed(local);
  const all = await local.list('');
  assert.equal(all.length, 10);
  const pages = await pagesOf(local);
  assert.ok(pages.length >= 5, `one page per directory (${pages.length})`);
  assert.deepEqual(pages.flat().sort(), all);
  const memory = new MemoryStore();
  await seed(memory);
  const keys: string[] = [];
  for await (const k of storeKeys(memory, '')) keys.push(k);
  assert.deepEqual(keys.sort(), await memory.list(''));
});

for (const [name, make] of [['GCS', () => gcsStore('listing', 2)], ['local', () => new LocalEvidenceStore({ root: join(root, 'listing') })], ['memory', () => new MemoryStore()]] as const) {
  test(`${name}: the approvals listing, newest first, with statuses; an unreadable record is reported`, async () => {
    const store: EvidenceStore = make();
    await seed(store);
    const { rows, unreadable } = await listApprovals(store, new Date('2026-12-01T10:30:00.000Z'));
    assert.deepEqual(rows.map((r) => [r.runId, r.status, r.closedAs ?? '']), [['run-ccc', 'pending', ''], ['run-bbb', 'expired-unclosed', ''], ['run-aaa', 'closed', 'denied']]);
    assert.deepEqual(rows.map((r) => r.folder), ['proj/cluster/payments/pod-ccc/ccc', 'proj/cluster/payments/pod-bbb/bbb', 'proj/cluster/payments/pod-aaa/aaa']);
    assert.deepEqual(rows[0]?.pod, { namespace: 'payments', name: 'pod-ccc', uid: 'uid-ccc' });
    assert.deepEqual(unreadable, [keysIn('proj/cluster/payments/pod-ddd/ddd').pendingApproval]);
  });
}

test('a store that fails mid-listing is an error, not a shorter list', async () => {
  const store = new MemoryStore();
  await seed(store);
  store.faults.inject({ match: `readText ${keysIn("proj/cluster/payments/pod-bbb/bbb").pendingApproval}`, status: 503 });
  await assert.rejects(listApprovals(store, new Date('2026-12-01T10:30:00.000Z')), /503/);
});
