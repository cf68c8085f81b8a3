// The Cloud Storage fake is as strict as the service where our code could otherwise pass here
// and fail there: an unknown bucket answers 404 (not an implicit bucket), and a resumable
// upload's non-final chunks must be multiples of 256 KiB. Driven with raw HTTP (the wire
// rule itself) and with the real @google-cloud/storage client (what the product uses).
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Storage } from '@google-cloud/storage';
import { failureKind } from '../../shared/evidence/exec-outcome.js';
import { GcsEvidenceStore } from '../../shared/gcp/gcs-store.js';
import { classifyError } from '../../shared/common/errors.js';
import { RESUMABLE_CHUNK_MULTIPLE, startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';

const BUCKET = 'strict-bucket';
let fake: FakeGcs;
let storage: Storage;

before(async () => {
  fake = await startFakeGcs({ buckets: [BUCKET] });
  storage = new Storage({ apiEndpoint: fake.url, projectId: 'scc-responder-test', retryOptions: { maxRetries: 0 } });
});

after(async () => {
  await fake.close();
});

/** Starts a resumable session with raw HTTP; returns its Location. */
async function session(bucket: string, name: string): Promise<Response> {
  return fetch(`${fake.url}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
}

describe('fake GCS: unknown buckets', () => {
  test('every route of a bucket that does not exist answers 404 notFound', async () => {
    for (const [method, path] of [
      ['GET', '/storage/v1/b/no-such-bucket/o'],
      ['GET', '/storage/v1/b/no-such-bucket/o/x'],
      ['POST', '/upload/storage/v1/b/no-such-bucket/o?uploadType=resumable&name=x'],
      ['POST', '/upload/storage/v1/b/no-such-bucket/o?uploadType=multipart&name=x'],
    ] as const) {
      const r = await fetch(`${fake.url}${path}`, { method, ...(method === 'POST' ? { body: '{}' } : {}) });
      assert.equal(r.status, 404, `${method} ${path}`);
      const body = (await r.json()) as { error: { errors: { reason: string }[]; message: string } };
      assert.equal(body.error.errors[0]?.reason, 'notFound');
      assert.match(body.error.message, /bucket does not exist/);
    }
    assert.equal((await session(BUCKET, 'ok')).status, 200, 'the bucket that exists is served');
  });

  test('the evidence store pointed at a missing bucket fails with the 404, nothing is stored', async () => {
    const store = new GcsEvidenceStore({ storage, bucket: 'typo-bucket', prefix: 'ctd' });
    await assert.rejects(
      store.create('f1/binary', Readable.from([Buffer.from('evidence')]), { 'scc-sha256': 'x' }),
      (err: unknown) => /404|does not exist|not found/i.test(String((err as Error).message ?? err)),
    );
    assert.deepEqual(fake.objects('typo-bucket'), []);
  });
});

describe('fake GCS: resumable chunk alignment', () => {
  test('a non-final chunk that is not a multiple of 256 KiB is refused with 400; aligned chunks and a short final chunk are accepted', async () => {
    const location = (await session(BUCKET, 'aligned')).headers.get('location');
    assert.ok(location);
    const put = (start: number, data: Buffer, total: number | '*'): Promise<Response> =>
      fetch(location, { method: 'PUT', headers: { 'content-range': `bytes ${start}-${start + data.length - 1}/${total}` }, body: new Uint8Array(data) });

    const odd = await put(0, Buffer.alloc(RESUMABLE_CHUNK_MULTIPLE + 1), '*');
    assert.equal(odd.status, 400);
    assert.match(((await odd.json()) as { error: { message: string } }).error.message, /multiple of 262144/);

    const first = await put(0, Buffer.alloc(RESUMABLE_CHUNK_MULTIPLE, 1), '*');
    assert.equal(first.status, 308);
    assert.equal(first.headers.get('range'), `bytes=0-${RESUMABLE_CHUNK_MULTIPLE - 1}`);
    const total = RESUMABLE_CHUNK_MULTIPLE + 10;
    const final = await put(RESUMABLE_CHUNK_MULTIPLE, Buffer.alloc(10, 2), total);
    assert.equal(final.status, 200);
    assert.equal(fake.object(BUCKET, 'aligned')?.size, total);
  });

  test('negative control: the real client with an unaligned chunkSize is refused by the fake', async () => {
    const file = storage.bucket(BUCKET).file('unaligned');
    const data = Buffer.alloc(3 * 100 * 1024, 7);
    await assert.rejects(
      new Promise<void>((resolve, reject) => {
        const w = file.createWriteStream({ resumable: true, chunkSize: 100 * 1024, validation: false });
        w.on('error', reject);
        w.on('finish', resolve);
        w.end(data);
      }),
      (err: unknown) => /required to be a multiple of 262144 bytes, except for the final request/.test(String((err as Error).message ?? err)),
    );
    assert.equal(fake.object(BUCKET, 'unaligned'), undefined);
  });
});

describe('the evidence store against a connection that keeps dropping', () => {
  test('after the client\'s retries the failure is transient and carries the errno, so the snapshot asks for redelivery', async () => {
    const store = new GcsEvidenceStore({ storage: new Storage({ apiEndpoint: fake.url, projectId: 'scc-responder-test', retryOptions: { maxRetries: 1, retryDelayMultiplier: 1, totalTimeout: 60 } }), bucket: BUCKET, prefix: 'ctd' });
    fake.faults.inject({ match: `PUT /upload/storage/v1/b/${BUCKET}/o`, drop: true, times: Number.POSITIVE_INFINITY });
    try {
      const err = await store.create('dropped/binary', Readable.from([Buffer.alloc(5 * 1024 * 1024, 3)]), {}).then(
        () => assert.fail('the upload must fail'),
        (e: unknown) => e,
      );
      const c = classifyError(err);
      assert.equal(c.kind, 'transient', c.reason);
      assert.equal(c.code, 'ECONNRESET', c.reason);
      // What the snapshot decides from the code (it keeps only the code of a store failure).
      assert.equal(failureKind('store-failed', c.code), 'transient');
    } finally {
      fake.faults.clear();
    }
    assert.equal(fake.object(BUCKET, 'ctd/dropped/binary'), undefined);
  });
});
