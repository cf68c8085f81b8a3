// Decoys and floods from the container's own tools, and the trusted collector where Pod
// Security or the ptrace rule stand in its way: snapshotBinary through the real client-node
// against the fake API server, into the local store. A copy the target can shape (a lying cat,
// a tar that sends a decoy member first, an endless stream cut at the cap) is stored but is not
// the evidence; a tar flood of other members ends at the snapshot's total exec byte cap.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { LocalEvidenceStore } from '../../shared/ledger/local-store.js';
import { snapshotBinary, snapshotPolicyFor } from '../../shared/evidence/snapshot.js';
import type { EvidenceResult, SnapshotPolicy } from '../../shared/evidence/types.js';
import type { Incident } from '../../shared/finding/types.js';
import { workloadsFromKubeConfig } from '../../shared/kube/client-node-workloads.js';
import type { Workloads } from '../../shared/ports.js';
import { startFakeKube, type FakeContainerSpec, type FakeKube } from '../support/fake-kube.js';

const MiB = 1024 * 1024;
const IMAGE = 'busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const REAL = Buffer.from('the real modified binary\n');
const REAL_SHA = createHash('sha256').update(REAL).digest('hex');
const PATH = '/usr/bin/evil';

let kube: FakeKube;
let workloads: Workloads;
let base: string;
let store: LocalEvidenceStore;
let seq = 0;

const policy = (over: Partial<SnapshotPolicy> = {}, collector = false): SnapshotPolicy => ({
  maxBytes: 64 * MiB,
  timeoutMs: 30_000,
  debugContainer: { enabled: collector, image: IMAGE },
  ...over,
});

/** A fresh pod whose only container is `c`; the finding names it. */
function podWith(c: Partial<FakeContainerSpec>, ns = 'shop'): Incident {
  seq += 1;
  const pod = `web-${seq}`;
  kube.addPod({ namespace: ns, name: pod, containers: [{ name: 'app', files: { [PATH]: { content: REAL } }, ...c }] });
  const findingId = `d${seq}${Date.now().toString(16)}`;
  return {
    findingName: `organizations/1/sources/2/findings/${findingId}`, findingId, apiVersion: 'v1', category: 'Execution: Modified Malicious Binary Executed', state: 'ACTIVE', severity: 'CRITICAL',
    eventTime: new Date().toISOString(), resourceName: '//container.googleapis.com/projects/acme/locations/us-central1/clusters/payments',
    cluster: { project: 'acme', location: 'us-central1', locationKind: 'region', name: 'payments', resourceName: '//container.googleapis.com/projects/acme/locations/us-central1/clusters/payments' },
    projectId: 'acme', namespace: ns, pod, podLabels: {}, container: 'app', binary: { path: PATH, sha256: REAL_SHA, partiallyHashed: false },
    args: [PATH], mitre: { techniques: [] }, envVariables: [], securityMarks: {}, provenance: {},
  };
}

const collector = { identity: 'test', version: '0' };
const run = (inc: Incident, p: SnapshotPolicy): Promise<EvidenceResult> => snapshotBinary({ incident: inc, workloads, store, policy: p, collector });

before(async () => {
  kube = await startFakeKube();
  const kc = new KubeConfig();
  kc.loadFromString(kube.kubeconfigYaml());
  workloads = workloadsFromKubeConfig(kc, { debugPollMs: { first: 5, max: 20 } });
  base = await mkdtemp(join(tmpdir(), 'evidence-decoys-'));
  store = new LocalEvidenceStore({ root: base });
});

after(async () => {
  await kube.close();
  await rm(base, { recursive: true, force: true });
});

