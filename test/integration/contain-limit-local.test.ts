// The blast-radius limit over the real local directory store: two "function instances" are
// two separately constructed stores (and limiters) on the same directory, racing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreActionLimiter } from '../../shared/contain/limiter.js';
import { LocalEvidenceStore } from '../../shared/ledger/local-store.js';

const NOW = new Date('2026-11-27T09:14:02.113Z');

describe('blast-radius limit on the local directory store', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'contain-limit-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('two instances on one directory never exceed the limit', async () => {
    const dir = join(root, 'race');
    const a = new StoreActionLimiter(new LocalEvidenceStore({ root: dir }));
    const b = new StoreActionLimiter(new LocalEvidenceStore({ root: dir }));
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? a : b).reserve('delete-critical', 4, `finding-${i}`, NOW)));
    const allowed = results.filter((r) => r.allowed);
    assert.equal(allowed.length, 4);
    assert.deepEqual(allowed.map((r) => r.slot).sort(), [0, 1, 2, 3]);
    const files = (await readdir(join(dir, '_ratelimit', 'delete-critical', '2026-11-27T09', 'slots'))).filter((f) => /^\d+\.json$/.test(f));
    assert.deepEqual(files.sort(), ['0.json', '1.json', '2.json', '3.json']);
    // A third instance constructed later sees the same count: the state survives instances.
    const c = new StoreActionLimiter(new LocalEvidenceStore({ root: dir }));
    const late = await c.peek('delete-critical', 4, 'finding-late', NOW);
    assert.equal(late.allowed, false);
    assert.equal(late.used, 4);
  });

  test('a namespace budget of a cluster: one directory per cluster, shared by the instances within it', async () => {
    const dir = join(root, 'scoped');
    const a = new StoreActionLimiter(new LocalEvidenceStore({ root: dir }));
    const b = new StoreActionLimiter(new LocalEvidenceStore({ root: dir }));
    const inCluster = (location: string) => ({ rule: 'r', cluster: { project: 'acme-prod', location, name: 'payments' }, namespace: 'payments' });
    assert.equal((await a.reserve(inCluster('us-central1'), 1, 'finding-1', NOW)).allowed, true);
    assert.equal((await b.reserve(inCluster('europe-west1'), 1, 'finding-2', NOW)).allowed, true, 'another location: its own budget');
    assert.equal((await b.reserve(inCluster('us-central1'), 1, 'finding-3', NOW)).allowed, false, 'the same cluster: full');
    const clusters = await readdir(join(dir, '_ratelimit', 'r', 'cluster', 'acme-prod'));
    assert.deepEqual(clusters.sort(), ['europe-west1', 'us-central1']);
    const files = await readdir(join(dir, '_ratelimit', 'r', 'cluster', 'acme-prod', 'us-central1', 'payments', 'namespace', 'payments', '2026-11-27T09', 'slots'));
    assert.deepEqual(files.filter((f) => /^\d+\.json$/.test(f)), ['0.json']);
  });

  test('a redelivery seen by the other instance reuses the slot', async () => {
    const dir = join(root, 'redelivery');
    const a = new StoreActionLimiter(new LocalEvidenceStore({ root: dir }));
    const b = new StoreActionLimiter(new LocalEvidenceStore({ root: dir }));
    assert.equal((await a.reserve('r', 1, 'finding-x\ndeletePod\npod:u1', NOW)).allowed, true);
    await a.settle(); // the subject claim is written after the action (the executor waits for it)
    const again = await b.reserve('r', 1, 'finding-x\ndeletePod\npod:u1', NOW);
    assert.equal(again.allowed, true);
    assert.equal(again.reused, true);
    assert.equal((await b.reserve('r', 1, 'finding-y\ndeletePod\npod:u2', NOW)).allowed, false);
  });
});
