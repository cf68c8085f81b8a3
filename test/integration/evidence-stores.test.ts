// The EvidenceStore contract, run against both stores: the local directory store on a real
// filesystem and the Cloud Storage store through the real @google-cloud/storage client talking
// to test/support/fake-gcs.ts over HTTP.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Storage } from '@google-cloud/storage';
import type { EvidenceStore } from '../../shared/ports.js';
import { GcsEvidenceStore } from '../../shared/gcp/gcs-store.js';
import { UnsafeKeyError } from '../../shared/ledger/keys.js';
import { LocalEvidenceStore } from '../../shared/ledger/local-store.js';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';
import { generatedStream, sha256OfGenerated } from '../support/fake-kube.js';

const MiB = 1024 * 1024;
const BUCKET = 'evidence-bucket';

/** A body that sends `good` bytes and then fails, like an exec stream cut half-way (pull-based). */
function failingBody(good: number): Readable {
  const src = generatedStream(good, 7);
  let sent = 0;
  return new Readable({
    async read() {
      const chunk = src.read() as Buffer | null;
      if (chunk === null) {
        if (sent >= good) {
          this.destroy(new Error('source failed mid-way'));
          return;
        }
        src.once('readable', () => this._read(0));
        return;
      }
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

/** A body that never ends until destroyed (for abort tests). */
function endlessBody(): PassThrough {
  const p = new PassThrough();
  p.write(Buffer.alloc(64 * 1024, 1));
  return p;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(p.slice(dir.length + 1));
    }
  };
  await walk(dir);
  return out.sort();
}

interface Harness {
  name: string;
  store: () => EvidenceStore;
  /** Every object name / file the backend holds (for "nothing partial left" checks). */
  everything: () => Promise<string[]>;
}

let fake: FakeGcs;
let root: string;
let outside: string;
let local: LocalEvidenceStore;
let gcs: GcsEvidenceStore;

before(async () => {
  fake = await startFakeGcs({ buckets: [BUCKET] });
  const base = await mkdtemp(join(tmpdir(), 'evidence-stores-'));
  root = join(base, 'root');
  outside = base;
  local = new LocalEvidenceStore({ root, sidecarWaitMs: 2000 });
  const storage = new Storage({
    apiEndpoint: fake.url,
    projectId: 'scc-responder-test',
    retryOptions: { maxRetries: 3, retryDelayMultiplier: 1.1, maxRetryDelay: 1, totalTimeout: 30, autoRetry: true },
  });
  gcs = new GcsEvidenceStore({ storage, bucket: BUCKET, prefix: 'ctd', chunkSizeBytes: 8 * MiB });
});

after(async () => {
  await fake.close();
  await rm(outside, { recursive: true, force: true });
});

const harnesses: Harness[] = [
  { name: 'local', store: () => local, everything: async () => filesUnder(root).catch(() => []) },
  { name: 'gcs', store: () => gcs, everything: async () => fake.objects(BUCKET).map((o) => o.name) },
];

for (const h of harnesses) {
  describe(`EvidenceStore contract: ${h.name}`, () => {
    test('create, stat, readText, list; the metadata given at create is kept', async () => {
      const s = h.store();
      const { created, object } = await s.create('p/c/ns/pod/f1/manifest.json', Readable.from([Buffer.from('{"a":1}')]), { 'scc-finding': 'f1', 'scc-sha256': 'abc' }, undefined, {
        contentType: 'application/json',
      });
      assert.equal(created, true);
      assert.equal(object.size, 7);
      assert.equal(object.metadata['scc-finding'], 'f1');
      assert.equal(object.metadata['scc-complete'], 'true');
      assert.equal(object.metadata['scc-sha256'], 'abc');
      const st = await s.stat('p/c/ns/pod/f1/manifest.json');
      assert.ok(st);
      assert.equal(st.size, 7);
      assert.equal(st.metadata['scc-sha256'], 'abc');
      assert.equal(await s.readText('p/c/ns/pod/f1/manifest.json'), '{"a":1}');
      assert.equal(await s.readText('p/c/ns/pod/nope/manifest.json'), null);
      assert.equal(await s.stat('p/c/ns/pod/nope/binary'), null);
      assert.deepEqual(await s.list('p/c/ns/pod/'), ['p/c/ns/pod/f1/manifest.json']);
      assert.deepEqual(await s.list('p/c/ns/po'), ['p/c/ns/pod/f1/manifest.json']);
      assert.deepEqual(await s.list('q/'), []);
      if (h.name === 'gcs') assert.match(object.uri, /^gs:\/\/evidence-bucket\/ctd\/p\/c\/ns\/pod\/f1\/manifest\.json$/);
      else assert.equal(object.uri, `file://${join(root, 'p/c/ns/pod/f1/manifest.json')}`);
    });

    test('create-only: a second create reports the existing object and changes nothing', async () => {
      const s = h.store();
      const key = 'p/c/ns/pod/twice/binary';
      const first = await s.create(key, Readable.from([Buffer.from('first')]), { who: 'first' });
      const second = await s.create(key, Readable.from([Buffer.from('second!')]), { who: 'second' });
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      assert.equal(second.object.metadata['who'], 'first');
      assert.equal(await s.readText(key), 'first');
    });

    test('two concurrent creates: exactly one wins, one object', async () => {
      const s = h.store();
      const key = 'p/c/ns/pod/race/binary';
      const size = 6 * MiB; // above the simple-upload limit: both go resumable
      const results = await Promise.all([s.create(key, generatedStream(size, 1), { who: 'a' }), s.create(key, generatedStream(size, 1), { who: 'b' })]);
      assert.deepEqual(results.map((r) => r.created).sort(), [false, true]);
      const winner = results.find((r) => r.created)?.object.metadata['who'];
      const loser = results.find((r) => !r.created)?.object;
      assert.equal(loser?.metadata['who'], winner, 'the loser is told about the winner');
      const all = (await h.everything()).filter((n) => n.includes('/race/'));
      assert.deepEqual(all.filter((n) => !n.endsWith('.meta.json')).length, 1);
    });

    test('a body that fails mid-way leaves nothing that stat reports as complete', async () => {
      const s = h.store();
      const key = 'p/c/ns/pod/broken/binary';
      await assert.rejects(s.create(key, failingBody(10 * MiB), { who: 'x' }));
      assert.equal(await s.stat(key), null);
      assert.deepEqual((await h.everything()).filter((n) => n.includes('/broken/')), [], 'no data, temp or sidecar file remains');
      // and the key is still free for a later, complete write
      const ok = await s.create(key, Readable.from([Buffer.from('later')]), {});
      assert.equal(ok.created, true);
    });

    test('an aborted create leaves nothing complete', async () => {
      const s = h.store();
      const key = 'p/c/ns/pod/aborted/binary';
      const ac = new AbortController();
      const body = endlessBody();
      const p = s.create(key, body, {}, ac.signal);
      setTimeout(() => ac.abort(new Error('deadline')), 50);
      await assert.rejects(p);
      body.destroy();
      assert.equal(await s.stat(key), null);
      assert.deepEqual((await h.everything()).filter((n) => n.includes('/aborted/')), []);
    });

    test('a 64 MiB stream is stored with its exact bytes', async () => {
      const s = h.store();
      const key = 'p/c/ns/pod/big/binary';
      const size = 64 * MiB;
      const { created, object } = await s.create(key, generatedStream(size, 42), {});
      assert.equal(created, true);
      assert.equal(object.size, size);
      const hash = createHash('sha256');
      if (h.name === 'gcs') {
        const o = fake.object(BUCKET, `ctd/${key}`);
        assert.ok(o);
        const { createReadStream } = await import('node:fs');
        for await (const c of createReadStream(o.file)) hash.update(c as Buffer);
      } else {
        const { createReadStream } = await import('node:fs');
        for await (const c of createReadStream(join(root, key))) hash.update(c as Buffer);
      }
      assert.equal(hash.digest('hex'), sha256OfGenerated(size, 42));
    });

    test('keys that could escape are refused before any I/O', async () => {
      const s = h.store();
      for (const bad of ['../x', '/etc/passwd', 'a/../../x', 'a//b', 'a/\u0000/b', '', 'a/b/.']) {
        await assert.rejects(s.create(bad, Readable.from([Buffer.from('x')]), {}), UnsafeKeyError, JSON.stringify(bad));
        await assert.rejects(s.stat(bad), UnsafeKeyError);
      }
      await assert.rejects(s.list('../'), UnsafeKeyError);
    });
  });
}

describe('local store specifics', () => {
  test('files are private and not executable; nothing is written outside the root', async () => {
    const key = 'p/c/ns/pod/mode/binary';
    await local.create(key, Readable.from([Buffer.from('\x7fELF malware')]), {});
    const st = await stat(join(root, key));
    assert.equal(st.mode & 0o777, 0o600);
    const outsideEntries = (await readdir(outside)).filter((n) => n !== 'root');
    assert.deepEqual(outsideEntries, []);
  });

  test('a data file without its sidecar (crash between the two) is incomplete: stat null, create reports exists-incomplete', async () => {
    const key = 'p/c/ns/pod/crash/binary';
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(root, 'p/c/ns/pod/crash'), { recursive: true });
    await writeFile(join(root, key), 'half');
    assert.equal(await local.stat(key), null);
    const quick = new LocalEvidenceStore({ root, sidecarWaitMs: 50 });
    const r = await quick.create(key, Readable.from([Buffer.from('new')]), {});
    assert.equal(r.created, false);
    assert.equal(r.object.metadata['scc-complete'], undefined);
    assert.deepEqual((await filesUnder(join(root, 'p/c/ns/pod/crash'))), ['binary']);
  });

  test('sidecar and temp names are reserved', async () => {
    await assert.rejects(local.create('a/b.meta.json', Readable.from([Buffer.from('x')]), {}), UnsafeKeyError);
    await assert.rejects(local.create('a/.scc-tmp-x', Readable.from([Buffer.from('x')]), {}), UnsafeKeyError);
  });
});

describe('gcs store specifics (real client, fake server)', () => {
  test('create-only goes on the wire as ifGenerationMatch=0; big bodies use resumable chunks', async () => {
    const before = fake.requests.length;
    await gcs.create('w/small/binary', Readable.from([Buffer.from('tiny')]), {});
    await gcs.create('w/large/binary', generatedStream(20 * MiB, 3), {});
    const reqs = fake.requests.slice(before);
    const small = reqs.find((r) => r.method === 'POST' && r.query.includes('uploadType=multipart'));
    assert.ok(small, 'small body uses a multipart upload');
    assert.match(small.query, /ifGenerationMatch=0/);
    const start = reqs.find((r) => r.method === 'POST' && r.query.includes('uploadType=resumable'));
    assert.ok(start);
    assert.match(start.query, /ifGenerationMatch=0/);
    assert.ok(reqs.filter((r) => r.method === 'PUT').length >= 3, '20 MiB in 8 MiB chunks');
  });

  test('transient 503/429 on upload are retried by the client and the object is written once', async () => {
    fake.faults.inject({ match: 'PUT /upload/storage/v1/b/evidence-bucket/o', status: 503, times: 1 });
    fake.faults.inject({ match: 'POST /upload/storage/v1/b/evidence-bucket/o', status: 429, times: 1 });
    const seen = fake.faults.calls.length;
    const r = await gcs.create('w/retry/binary', generatedStream(10 * MiB, 5), {});
    assert.equal(r.created, true);
    const injected = fake.faults.calls.slice(seen).map((c) => c.fault?.status).filter((x) => x !== undefined);
    assert.deepEqual(injected.sort(), [429, 503], 'both faults were hit (and retried past)');
    const o = fake.object(BUCKET, 'ctd/w/retry/binary');
    assert.equal(o?.size, 10 * MiB);
  });

  test('persistent 500 fails the create and leaves no object', async () => {
    fake.faults.inject({ match: 'PUT /upload/storage/v1/b/evidence-bucket/o', status: 500, times: Infinity });
    try {
      await assert.rejects(gcs.create('w/fail500/binary', generatedStream(10 * MiB, 5), {}));
    } finally {
      fake.faults.clear();
    }
    assert.equal(fake.object(BUCKET, 'ctd/w/fail500/binary'), undefined);
    assert.equal(await gcs.stat('w/fail500/binary'), null);
  });

  test('a connection dropped mid-upload: no object unless the client recovers the whole body', async () => {
    fake.faults.inject({ match: 'PUT /upload/storage/v1/b/evidence-bucket/o', drop: true, dropAfterBytes: 3 * MiB, times: Infinity });
    try {
      const seen = fake.faults.calls.length;
      await assert.rejects(gcs.create('w/drop/binary', generatedStream(12 * MiB, 9), {}));
      assert.ok(fake.faults.calls.slice(seen).some((c) => c.fault?.drop === true), 'the drop fault was hit');
    } finally {
      fake.faults.clear();
    }
    assert.equal(fake.object(BUCKET, 'ctd/w/drop/binary'), undefined);
    assert.equal(await gcs.stat('w/drop/binary'), null);
  });

  test('fake GCS serves the rest of the JSON API the client uses: paging, media with hashes, delete, delay', async () => {
    const storage = new Storage({ apiEndpoint: fake.url, projectId: 'scc-responder-test' });
    const bucket = storage.bucket(BUCKET);
    for (const n of ['a', 'b', 'c']) await fake.putObject(BUCKET, `paging/${n}`, Buffer.from(n));
    const [page1, next] = await bucket.getFiles({ prefix: 'paging/', maxResults: 2, autoPaginate: false });
    assert.deepEqual(page1.map((f) => f.name), ['paging/a', 'paging/b']);
    assert.ok(next);
    const [page2] = await bucket.getFiles({ ...(next as object), prefix: 'paging/', maxResults: 2, autoPaginate: false });
    assert.deepEqual(page2.map((f) => f.name), ['paging/c']);
    const [buf] = await bucket.file('paging/b').download(); // validates crc32c from x-goog-hash
    assert.equal(buf.toString(), 'b');
    fake.faults.inject({ match: 'DELETE /storage/v1/b/evidence-bucket/o/', delayMs: 50 });
    await bucket.file('paging/a').delete();
    assert.equal(fake.object(BUCKET, 'paging/a'), undefined);
    await assert.rejects(bucket.file('paging/a').delete(), (err: { code?: number }) => err.code === 404);
  });

  test('a foreign object without scc-complete is not reported as complete, and is not overwritten', async () => {
    await fake.putObject(BUCKET, 'ctd/w/foreign/binary', Buffer.from('someone else'), { owner: 'other' });
    assert.equal(await gcs.stat('w/foreign/binary'), null);
    const r = await gcs.create('w/foreign/binary', Readable.from([Buffer.from('ours')]), {});
    assert.equal(r.created, false);
    assert.equal(r.object.metadata['scc-complete'], undefined);
    assert.equal((await fake.read(BUCKET, 'ctd/w/foreign/binary')).toString(), 'someone else');
  });
});
