// snapshotBinary end to end: the REAL @kubernetes/client-node (through our Workloads adapter)
// against the fake API server's WebSocket exec, into the REAL @google-cloud/storage against
// the fake GCS server, and into the local directory store.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import shellQuote from 'shell-quote';
import { Storage } from '@google-cloud/storage';
import type { Incident } from '../../shared/finding/types.js';
import type { EvidenceStore, Workloads } from '../../shared/ports.js';
import { GcsEvidenceStore } from '../../shared/gcp/gcs-store.js';
import { assertSafeKey } from '../../shared/ledger/keys.js';
import { findingKeys, META } from '../../shared/ledger/layout.js';
import { LocalEvidenceStore } from '../../shared/ledger/local-store.js';
import { snapshotBinary, type SnapshotInput } from '../../shared/evidence/snapshot.js';
import type { EvidenceResult, SnapshotPolicy } from '../../shared/evidence/types.js';
import { workloadsFromKubeConfig } from '../../shared/kube/client-node-workloads.js';
import { execSpares } from '../../shared/kube/exec-spares.js';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';
import { evidenceBucketRoles } from '../../shared/gcp-permissions.js';
import { sha256OfGenerated, startFakeKube, type FakeKube } from '../support/fake-kube.js';

const MiB = 1024 * 1024;
const BIG = 64 * MiB;
const BUCKET = 'evidence';
const DEBUG_IMAGE = 'busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

let kube: FakeKube;
let gcsFake: FakeGcs;
let workloads: Workloads;
let base: string;
let root: string;
let local: LocalEvidenceStore;
let gcs: GcsEvidenceStore;
let seq = 0;

const policy = (over: Partial<SnapshotPolicy> = {}): SnapshotPolicy => ({
  maxBytes: 512 * MiB,
  timeoutMs: 60_000,
  debugContainer: { enabled: false, image: DEBUG_IMAGE },
  ...over,
});

function incident(over: { container?: string; path?: string; sha256?: string | undefined; partial?: number; pod?: string; findingId?: string; cluster?: string } = {}): Incident {
  seq += 1;
  const findingId = over.findingId ?? `f${seq}${Date.now().toString(16)}`;
  const cluster = over.cluster ?? 'payments';
  return {
    findingName: `organizations/1/sources/2/findings/${findingId}`,
    findingId,
    apiVersion: 'v1',
    category: 'Execution: Modified Malicious Binary Executed',
    state: 'ACTIVE',
    severity: 'CRITICAL',
    eventTime: '2026-11-27T09:14:02.113Z',
    resourceName: `//container.googleapis.com/projects/acme/locations/us-central1/clusters/${cluster}`,
    cluster: { project: 'acme', location: 'us-central1', locationKind: 'region', name: cluster, resourceName: `//container.googleapis.com/projects/acme/locations/us-central1/clusters/${cluster}` },
    projectId: 'acme',
    namespace: 'shop',
    pod: over.pod ?? 'checkout-7d9f8b6c5d-q2x8z',
    podLabels: {},
    container: over.container ?? 'app',
    imageUri: 'us-docker.pkg.dev/acme/apps/checkout:2.14.1',
    node: 'gke-node-a',
    binary: {
      path: over.path ?? '/usr/bin/evil',
      ...('sha256' in over ? (over.sha256 === undefined ? {} : { sha256: over.sha256 }) : { sha256: sha256OfGenerated(BIG, 1) }),
      partiallyHashed: over.partial !== undefined,
      ...(over.partial === undefined ? {} : { hashedSize: over.partial }),
    },
    args: [],
    mitre: { techniques: [] },
    envVariables: [],
    securityMarks: {},
    provenance: {},
  };
}

const collector = { identity: 'responder@acme.iam.gserviceaccount.com', version: '0.1.0-test' };

function run(store: EvidenceStore, inc: Incident, p: SnapshotPolicy = policy(), extra: Partial<SnapshotInput> = {}): Promise<EvidenceResult> {
  return snapshotBinary({ incident: inc, workloads, store, policy: p, collector, ...extra });
}

async function storedSha(store: EvidenceStore, key: string): Promise<string> {
  const h = createHash('sha256');
  if (store === local) {
    for await (const c of createReadStream(join(root, key))) h.update(c as Buffer);
  } else {
    const o = gcsFake.object(BUCKET, `ctd/${key}`);
    assert.ok(o, `gcs object ctd/${key}`);
    for await (const c of createReadStream(o.file)) h.update(c as Buffer);
  }
  return h.digest('hex');
}

/** The finding's folder, spelled out (the fixtures' names are all safe segments, kept verbatim). */
function folderOf(inc: Incident): string {
  return ['acme', inc.cluster?.name ?? '', 'shop', inc.pod ?? '', inc.findingId].join('/');
}