describe("the container's own tools: decoys and floods are not the evidence", () => {
  test('a lying cat: stored, verdict differs, counts false, the target withheld the evidence', async () => {
    const r = await run(podWith({ lyingCat: Buffer.from('innocent\n') }), policy());
    assert.equal(r.outcome, 'stored');
    if (r.outcome !== 'stored') return;
    assert.equal(r.hash.verdict, 'differs');
    assert.equal(r.counts, false);
    assert.match(r.manifest.doesNotCountBecause ?? '', /may have lied/);
    assert.ok(r.withheldByTarget.some((w) => /may have lied/.test(w)));
  });

  test('tar sending a DECOY-FIRST-MEMBER before the real one: the first is taken and it does not count', async () => {
    const r = await run(podWith({ tools: ['tar'], tarExtra: [{ name: PATH.slice(1), file: { content: Buffer.from('DECOY-FIRST-MEMBER') } }] }), policy());
    assert.equal(r.outcome, 'stored');
    if (r.outcome !== 'stored') return;
    assert.equal(r.counts, false);
    assert.match(r.manifest.doesNotCountBecause ?? '', /tar sent 2 members with this name/);
    // Control: the same tar without the decoy counts.
    const clean = await run(podWith({ tools: ['tar'] }), policy());
    assert.equal(clean.outcome === 'stored' && clean.counts, true);
  });

  test('an endless cat is cut at the size cap: stored truncated, not the evidence', async () => {
    const r = await run(podWith({ lyingCat: undefined, files: { [PATH]: { generated: { size: 64 * MiB, seed: 9 } } } }), policy({ maxBytes: 2 * MiB }));
    assert.equal(r.outcome, 'stored');
    if (r.outcome !== 'stored') return;
    assert.equal(r.hash.truncated, true);
    assert.equal(r.counts, false);
    assert.match(r.manifest.doesNotCountBecause ?? '', /cut at the size cap/);
  });

  test('the hourly byte budget per cluster: copies are capped at what is left, then refused', async () => {
    const inCluster = (inc: Incident): Incident => ({ ...inc, cluster: inc.cluster ? { ...inc.cluster, name: `budget-${seq}` } : null });
    const first = inCluster(podWith({}));
    const scoped = (inc: Incident): Incident => ({ ...inc, cluster: first.cluster });
    const p = policy({ hourlyByteBudget: REAL.length + 5 });
    const a = await run(first, p);
    assert.equal(a.outcome === 'stored' && a.counts, true, 'the first copy fits');
    const b = await run(scoped(podWith({})), p);
    assert.equal(b.outcome, 'stored');
    if (b.outcome === 'stored') assert.deepEqual([b.hash.size, b.hash.truncated, b.counts], [5, true, false], 'cut at what was left');
    const c = await run(scoped(podWith({})), p);
    assert.equal(c.outcome, 'failed');
    if (c.outcome === 'failed') assert.deepEqual([c.failure, c.blame], ['budget-exceeded', 'target']);
    // Another cluster has its own budget.
    const other = await run(inCluster(podWith({})), p);
    assert.equal(other.outcome, 'stored');
  });

  test('a tar flood of other members stops at the total exec byte cap, nothing stored', async () => {
    const inc = podWith({ tools: ['tar'], tarExtra: [{ name: 'junk', file: { generated: { size: 256 * MiB, seed: 5 } } }] });
    const r = await run(inc, policy({ execByteCap: 4 * MiB }));
    assert.equal(r.outcome, 'failed');
    if (r.outcome !== 'failed') return;
    assert.equal(r.failure, 'exec-flood');
    assert.equal(r.blame, 'target');
    assert.ok((r.attempts[0]?.durationMs ?? 0) >= 0);
    assert.equal(await store.stat(r.keys?.binary ?? ''), null, 'nothing stored');
  });
});

