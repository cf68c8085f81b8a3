// The blast-radius limit over the Cloud Storage store (the production shared state): two
// function instances = two Storage clients and two stores on one bucket, racing through
// the fake GCS JSON API (create-only = ifGenerationMatch=0, answered 412 for the loser).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Storage } from '@google-cloud/storage';
import { StoreActionLimiter } from '../../shared/contain/limiter.js';
import { GcsEvidenceStore } from '../../shared/gcp/gcs-store.js';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';

const BUCKET = 'evidence-bucket';
const NOW = new Date('2026-11-27T09:14:02.113Z');
let fake: FakeGcs;

function instance(): StoreActionLimiter {
  const storage = new Storage({ apiEndpoint: fake.url, projectId: 'scc-responder-test', retryOptions: { maxRetries: 0 } });
  return new StoreActionLimiter(new GcsEvidenceStore({ storage, bucket: BUCKET, prefix: 'ctd' }));
}

before(async () => {
  fake = await startFakeGcs({ buckets: [BUCKET] });
});
after(() => fake.close());

describe('blast-radius limit on the Cloud Storage store', () => {
  test('two instances taking turns on one bucket share the count; slots live under the store prefix', async () => {
    const a = instance();
    const b = instance();
    const results = [];
    for (let i = 0; i < 5; i += 1) results.push(await (i % 2 === 0 ? a : b).reserve('turns', 3, `finding-${i}`, NOW));
    assert.deepEqual(results.map((r) => r.allowed), [true, true, true, false, false]);
    const slots = fake.objects(BUCKET).map((o) => o.name).filter((n) => n.startsWith('ctd/_ratelimit/turns/') && n.includes('/slots/')).sort();
    assert.deepEqual(slots, [0, 1, 2].map((n) => `ctd/_ratelimit/turns/2026-11-27T09/slots/${n}.json`));
    // A redelivery seen by the other instance reuses its slot (once the claim, written after the action, is in).
    await a.settle();
    const again = await b.reserve('turns', 3, 'finding-0', NOW);
    assert.equal(again.reused, true);
    assert.equal(again.slot, 0);
  });

  test('a workload budget of a cluster: its own objects per cluster under the prefix, shared within the cluster', async () => {
    const a = instance();
    const b = instance();
    const inCluster = (project: string) => ({ rule: 'scoped', cluster: { project, location: 'us-central1', name: 'payments' }, workload: 'payments/Deployment/web' });
    assert.equal((await a.reserve(inCluster('acme-prod'), 1, 'finding-1', NOW)).allowed, true);
    assert.equal((await b.reserve(inCluster('acme-dr'), 1, 'finding-2', NOW)).allowed, true, 'another project: its own budget');
    assert.equal((await b.reserve(inCluster('acme-prod'), 1, 'finding-3', NOW)).allowed, false, 'the same cluster, seen by the other instance: full');
    const slots = fake.objects(BUCKET).map((o) => o.name).filter((n) => n.startsWith('ctd/_ratelimit/scoped/') && n.includes('/slots/')).sort();
    assert.equal(slots.length, 2, slots.join('\n'));
    for (const [i, project] of ['acme-dr', 'acme-prod'].entries()) {
      assert.match(slots[i] ?? '', new RegExp(`^ctd/_ratelimit/scoped/cluster/${project}/us-central1/payments/workload/payments_Deployment_web-h[0-9a-f]{16}/2026-11-27T09/slots/0\\.json$`));
    }
  });

  // The race depends on the fake honouring ifGenerationMatch=0 for concurrent multipart
  // uploads; test/support/fake-gcs.ts checks it before copying the media and not again at
  // commit, so concurrent creates of one name all "succeed" there (reported). Real GCS and
  // the local store (contain-limit-local.test.ts) decide the race correctly.
  test('two instances racing on one bucket never exceed the limit', async () => {
    const a = instance();
    const b = instance();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).reserve('delete-critical', 3, `finding-${i}`, NOW)));
    const allowed = results.filter((r) => r.allowed);
    assert.equal(allowed.length, 3);
    assert.deepEqual(allowed.map((r) => r.slot).sort(), [0, 1, 2]);
    const slots = fake.objects(BUCKET).map((o) => o.name).filter((n) => n.startsWith('ctd/_ratelimit/delete-critical/') && n.includes('/slots/')).sort();
    assert.deepEqual(slots, [0, 1, 2].map((n) => `ctd/_ratelimit/delete-critical/2026-11-27T09/slots/${n}.json`));
    const late = await instance().peek('delete-critical', 3, 'finding-late', NOW);
    assert.equal(late.allowed, false);
  });
});
