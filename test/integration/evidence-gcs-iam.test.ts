// The Cloud Storage store against the permissions it is deployed with. The roles come from
// shared/gcp-permissions.ts, the table the infra test holds Terraform's grants equal to, and
// the GCS fake refuses (403, as Cloud Storage does) every request those roles do not permit.
// So "IAM, code and tests agree" is checked end to end: a store call that needs more than
// the deployed roles fails here, not only in production.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Storage } from '@google-cloud/storage';
import { classifyError } from '../../shared/common/errors.js';
import { StoreActionLimiter } from '../../shared/contain/limiter.js';
import { GcsEvidenceStore } from '../../shared/gcp/gcs-store.js';
import { evidenceBucketRoles } from '../../shared/gcp-permissions.js';
import { putJson, readJson, recordMetadata } from '../../shared/ledger/json.js';
import { copyMetadata, findingKeys } from '../../shared/ledger/layout.js';
import { createIdempotency } from '../../shared/record/idempotency.js';
import { STORAGE_ROLE_PERMISSIONS, startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';
import { generatedStream } from '../support/fake-kube.js';

const MiB = 1024 * 1024;
const BUCKET = 'evidence-bucket';
const PARTS = { findingId: 'f-iam', projectId: 'acme', cluster: { project: 'acme', name: 'payments' }, namespace: 'shop', pod: 'checkout-1' };

function clientFor(fake: FakeGcs): Storage {
  return new Storage({ apiEndpoint: fake.url, projectId: 'scc-responder-test', retryOptions: { maxRetries: 1, retryDelayMultiplier: 1.1, maxRetryDelay: 1, totalTimeout: 10, autoRetry: true } });
}

let fake: FakeGcs;
let store: GcsEvidenceStore;

before(async () => {
  fake = await startFakeGcs({ buckets: [BUCKET], iam: { roles: evidenceBucketRoles() } });
  store = new GcsEvidenceStore({ storage: clientFor(fake), bucket: BUCKET, prefix: 'ctd' });
});
after(() => fake.close());

describe('the evidence bucket with the deployed roles', () => {
  test('the granted roles carry create, get and list, and nothing that rewrites an object (no update, no delete)', () => {
    const roles = evidenceBucketRoles();
    assert.ok(roles.length > 0, 'the table grants roles on the evidence bucket');
    for (const role of roles) assert.ok(role in STORAGE_ROLE_PERMISSIONS, `the fake knows what ${role} permits`);
    const permissions = new Set(roles.flatMap((r) => STORAGE_ROLE_PERMISSIONS[r] ?? []));
    assert.deepEqual([...permissions].sort(), ['storage.objects.create', 'storage.objects.get', 'storage.objects.list']);
  });

  test('every kind of store call the responder makes succeeds: evidence, manifest, limiter slots, claims, report', async () => {
    const keys = findingKeys(PARTS);
    const binary = await store.create(keys.binary, generatedStream(6 * MiB, 3), recordMetadata('binary', { 'scc-finding': 'f' }));
    assert.equal(binary.created, true, 'resumable upload of the binary');
    const facts = { sha256: 'a'.repeat(64), size: 6 * MiB, truncated: false, verdict: 'matches' };
    const manifest = await putJson(store, keys.manifest, 'manifest', { schema: 'm' }, copyMetadata(facts), { pretty: true });
    assert.equal(manifest.created, true);
    assert.equal((await store.stat(keys.manifest))?.metadata['scc-sha256'], facts.sha256, 'the hashes are on the manifest, set at its creation');
    assert.deepEqual(await readJson(store, keys.manifest), { state: 'ok', value: { schema: 'm' } });

    const limiter = new StoreActionLimiter(store);
    const now = new Date('2026-12-01T10:00:00Z');
    assert.equal((await limiter.reserve('r', 1, 'a', now)).allowed, true);
    assert.equal((await limiter.reserve('r', 1, 'a', now)).reused, true);
    assert.equal((await limiter.reserve('r', 1, 'b', now)).allowed, false);

    const idem = createIdempotency({ store });
    const input = { findingName: 'organizations/1/sources/2/findings/f-iam', folder: keys.folder, runId: 'run-1' };
    const first = await idem.run(input, () => Promise.resolve('done'), () => ({ complete: { report: { ok: true }, markdown: '# ok\n' } }));
    assert.equal(first.status, 'executed');
    const again = await idem.run({ ...input, runId: 'run-2' }, () => Promise.resolve('again'), () => ({ complete: { report: {} } }));
    assert.equal(again.status, 'already-completed');

    assert.deepEqual(fake.denied, [], 'no call needed a permission the deployed roles lack');
  });

  test('negative control: a metadata update after the upload (the old design) is refused 403 with these roles', async () => {
    const keys = findingKeys({ ...PARTS, findingId: 'f-patch' });
    await store.create(keys.binary, generatedStream(1024, 4), {});
    const file = clientFor(fake).bucket(BUCKET).file(`ctd/${keys.binary}`);
    await assert.rejects(file.setMetadata({ metadata: { 'scc-sha256': 'x' } }), (err: { code?: number }) => err.code === 403);
    assert.equal(fake.denied.at(-1)?.permission, 'storage.objects.update');
    assert.equal((await store.stat(keys.binary))?.metadata['scc-sha256'], undefined);
  });

  test('negative control: without objectCreator the create is refused, classified permanent, and nothing is stored', async () => {
    const viewerOnly = await startFakeGcs({ buckets: [BUCKET], iam: { roles: ['roles/storage.objectViewer'] } });
    try {
      const s = new GcsEvidenceStore({ storage: clientFor(viewerOnly), bucket: BUCKET });
      const err = await s.create('a/b/binary', generatedStream(1024, 5), {}).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err !== undefined, 'the create was refused');
      const c = classifyError(err);
      assert.equal(c.kind, 'permanent');
      assert.equal(c.code, 403);
      assert.equal(viewerOnly.objects().length, 0);
      assert.equal(viewerOnly.denied[0]?.permission, 'storage.objects.create');
    } finally {
      await viewerOnly.close();
    }
  });
});