/** Every key the store holds under the finding's directory (complete or not, incl. temp files). */
async function everythingUnder(store: EvidenceStore, inc: Incident): Promise<string[]> {
  const dir = folderOf(inc);
  if (store === local) {
    const out: string[] = [];
    const walk = async (d: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(d, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (e.isDirectory()) await walk(join(d, e.name), `${rel}/${e.name}`);
        else out.push(`${rel}/${e.name}`);
      }
    };
    await walk(join(root, dir), dir);
    return out;
  }
  return gcsFake.objects(BUCKET).map((o) => o.name).filter((n) => n.startsWith(`ctd/${dir}/`));
}

async function assertNothingStored(store: EvidenceStore, inc: Incident): Promise<void> {
  const keys = { binary: `${folderOf(inc)}/binary`, manifest: `${folderOf(inc)}/manifest.json` };
  assert.equal(await store.stat(keys.binary), null, 'no complete binary');
  assert.equal(await store.stat(keys.manifest), null, 'no manifest');
  assert.deepEqual(await everythingUnder(store, inc), [], 'no partial, temp or sidecar file either');
}

function assertFailed(r: EvidenceResult): asserts r is Extract<EvidenceResult, { outcome: 'failed' }> {
  assert.equal(r.outcome, 'failed', `expected a failure, got ${JSON.stringify(r).slice(0, 400)}`);
}
function assertStored(r: EvidenceResult): asserts r is Extract<EvidenceResult, { outcome: 'stored' }> {
  assert.equal(r.outcome, 'stored', `expected stored, got ${JSON.stringify(r).slice(0, 600)}`);
}

let kc: KubeConfig;

before(async () => {
  kube = await startFakeKube();
  kc = new KubeConfig();
  kc.loadFromString(kube.kubeconfigYaml());
  workloads = workloadsFromKubeConfig(kc, { debugPollMs: { first: 5, max: 20 } });
  kube.addPod({
    namespace: 'shop',
    name: 'checkout-7d9f8b6c5d-q2x8z',
    uid: 'pod-uid-1',
    nodeName: 'gke-node-a',
    containers: [
      {
        name: 'app',
        image: 'us-docker.pkg.dev/acme/apps/checkout:2.14.1',
        imageID: 'us-docker.pkg.dev/acme/apps/checkout@sha256:4b1e',
        files: {
          '/usr/bin/evil': { generated: { size: BIG, seed: 1 } },
          '/usr/bin/small': { content: Buffer.from('small binary\n') },
          '/usr/bin/empty': { content: Buffer.alloc(0) },
          '/usr/bin/changed': { generated: { size: MiB, seed: 3 } },
          '/etc/shadow-ish': { content: Buffer.from('x'), unreadable: true },
        },
      },
      { name: 'tar-only', tools: ['tar'], files: { '/usr/bin/evil': { generated: { size: BIG, seed: 1 } } } },
      { name: 'distroless', tools: [], files: { '/usr/bin/evil': { generated: { size: 2 * MiB, seed: 2 } } } },
      { name: 'stopped', running: false, files: { '/usr/bin/evil': { content: Buffer.from('x') } } },
    ],
  });
  // The roles Terraform grants the function on the bucket (the infra test holds Terraform to the same table).
  gcsFake = await startFakeGcs({ buckets: [BUCKET], iam: { roles: evidenceBucketRoles() } });
  base = await mkdtemp(join(tmpdir(), 'evidence-snapshot-'));
  root = join(base, 'root');
  local = new LocalEvidenceStore({ root });
  const storage = new Storage({ apiEndpoint: gcsFake.url, projectId: 'acme', retryOptions: { maxRetries: 2, maxRetryDelay: 1, totalTimeout: 20, retryDelayMultiplier: 1.1, autoRetry: true } });
  gcs = new GcsEvidenceStore({ storage, bucket: BUCKET, prefix: 'ctd' });
});

after(async () => {
  await kube.close();
  await gcsFake.close();
  await rm(base, { recursive: true, force: true });
});

const stores = (): [string, EvidenceStore][] => [
  ['local', local],
  ['gcs', gcs],
];

