// The record protocol over the four store primitives: what a record looks like on the wire
// (body bytes, content type, scc-record), and how a read tells absent, unreadable and ok apart.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CreateOptions, StoredObject } from '../../shared/ports.js';
import { isComplete, putBytes, putJson, readJson, readRecord, recordMetadata } from '../../shared/ledger/json.js';
import { MemoryStore } from '../support/memory-store.js';

/** Records exactly what reaches the primitive: key, body bytes, metadata, signal, options. */
class RecordingStore extends MemoryStore {
  readonly calls: { key: string; body: string; metadata: Record<string, string>; signal: AbortSignal | undefined; options: CreateOptions | undefined }[] = [];
  override async create(key: string, body: NodeJS.ReadableStream, metadata: Record<string, string>, signal?: AbortSignal, options?: CreateOptions): Promise<{ created: boolean; object: StoredObject }> {
    const chunks: Buffer[] = [];
    for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
    this.calls.push({ key, body: Buffer.concat(chunks).toString('utf8'), metadata, signal, options });
    const { Readable } = await import('node:stream');
    return super.create(key, Readable.from([Buffer.concat(chunks)]), metadata, signal, options);
  }
}

describe('putJson / putBytes', () => {
  test('compact JSON with a newline, application/json, scc-record added to the caller fields', async () => {
    const store = new RecordingStore();
    const ac = new AbortController();
    const r = await putJson(store, 'f/claim-0.json', 'claim', { a: 1, b: [2] }, { 'scc-run': 'r1' }, { signal: ac.signal });
    assert.equal(r.created, true);
    const call = store.calls[0];
    assert.equal(call?.body, '{"a":1,"b":[2]}\n');
    assert.deepEqual(call?.metadata, { 'scc-run': 'r1', 'scc-record': 'claim' });
    assert.equal(call?.options?.contentType, 'application/json');
    assert.equal(call?.signal, ac.signal, 'the caller signal reaches the store');
    assert.equal(r.object.metadata['scc-complete'], 'true');
  });

  test('pretty JSON for records people read; an explicit content type wins', async () => {
    const store = new RecordingStore();
    await putJson(store, 'f/manifest.json', 'manifest', { a: 1 }, {}, { pretty: true });
    await putJson(store, 'f/x.json', 'effects', { a: 1 }, {}, { contentType: 'text/plain' });
    assert.equal(store.calls[0]?.body, '{\n  "a": 1\n}\n');
    assert.equal(store.calls[1]?.options?.contentType, 'text/plain');
  });

  test('bytes default to application/octet-stream; strings are UTF-8', async () => {
    const store = new RecordingStore();
    await putBytes(store, 'f/report.md', 'report-markdown', 'ü\n');
    assert.equal(store.calls[0]?.options?.contentType, 'application/octet-stream');
    assert.equal(store.text('f/report.md'), 'ü\n');
    assert.deepEqual(store.calls[0]?.metadata, { 'scc-record': 'report-markdown' });
    await putBytes(store, 'f/b', 'binary', Buffer.from([0, 255]), {}, { contentType: 'x/y' });
    assert.deepEqual([...(store.objects.get('f/b')?.data ?? [])], [0, 255]);
    assert.equal(store.calls[1]?.options?.contentType, 'x/y');
  });

  test('create-only: a second put keeps the first record and says so', async () => {
    const store = new MemoryStore();
    await putJson(store, 'k.json', 'claim', { first: true });
    const again = await putJson(store, 'k.json', 'claim', { first: false });
    assert.equal(again.created, false);
    assert.equal(store.text('k.json'), '{"first":true}\n');
  });

  test('recordMetadata: the kind cannot be overridden by a caller field', () => {
    assert.deepEqual(recordMetadata('effects', { 'scc-record': 'report', x: 'y' }), { 'scc-record': 'effects', x: 'y' });
    assert.deepEqual(recordMetadata('binary'), { 'scc-record': 'binary' });
  });
});

describe('readJson / readRecord', () => {
  test('absent, unreadable (a writer that crashed) and ok are told apart', async () => {
    const store = new MemoryStore();
    store.put('ok.json', '{"v":1}');
    store.put('bad.json', '{"v":');
    assert.deepEqual(await readJson(store, 'none.json'), { state: 'absent' });
    assert.deepEqual(await readJson(store, 'bad.json'), { state: 'unreadable', text: '{"v":' });
    assert.deepEqual(await readJson(store, 'ok.json'), { state: 'ok', value: { v: 1 } });
  });

  test('an unreadable record reports at most 200 characters of it', async () => {
    const store = new MemoryStore();
    store.put('long.json', `{${'x'.repeat(1000)}`);
    const r = await readJson(store, 'long.json');
    assert.equal(r.state, 'unreadable');
    assert.equal(r.state === 'unreadable' ? r.text.length : 0, 200);
  });

  test('store errors propagate (the caller classifies them), they are not "absent"', async () => {
    const store = new MemoryStore();
    store.faults.inject({ match: 'readText k', status: 503 });
    await assert.rejects(readJson(store, 'k'), /injected fault 503/);
  });

  test('readRecord: the value only when the guard accepts it', async () => {
    const store = new MemoryStore();
    store.put('a.json', '{"runId":"r"}');
    store.put('b.json', '{"other":1}');
    store.put('c.json', 'nope');
    const isRun = (v: unknown): v is { runId: string } => typeof v === 'object' && v !== null && typeof (v as { runId?: unknown }).runId === 'string';
    assert.deepEqual(await readRecord(store, 'a.json', isRun), { runId: 'r' });
    assert.equal(await readRecord(store, 'b.json', isRun), null);
    assert.equal(await readRecord(store, 'c.json', isRun), null);
    assert.equal(await readRecord(store, 'd.json', isRun), null);
    // Even a guard that accepts anything gets nothing for an absent or unreadable record.
    const anything = (_v: unknown): _v is unknown => true;
    assert.equal(await readRecord(store, 'd.json', anything), null);
    assert.equal(await readRecord(store, 'c.json', anything), null);
  });
});

describe('isComplete', () => {
  test('only scc-complete: "true" makes an object complete', () => {
    const o = (metadata: Record<string, string>): StoredObject => ({ uri: 'x', key: 'k', size: 1, metadata });
    assert.equal(isComplete(o({ 'scc-complete': 'true' })), true);
    assert.equal(isComplete(o({})), false);
    assert.equal(isComplete(o({ 'scc-complete': 'false' })), false);
    assert.equal(isComplete(o({ 'scc-complete': 'TRUE' })), false);
    assert.equal(isComplete(o({ complete: 'true' })), false);
  });
});