describe('the trusted collector against the ptrace rule and Pod Security', () => {
  test('the target runs as uid 1000 (set in the spec): the collector runs as 1000 and reads the binary under /proc/1', async () => {
    const inc = podWith({ uid: 1000, processes: [{ pid: 1, exe: PATH, cmdline: [PATH] }] });
    const r = await run(inc, policy({}, true));
    assert.equal(r.outcome, 'stored');
    if (r.outcome !== 'stored') return;
    // The hash-proven guess (the file under pid 1's root, read with the first round) is kept.
    assert.equal(r.manifest.source, `/proc/1/root${PATH}`);
    assert.equal(r.collector?.runAsUser, 1000);
    const patch = kube.writes.filter((w) => w.path.endsWith(`/${inc.pod ?? ''}/ephemeralcontainers`)).at(-1);
    const sc = (patch?.body as { spec: { ephemeralContainers: { securityContext: Record<string, unknown> }[] } }).spec.ephemeralContainers[0]?.securityContext;
    assert.deepEqual(sc, { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' }, runAsUser: 1000, runAsNonRoot: true });
  });

  test('uid not in the spec: the kernel refuses the root collector; a second one as the uid /proc/<pid>/status shows reads it', async () => {
    const inc = podWith({ uid: 1000, runAsUserInSpec: false, processes: [{ pid: 1, exe: PATH, cmdline: [PATH] }] });
    const r = await run(inc, policy({}, true));
    assert.equal(r.outcome, 'stored');
    if (r.outcome !== 'stored') return;
    assert.equal(r.method, 'debug-container');
    assert.equal(r.collector?.runAsUser, 1000);
    assert.ok(r.attempts.some((a) => a.method === 'debug-container' && a.outcome === 'permission-denied'), JSON.stringify(r.attempts));
    assert.equal(kube.writes.filter((w) => w.path.endsWith(`/${inc.pod ?? ''}/ephemeralcontainers`)).length, 2, 'two collectors');
  });

  test('several processes run the path: each exe is hashed, the one matching the finding is stored; cmdline secrets redacted', async () => {
    const decoy = { content: Buffer.from('an older build, not the detected one\n') };
    const inc = podWith({
      files: {},
      processes: [
        { pid: 1, exe: '/app', cmdline: ['/app'] },
        { pid: 5, exe: PATH, exeFile: decoy, cmdline: [PATH, '--password=hunter2'] },
        { pid: 9, exe: PATH, exeFile: { content: REAL }, cmdline: [PATH] },
      ],
    });
    // No arguments in the finding: nothing but the hash tells the two apart (pid 5 comes first).
    const noArgs = { ...inc, args: [] };
    for (const finding of [noArgs, { ...noArgs, findingId: `${inc.findingId}p`, findingName: `${inc.findingName}p`, binary: { path: PATH, sha256: createHash('sha256').update(REAL.subarray(0, 8)).digest('hex'), partiallyHashed: true, hashedSize: 8 } }]) {
      const r = await run(finding, policy({}, true));
      assert.equal(r.outcome, 'stored');
      if (r.outcome !== 'stored') continue;
      assert.equal(r.manifest.source, '/proc/9/exe', 'the candidate whose hash matches');
      assert.equal(r.hash.verdict, 'matches');
      assert.ok(r.attempts.some((a) => a.source === '/proc/5/exe' && /hashed to choose between 2 processes/.test(a.reason ?? '')), JSON.stringify(r.attempts));
      const volatile = await store.readText(r.volatile?.key ?? '');
      assert.ok(volatile && !volatile.includes('hunter2') && volatile.includes('--password=[REDACTED]'), 'secrets in arguments are redacted');
    }
  });

  test('not dumpable (setuid): the kernel refuses any uid without CAP_SYS_PTRACE; the report says why; the container tool stands in', async () => {
    const r = await run(podWith({ processes: [{ pid: 1, exe: PATH, cmdline: [PATH], dumpable: false }] }), policy({}, true));
    assert.equal(r.outcome, 'stored');
    if (r.outcome !== 'stored') return;
    assert.equal(r.method, 'cat');
    assert.equal(r.counts, true, 'its hash matches the finding: authentic whatever tool read it');
    const denied = r.attempts.find((a) => a.method === 'debug-container' && a.outcome === 'permission-denied');
    assert.ok(denied, JSON.stringify(r.attempts));
  });

  test('ptrace asked for under Pod Security baseline: refused (403), reported, the container tool stands in', async () => {
    kube.podSecurity.set('baseline', 'baseline');
    const r = await run(podWith({ uid: 1000, runAsUserInSpec: false }, 'baseline'), policy({ debugContainer: { enabled: true, image: IMAGE, ptrace: true } }));
    assert.equal(r.outcome, 'stored');
    if (r.outcome !== 'stored') return;
    assert.equal(r.method, 'cat');
    assert.equal(r.collector?.used, false);
    assert.match(r.collector?.reason ?? '', /Pod Security admission refused the collector.*SYS_PTRACE/);
  });

  test('dry-run adds no ephemeral container unless the policy allows it; the CLI --dry-run never does', async () => {
    const p = policy({ debugContainer: { enabled: true, image: IMAGE, dryRun: true } });
    assert.equal(snapshotPolicyFor(p, 'enforce').debugContainer.enabled, true);
    assert.equal(snapshotPolicyFor(p, 'dry-run').debugContainer.enabled, true);
    assert.equal(snapshotPolicyFor(p, 'cli-dry-run').debugContainer.enabled, false);
    const strict = policy({}, true);
    const inc = podWith({});
    const before = kube.writes.length;
    const r = await run(inc, snapshotPolicyFor(strict, 'dry-run'));
    assert.equal(kube.writes.length, before, 'no write at all');
    assert.equal(r.outcome, 'stored');
    assert.match(r.collector?.reason ?? '', /In enforce, the collector .* would be added/);
  });
});