for (const name of ['local', 'gcs'] as const) {
  const store = (): EvidenceStore => (name === 'local' ? local : gcs);

  describe(`snapshot into the ${name} store`, () => {
    test('64 MiB by cat: streamed, hash matches the finding, manifest next to it', async () => {
      const inc = incident();
      const r = await run(store(), inc);
      assertStored(r);
      assert.equal(r.method, 'cat');
      assert.equal(r.trust, 'container-tool');
      assert.equal(r.hash.verdict, 'matches');
      assert.equal(r.hash.compared, 'whole-file');
      assert.equal(r.hash.size, BIG);
      assert.equal(r.object.size, BIG);
      assert.deepEqual(r.attempts.map((a) => [a.method, a.outcome]), [['cat', 'ok']]);
      assert.deepEqual(r.attempts[0]?.command, ['cat', '--', '/usr/bin/evil']);
      assert.equal(await storedSha(store(), r.keys?.binary ?? ''), sha256OfGenerated(BIG, 1));
      assert.equal(r.object.metadata['scc-complete'], 'true');
      assert.equal(r.object.metadata['scc-finding'], inc.findingName);
      assert.equal(r.object.metadata['scc-record'], 'binary');
      // Hashes are known only at the end: they ride on the manifest, created after the binary.
      assert.equal(r.object.metadata['scc-sha256'], undefined);
      assert.equal(r.manifestObject?.metadata['scc-sha256'], sha256OfGenerated(BIG, 1));
      assert.equal(r.manifestObject?.metadata['scc-record'], 'manifest');
      assert.deepEqual(r.warnings, []);
      const manifest = JSON.parse((await store().readText(r.keys?.manifest ?? '')) ?? 'null') as Record<string, unknown>;
      assert.deepEqual(manifest, JSON.parse(JSON.stringify(r.manifest)));
      assert.equal(r.manifest.podUid, 'pod-uid-1');
      assert.equal(r.manifest.imageDigest, 'us-docker.pkg.dev/acme/apps/checkout@sha256:4b1e');
      assert.equal(r.manifest.node, 'gke-node-a');
      assert.equal(r.manifest.method, 'cat');
      assert.equal(r.manifest.trust, 'container-tool');
      assert.deepEqual(r.manifest.collector, collector);
      assert.ok(r.manifest.collection.startedAt <= r.manifest.collection.endedAt);
      assert.deepEqual(r.manifest.path, { requested: '/usr/bin/evil', read: '/usr/bin/evil' });
    });

    test('64 MiB by tar when the image has no cat: unpacked on the fly, hash matches', async () => {
      const inc = incident({ container: 'tar-only' });
      const r = await run(store(), inc);
      assertStored(r);
      assert.equal(r.method, 'tar');
      assert.equal(r.trust, 'container-tool');
      assert.equal(r.hash.verdict, 'matches');
      assert.deepEqual(r.attempts.map((a) => [a.method, a.outcome]), [['cat', 'tool-missing'], ['tar', 'ok']]);
      assert.equal(r.attempts[0]?.exitCode, null, 'containerd reports no exit code for a missing executable');
      assert.match(r.attempts[0]?.reason ?? '', /executable file not found/);
      assert.deepEqual(r.attempts[1]?.command, ['tar', 'cf', '-', '/usr/bin/evil']);
      assert.equal(r.object.size, BIG);
      assert.equal(await storedSha(store(), r.keys?.binary ?? ''), sha256OfGenerated(BIG, 1));
    });

    test('a dropped exec stream is a transient failure and leaves no complete object', async () => {
      const inc = incident();
      kube.faults.inject({ match: 'EXEC shop/checkout-7d9f8b6c5d-q2x8z/app', drop: true, dropAfterBytes: 6 * MiB });
      const seen = kube.faults.calls.length;
      const r = await run(store(), inc);
      assertFailed(r);
      assert.equal(r.failure, 'stream-dropped', r.reason);
      assert.equal(r.kind, 'transient');
      assert.ok(kube.faults.calls.slice(seen).some((c) => c.fault?.drop === true), 'the exec was cut by the fake');
      assert.equal(r.attempts[0]?.exitCode, null);
      await assertNothingStored(store(), inc);
    });

    test('the same finding twice: the second run reports the stored copy and writes nothing', async () => {
      const inc = incident({ path: '/usr/bin/small', sha256: createHash('sha256').update('small binary\n').digest('hex') });
      const first = await run(store(), inc);
      assertStored(first);
      const execsBefore = kube.requests.filter((q) => q.path.endsWith('/exec')).length;
      const second = await run(store(), inc);
      assert.equal(second.outcome, 'exists');
      if (second.outcome !== 'exists') return;
      assert.equal(second.object.uri, first.object.uri);
      assert.deepEqual(second.manifest, first.manifest);
      assert.equal(kube.requests.filter((q) => q.path.endsWith('/exec')).length, execsBefore, 'no second exec');
      assert.deepEqual((await everythingUnder(store(), inc)).filter((k) => !k.endsWith('.meta.json')).length, 2, 'binary + manifest only');
    });

    test('a first delivery (it created claim-0) does not ask the store for an earlier copy; a copy made meanwhile still wins', async () => {
      const statsOf = (inc: Incident, firstDelivery?: () => boolean | Promise<boolean>) => {
        const binary = findingKeys(inc).binary;
        let stats = 0;
        const counted: EvidenceStore = Object.assign(Object.create(store()) as EvidenceStore, {
          stat: (key: string, signal?: AbortSignal) => {
            if (key === binary) stats += 1;
            return store().stat(key, signal);
          },
        });
        return { result: run(counted, inc, policy(), firstDelivery ? { firstDelivery } : {}), stats: () => stats };
      };
      const small = { path: '/usr/bin/small', sha256: createHash('sha256').update('small binary\n').digest('hex') };
      const first = statsOf(incident(small), () => true);
      assertStored(await first.result);
      assert.equal(first.stats(), 0, 'no read for an earlier copy');
      // Negative control: not known to be first, the store is asked as before.
      const unknown = statsOf(incident(small));
      assertStored(await unknown.result);
      assert.equal(unknown.stats(), 1);
      // The claim still in flight when the snapshot starts: its answer is awaited, not the store read.
      const pendingFirst = statsOf(incident(small), () => new Promise<boolean>((r) => setImmediate(r, true)));
      assertStored(await pendingFirst.result);
      assert.equal(pendingFirst.stats(), 0, 'a claim answered later as first: no read for an earlier copy');
      const pendingNot = statsOf(incident(small), () => new Promise<boolean>((r) => setImmediate(r, false)));
      assertStored(await pendingNot.result);
      assert.equal(pendingNot.stats(), 1, 'a claim answered later as not first: the store is asked');
      // A delivery whose claim failed stored a copy; the first claimer copies again and keeps that one.
      const inc = incident(small);
      assertStored(await run(store(), inc));
      const again = await run(store(), inc, policy(), { firstDelivery: () => true });
      assert.equal(again.outcome, 'exists', again.outcome === 'failed' ? again.reason : '');
      assert.equal((await everythingUnder(store(), inc)).filter((k) => !k.endsWith('.meta.json')).length, 2, 'binary + manifest only');
    });

    test('a first delivery that cannot copy now (pod gone) still reports an earlier copy', async () => {
      const inc = incident({ pod: 'checkout-gone' });
      const keys = findingKeys(inc);
      await store().create(keys.binary, Readable.from([Buffer.from('earlier copy')]), { [META.finding]: inc.findingName });
      const r = await run(store(), inc, policy(), { firstDelivery: () => true });
      assert.equal(r.outcome, 'exists', r.outcome === 'failed' ? `${r.failure}: ${r.reason}` : '');
      // Negative control: with no earlier copy the pod's problem is the answer.
      const none = await run(store(), incident({ pod: 'checkout-gone' }), policy(), { firstDelivery: () => true });
      assertFailed(none);
      assert.equal(none.failure, 'pod-gone');
    });

    test("a collector's binary stored without its volatile.json, and the pod gone: the stored binary is reported, with why nothing was collected again", async () => {
      const inc = incident({ pod: 'checkout-gone' });
      const keys = findingKeys(inc);
      await store().create(keys.binary, Readable.from([Buffer.from('earlier copy')]), { [META.finding]: inc.findingName, [META.method]: 'debug-container' });
      const r = await run(store(), inc, policy(), { firstDelivery: () => false });
      assert.equal(r.outcome, 'exists', r.outcome === 'failed' ? `${r.failure}: ${r.reason}` : '');
      if (r.outcome !== 'exists') return;
      assert.ok(r.warnings.some((w) => /no volatile\.json beside it.*no new collection can be made now/.test(w)), r.warnings.join('\n'));
      // Negative control: a container tool's copy needs no volatile.json; no such warning.
      const other = incident({ pod: 'checkout-gone' });
      await store().create(findingKeys(other).binary, Readable.from([Buffer.from('earlier copy')]), { [META.finding]: other.findingName, [META.method]: 'cat' });
      const plain = await run(store(), other, policy(), { firstDelivery: () => false });
      assert.equal(plain.outcome, 'exists');
      if (plain.outcome === 'exists') assert.ok(!plain.warnings.some((w) => /volatile\.json/.test(w)), plain.warnings.join('\n'));
    });

    test('two concurrent runs of the same finding write one object', async () => {
      const inc = incident({ path: '/usr/bin/changed', sha256: sha256OfGenerated(MiB, 3) });
      const results = await Promise.all([run(store(), inc), run(store(), inc)]);
      const outcomes = results.map((r) => r.outcome).sort();
      assert.deepEqual(outcomes, ['exists', 'stored'], JSON.stringify(results.map((r) => (r.outcome === 'failed' ? r.reason : r.outcome))));
      const all = (await everythingUnder(store(), inc)).filter((k) => !k.endsWith('.meta.json'));
      assert.equal(all.length, 2, `one binary and one manifest: ${all.join(', ')}`);
      const loser = results.find((r) => r.outcome === 'exists');
      const winner = results.find((r) => r.outcome === 'stored');
      assert.ok(loser?.outcome === 'exists' && winner?.outcome === 'stored');
      assert.equal(loser.object.uri, winner.object.uri);
    });

    test('a timeout (exec hangs) fails transiently and leaves nothing', async () => {
      const inc = incident({ path: '/usr/bin/small' });
      kube.faults.inject({ match: 'EXEC shop/checkout-7d9f8b6c5d-q2x8z/app', hang: true });
      const r = await run(store(), inc, policy({ timeoutMs: 1500 }));
      assertFailed(r);
      assert.equal(r.failure, 'timeout');
      assert.equal(r.kind, 'transient');
      await assertNothingStored(store(), inc);
    });

  });
}

describe('snapshot outcomes (local store unless stated)', () => {
  test('partially hashed finding: the first hashedSize bytes are compared', async () => {
    const r = await run(local, incident({ sha256: sha256OfGenerated(BIG, 1, 1 * MiB), partial: 1 * MiB, path: '/usr/bin/evil' }));
    assertStored(r);
    assert.equal(r.hash.compared, 'prefix');
    assert.equal(r.hash.verdict, 'matches');
    assert.deepEqual(r.hash.prefix, { bytes: MiB, sha256: sha256OfGenerated(BIG, 1, MiB) });
    assert.equal(r.hash.sha256, sha256OfGenerated(BIG, 1));
    assert.deepEqual(r.manifest.hashes.prefix, { bytes: MiB, sha256: sha256OfGenerated(BIG, 1, MiB) });
  });

  test('partially hashed finding whose prefix no longer matches: differs', async () => {
    const r = await run(local, incident({ sha256: sha256OfGenerated(BIG, 9, 4096), partial: 4096 }));
    assertStored(r);
    assert.equal(r.hash.compared, 'prefix');
    assert.equal(r.hash.verdict, 'differs');
    assert.equal(r.hash.significant, true);
  });

  test('a binary changed after detection: stored, verdict differs, flagged significant', async () => {
    const r = await run(local, incident({ path: '/usr/bin/changed', sha256: sha256OfGenerated(MiB, 4) }));
    assertStored(r);
    assert.equal(r.hash.verdict, 'differs');
    assert.equal(r.hash.significant, true);
    assert.equal(r.manifest.verdict, 'differs');
    assert.equal(r.manifest.significant, true);
    assert.equal(r.manifestObject?.metadata['scc-verdict'], 'differs');
    assert.match(r.hash.explanation, /changed again after detection|lied/);
  });

  test('finding without a hash: stored, verdict finding-has-no-hash', async () => {
    const r = await run(local, incident({ path: '/usr/bin/small', sha256: undefined }));
    assertStored(r);
    assert.equal(r.hash.verdict, 'finding-has-no-hash');
  });

  test('an empty file is stored as an empty object', async () => {
    const r = await run(gcs, incident({ path: '/usr/bin/empty', sha256: createHash('sha256').digest('hex') }));
    assertStored(r);
    assert.equal(r.object.size, 0);
    assert.equal(r.hash.verdict, 'matches');
  });

  test('size cap: the copy stops at maxBytes, is stored and marked truncated everywhere', async () => {
    for (const [, store] of stores()) {
      const r = await run(store, incident(), policy({ maxBytes: 3 * MiB }));
      assertStored(r);
      assert.equal(r.object.size, 3 * MiB);
      assert.equal(r.hash.truncated, true);
      assert.equal(r.hash.verdict, 'truncated');
      assert.equal(r.manifest.truncated, true);
      assert.equal(r.manifestObject?.metadata['scc-truncated'], 'true');
      assert.equal(r.attempts[0]?.outcome, 'truncated');
      assert.equal(r.hash.sha256, sha256OfGenerated(BIG, 1, 3 * MiB));
    }
  });

  test('file missing: permanent failure, no tar retry, nothing stored', async () => {
    for (const [, store] of stores()) {
      const inc = incident({ path: '/usr/bin/gone' });
      const r = await run(store, inc);
      assertFailed(r);
      assert.equal(r.failure, 'file-missing');
      assert.equal(r.kind, 'permanent');
      assert.deepEqual(r.attempts.map((a) => a.method), ['cat']);
      assert.match(r.reason, /does not exist/);
      await assertNothingStored(store, inc);
    }
  });

  test('permission denied', async () => {
    const inc = incident({ path: '/etc/shadow-ish' });
    const r = await run(local, inc);
    assertFailed(r);
    assert.equal(r.failure, 'permission-denied');
    await assertNothingStored(local, inc);
  });

  test('distroless without the debug fallback: no copy, says why, gives shell-quoted commands', async () => {
    const writesBefore = kube.writes.length;
    for (const [, store] of stores()) {
      const inc = incident({ container: 'distroless', path: "/usr/bin/evil; rm -rf / $(id)'" });
      const r = await run(store, inc);
      assertFailed(r);
      assert.equal(r.failure, 'no-tools');
      assert.equal(r.kind, 'permanent');
      assert.deepEqual(r.attempts.map((a) => [a.method, a.outcome]), [['cat', 'tool-missing'], ['tar', 'tool-missing']]);
      assert.match(r.reason, /neither cat nor tar/);
      assert.match(r.reason, /off for this rule/);
      assert.ok(r.manualCommands && r.manualCommands.length === 3);
      const [creds, debug, copy] = r.manualCommands;
      assert.equal(creds, 'gcloud container clusters get-credentials payments --region us-central1 --project acme');
      // What a shell would see: exactly the intended argv, the hostile path one inert word.
      assert.deepEqual(shellQuote.parse(debug ?? ''), ['kubectl', 'debug', '--namespace', 'shop', 'checkout-7d9f8b6c5d-q2x8z', '--image', DEBUG_IMAGE, '--target', 'distroless', '--container', 'scc-evidence', '--profile', 'general', '--', 'sleep', '600']);
      const [copyCmd, rest] = (copy ?? '').split(' > ');
      assert.deepEqual(shellQuote.parse(copyCmd ?? ''), ['kubectl', 'exec', '--namespace', 'shop', 'checkout-7d9f8b6c5d-q2x8z', '--container', 'scc-evidence', '--', 'cat', '--', "/proc/1/root/usr/bin/evil; rm -rf / $(id)'"]);
      assert.equal(rest, 'evidence.bin && sha256sum evidence.bin');
      await assertNothingStored(store, inc);
    }
    assert.equal(kube.writes.length, writesBefore, 'no ephemeral container was added');
  });

  test('distroless with the trusted collector: pinned image, /proc/1/root (no process runs the file), trusted tool', async () => {
    for (const [, store] of stores()) {
      const before = kube.writes.length;
      const inc = incident({ container: 'distroless', sha256: sha256OfGenerated(2 * MiB, 2) });
      const r = await run(store, inc, policy({ debugContainer: { enabled: true, image: DEBUG_IMAGE } }));
      assertStored(r);
      assert.equal(r.method, 'debug-container');
      assert.equal(r.trust, 'pinned-debug-image');
      assert.equal(r.hash.verdict, 'matches');
      // The collector runs first: the container's own tools are never asked.
      assert.deepEqual(r.attempts.map((a) => [a.method, a.outcome]), [['debug-container', 'ok']]);
      assert.deepEqual(r.attempts[0]?.command, ['cat', '--', '/proc/1/root/usr/bin/evil']);
      assert.match(r.attempts[0]?.container ?? '', /^scc-evidence-[0-9a-f]{8}-[0-9a-f]{6}$/);
      assert.equal(r.manifest.tool.image, DEBUG_IMAGE);
      const patch = kube.writes.slice(before).find((w) => w.method === 'PATCH' && w.path.endsWith('/ephemeralcontainers'));
      assert.ok(patch, 'an ephemeral container was added');
      const body = JSON.stringify(patch.body);
      assert.ok(body.includes(DEBUG_IMAGE));
      assert.ok(body.includes('"targetContainerName":"distroless"'));
      // The exec spares opened with the PATCH are closed once the collector is done (no leak).
      assert.ok(execSpares(kc) !== undefined, 'spares were opened for the collector');
      assert.equal(execSpares(kc)?.size, 0, 'the collector closed its unused spares');
      for (let i = 0; i < 3000 && kube.openConnections().some((c) => c.requests === 0 && !c.upgraded); i++) await sleep(10);
      assert.deepEqual(kube.openConnections().filter((c) => c.requests === 0 && !c.upgraded), [], 'no idle spare left open on the server');
    }
  });

  test('debug container preferred: used first even when cat exists', async () => {
    const r = await run(local, incident({ path: '/usr/bin/small', sha256: undefined }), policy({ debugContainer: { enabled: true, image: DEBUG_IMAGE, preferred: true } }));
    assertStored(r);
    assert.equal(r.method, 'debug-container');
    assert.deepEqual(r.attempts.map((a) => a.method), ['debug-container']);
  });

  test("the collector's watch: opened beside the pod read and used by the wait; closed unused when no collector is added; none with the collector off", async () => {
    const WATCH = 'GET /api/v1/namespaces/shop/pods (watch)';
    const PATCH = 'PATCH /api/v1/namespaces/shop/pods/checkout-7d9f8b6c5d-q2x8z/ephemeralcontainers';
    const on = policy({ debugContainer: { enabled: true, image: DEBUG_IMAGE } });
    const requestsAfter = (mark: number): string[] => kube.connectionLog.flatMap((e) => (e.seq > mark && e.kind === 'request' ? [e.key] : []));
    const watchesClosed = async (): Promise<void> => {
      for (let i = 0; i < 3000 && kube.openWatches() > 0; i++) await sleep(10);
      assert.equal(kube.openWatches(), 0, 'no watch left open');
    };
    // Used: one watch, the prepared one (from the current state: no resourceVersion). With no
    // injected latency it may reach the fake after the PATCH (its own connection against a warm
    // pool's): its first event is then the pod with the collector, which is all the wait needs.
    const inc = incident({ path: '/usr/bin/small', sha256: undefined });
    let mark = kube.mark();
    const reqFrom = kube.requests.length;
    assertStored(await run(local, inc, on));
    let keys = requestsAfter(mark);
    assert.equal(keys.filter((k) => k === WATCH).length, 1, `one watch: ${keys.join(', ')}`);
    assert.ok(keys.includes(PATCH), 'the collector was added');
    const q = new URLSearchParams(kube.requests.slice(reqFrom).find((r) => /watch=true/.test(r.query))?.query ?? '');
    assert.equal(q.get('resourceVersion'), null, 'the prepared watch (from the current state)');
    await watchesClosed();
    // The same finding again: its copy is stored, no collector; the watch opened beside the read is closed.
    mark = kube.mark();
    assert.equal((await run(local, inc, on)).outcome, 'exists');
    assert.ok(!requestsAfter(mark).includes(PATCH), 'no collector added');
    await watchesClosed();
    // A container that is not running: no collector, nothing left open.
    mark = kube.mark();
    assertFailed(await run(local, incident({ container: 'stopped' }), on));
    assert.ok(!requestsAfter(mark).includes(PATCH));
    await watchesClosed();
    // The collector off (dry-run turns it off: snapshotPolicyFor) or not first: no early watch.
    for (const p of [policy(), policy({ debugContainer: { enabled: true, image: DEBUG_IMAGE, preferred: false } })]) {
      mark = kube.mark();
      assertStored(await run(local, incident({ path: '/usr/bin/small', sha256: undefined }), p));
      keys = requestsAfter(mark);
      assert.deepEqual(keys.filter((k) => k === WATCH || k === PATCH), [], `cat did it, no watch: ${keys.join(', ')}`);
    }
  });

  test('debug container that never starts: debug-container-failed, nothing stored', async () => {
    kube.ephemeralStartFails = 'ImagePullBackOff';
    try {
      const inc = incident({ container: 'distroless' });
      const r = await run(local, inc, policy({ timeoutMs: 1500, debugContainer: { enabled: true, image: DEBUG_IMAGE } }));
      assertFailed(r);
      assert.ok(r.failure === 'debug-container-failed' || r.failure === 'timeout', r.failure);
      assert.match(r.reason, /ImagePullBackOff|did not start|timed out/);
      assert.equal(r.manualCommands?.length, 3, 'the manual route is offered');
      await assertNothingStored(local, inc);
    } finally {
      kube.ephemeralStartFails = undefined;
    }
  });

  test('container not running (seen on the pod), and stale pod view (exec answers 400)', async () => {
    const inc = incident({ container: 'stopped' });
    const r = await run(local, inc);
    assertFailed(r);
    assert.equal(r.failure, 'container-not-running');
    assert.deepEqual(r.attempts, [], 'no exec was tried');
    // The pod view said running (enrichment read it earlier); the exec itself is refused.
    const pod = await workloads.readPod('shop', 'checkout-7d9f8b6c5d-q2x8z');
    const stale = { ...pod, containers: pod.containers.map((c) => ({ ...c, state: 'running' as const })) };
    const r2 = await run(local, incident({ container: 'stopped' }), policy(), { pod: stale });
    assertFailed(r2);
    assert.equal(r2.failure, 'container-not-running');
    assert.equal(r2.code, 400);
    assert.equal(r2.kind, 'permanent');
  });

  test('pod gone: 404 on the pod read, and 404 on exec with a stale view', async () => {
    const inc = incident({ pod: 'checkout-gone' });
    const r = await run(local, inc);
    assertFailed(r);
    assert.equal(r.failure, 'pod-gone');
    assert.equal(r.code, 404);
    const pod = await workloads.readPod('shop', 'checkout-7d9f8b6c5d-q2x8z');
    const r2 = await run(local, incident({ pod: 'checkout-gone' }), policy(), { pod: { ...pod, name: 'checkout-gone' } });
    assertFailed(r2);
    assert.equal(r2.failure, 'pod-gone');
    await assertNothingStored(local, inc);
  });

  test('exec forbidden (403): permanent, names the missing RBAC', async () => {
    for (const [, store] of stores()) {
      const inc = incident();
      kube.faults.inject({ match: 'EXEC shop/checkout-7d9f8b6c5d-q2x8z/app', status: 403, message: 'pods "checkout" is forbidden: User cannot create resource "pods/exec"' });
      const r = await run(store, inc);
      assertFailed(r);
      assert.equal(r.failure, 'exec-forbidden');
      assert.equal(r.code, 403);
      assert.equal(r.kind, 'permanent');
      assert.match(r.reason, /pods\/exec/);
      await assertNothingStored(store, inc);
    }
  });

  test('store failure (GCS 500 on every upload): store-failed, transient, no object', async () => {
    const inc = incident();
    gcsFake.faults.inject({ match: 'PUT /upload/storage/v1/b/evidence/o', status: 500, times: Infinity });
    try {
      const r = await run(gcs, inc);
      assertFailed(r);
      assert.equal(r.failure, 'store-failed', r.reason);
      assert.equal(r.kind, 'transient', `${r.reason} code=${String(r.code)}`);
      assert.equal(r.code, 500);
    } finally {
      gcsFake.faults.clear();
    }
    await assertNothingStored(gcs, inc);
  });

  test('invalid paths are refused before any exec', async () => {
    const execs = kube.requests.filter((q) => q.path.endsWith('/exec')).length;
    for (const path of ['usr/bin/evil', '/usr/bin/evil\u0000x', '/usr/bin/\nevil', '/usr/bin/', '']) {
      const r = await run(local, incident({ path }));
      assertFailed(r);
      assert.equal(r.failure, 'invalid-path', JSON.stringify(path));
      assert.equal(r.kind, 'permanent');
    }
    assert.equal(kube.requests.filter((q) => q.path.endsWith('/exec')).length, execs);
  });

  test('an object at the evidence key that is not a complete copy of ours is not taken for the evidence', async () => {
    const small = createHash('sha256').update('small binary\n').digest('hex');
    // GCS: an object someone else wrote (no scc-complete). Local: a data file whose sidecar never came (a crash).
    const incG = incident({ path: '/usr/bin/small', sha256: small, findingId: 'f-foreign-gcs' });
    await gcsFake.putObject(BUCKET, `ctd/${folderOf(incG)}/binary`, Buffer.from('someone else'), { owner: 'other' });
    const incL = incident({ path: '/usr/bin/small', sha256: small, findingId: 'f-foreign-local' });
    await mkdir(join(root, folderOf(incL)), { recursive: true });
    await writeFile(join(root, folderOf(incL), 'binary'), 'half a copy');
    const quickLocal = new LocalEvidenceStore({ root, sidecarWaitMs: 50 });
    for (const [store, inc] of [[gcs, incG], [quickLocal, incL]] as const) {
      const r = await run(store, inc);
      assertFailed(r);
      assert.equal(r.failure, 'incomplete-object-exists', r.reason);
      assert.equal(r.kind, 'permanent');
      assert.equal(await store.stat(`${folderOf(inc)}/manifest.json`), null, 'no manifest vouches for it');
    }
    assert.equal((await gcsFake.read(BUCKET, `ctd/${folderOf(incG)}/binary`)).toString(), 'someone else', 'and it is not overwritten');
  });

  test('a /../../ path is refused (one check with the Incident); hostile names cannot escape the store prefix', async () => {
    const climbing = await run(local, incident({ path: '/../../usr/bin/small' }));
    assertFailed(climbing);
    assert.equal(climbing.failure, 'invalid-path');
    assert.deepEqual(climbing.attempts, [], 'nothing was run');
    const inc = incident({ path: '/usr//bin/./small', sha256: createHash('sha256').update('small binary\n').digest('hex'), findingId: '../../../../../outside', cluster: '../..' });
    for (const [, store] of stores()) {
      const r = await run(store, inc);
      assertStored(r);
      assert.deepEqual(r.manifest.path, { requested: '/usr//bin/./small', read: '/usr/bin/small' });
      assert.deepEqual(r.attempts[0]?.command, ['cat', '--', '/usr/bin/small']);
      assert.doesNotThrow(() => assertSafeKey(r.keys?.binary ?? ''));
      assert.equal(r.keys?.binary.split('/').length, 6);
      if (store === gcs) assert.match(r.object.uri, /^gs:\/\/evidence\/ctd\/acme\//);
      else assert.ok(r.object.uri.startsWith(`file://${root}/acme/`), r.object.uri);
    }
    // Nothing at all was written outside the local store's root.
    assert.deepEqual((await readdir(base)).sort(), ['root']);
  });

  test('a timeout half-way through a big copy (the upload stalls) leaves nothing complete', async () => {
    const inc = incident();
    gcsFake.faults.inject({ match: 'PUT /upload/storage/v1/b/evidence/o', hang: true, times: Infinity });
    let r: EvidenceResult;
    try {
      // The upload hangs for good, so the timeout always fires; its length only bounds how
      // far the copy gets first (more than 4 MiB even on a busy machine).
      r = await run(gcs, inc, policy({ timeoutMs: 8000 }));
    } finally {
      gcsFake.faults.clear();
    }
    assertFailed(r);
    assert.equal(r.failure, 'timeout');
    assert.equal(r.kind, 'transient');
    const bytes = r.attempts[0]?.bytes ?? 0;
    assert.ok(bytes > 4 * MiB && bytes < BIG, `stopped mid-way (${bytes} bytes)`);
    await assertNothingStored(gcs, inc);
  });

  test('an aborted caller signal ends the snapshot as aborted (transient), nothing stored', async () => {
    const inc = incident();
    kube.faults.inject({ match: 'EXEC shop/checkout-7d9f8b6c5d-q2x8z/app', hang: true });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('function shutting down')), 100);
    const r = await run(local, inc, policy(), { signal: ac.signal });
    assertFailed(r);
    assert.equal(r.failure, 'aborted');
    assert.equal(r.kind, 'transient');
    await assertNothingStored(local, inc);
  });
});
