// Exec spares: TLS connections to the API server opened while the debug container starts, so
// the collector's first exec round does not pay TCP + TLS set-up. Real client-node and ws over
// HTTPS to the fake API server, which logs its connections and on which one each exec's
// upgrade came. Every test has its own fake and KubeConfig.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test, type TestContext } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { workloadsFromEndpoint, workloadsFromKubeConfig, type ClientNodeWorkloads, type ClientNodeWorkloadsOptions } from '../../shared/kube/client-node-workloads.js';
import { execSpares } from '../../shared/kube/exec-spares.js';
import { startFakeKube, type FakeKube } from '../support/fake-kube.js';

const NS = 'ns';
const POD = 'web-0';
const DEBUG = 'scc-evidence-1';

/** A fake API server with one pod, and workloads built on it; the server closes when test `t` ends. */
async function setup(t: TestContext, options: ClientNodeWorkloadsOptions): Promise<{ fake: FakeKube; kc: KubeConfig; w: ClientNodeWorkloads }> {
  const fake = await startFakeKube();
  t.after(() => fake.close());
  fake.ephemeralStart = 'manual';
  fake.addPod({ namespace: NS, name: POD, uid: 'pod-1', containers: [{ name: 'app', image: 'nginx', pid: 77, files: { '/etc/hostname': { content: Buffer.from('web-0\n') } } }] });
  const kc = new KubeConfig();
  kc.loadFromString(fake.kubeconfigYaml());
  return { fake, kc, w: workloadsFromKubeConfig(kc, { debugPollMs: { first: 5, max: 20 }, ...options }) };
}

/** Polls a condition (no timing asserted: the deadline is only there so a broken build ends). */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (cond()) return;
    await sleep(10);
  }
  assert.fail(`gave up waiting: ${what}`);
}

/** Adds the debug container; when `spares` > 0, lets them connect before it "runs". Returns the mark taken just before it runs. */
async function startCollector(fake: FakeKube, kc: KubeConfig, w: ClientNodeWorkloads, spares: number): Promise<number> {
  const added = w.addDebugContainer({ namespace: NS, pod: POD, name: DEBUG, image: 'busybox@sha256:0123', targetContainer: 'app', command: ['sleep', '600'], timeoutMs: 30_000 });
  await until('the PATCH', () => fake.writes.some((x) => x.path.endsWith('/ephemeralcontainers')));
  if (spares > 0) await until(`${spares} spares connected`, () => execSpares(kc)?.ready === spares);
  // The server sees a TLS connection a moment after the client does (it reads the client's
  // last handshake message then): wait for its log too, or `mark` can fall in between.
  if (spares > 0) await until(`the server saw ${spares} spares`, () => fake.openConnections().filter((c) => c.requests === 0 && !c.upgraded).length === spares);
  const mark = fake.mark();
  fake.startEphemeral(NS, POD, DEBUG);
  await added;
  return mark;
}

async function execRound(w: ClientNodeWorkloads, n: number): Promise<void> {
  const results = await Promise.all(
    Array.from({ length: n }, () => w.exec({ namespace: NS, pod: POD, container: DEBUG, command: ['cat', '/proc/77/root/etc/hostname'], stdout: new PassThrough().resume(), timeoutMs: 30_000 })),
  );
  for (const r of results) assert.equal(r.status, 'Success');
}

/** The round's upgrades each came on its own connection, opened before `mark`, that carried nothing before. */
function assertRoundOnPreopened(fake: FakeKube, mark: number, n: number): void {
  const upgrades = fake.connectionLog.filter((e) => e.kind === 'upgrade' && e.key === `EXEC ${NS}/${POD}/${DEBUG}`);
  assert.equal(upgrades.length, n, 'one upgrade per exec');
  const opened = new Map(fake.connectionLog.filter((e) => e.kind === 'connection').map((e) => [e.conn, e.seq]));
  const conns = new Set<number>();
  for (const u of upgrades) {
    assert.ok(u.kind === 'upgrade' && u.requestsBefore === 0, `connection ${u.conn} carried a request before the upgrade`);
    const at = opened.get(u.conn);
    assert.ok(at !== undefined && at < mark, `exec upgrade on connection ${u.conn} opened after the container ran (seq ${String(at)} > ${mark}): no pre-opened connection was used`);
    conns.add(u.conn);
  }
  assert.equal(conns.size, n, 'no connection was handed to two execs');
}

/** Every connection that carried no REST request (spares, exec sockets) is closed on the server side. */
async function assertNoLeakedSockets(fake: FakeKube): Promise<void> {
  await until('spare and exec connections closed', () => fake.openConnections().every((c) => c.requests > 0));
}

describe('exec spares', () => {
  test("the first round's execs run on connections opened before the container ran, and extra spares are closed at the end", async (t) => {
    const { fake, kc, w } = await setup(t, { execSpares: 5 });
    const mark = await startCollector(fake, kc, w, 5);
    await execRound(w, 3);
    assertRoundOnPreopened(fake, mark, 3);
    assert.equal(execSpares(kc)?.size, 2, 'two spares left unused');
    w.closeExecSpares();
    assert.equal(execSpares(kc)?.size, 0);
    await assertNoLeakedSockets(fake);
  });

  test('more execs than spares: the rest connect as before', async (t) => {
    const { fake, kc, w } = await setup(t, { execSpares: 2 });
    const mark = await startCollector(fake, kc, w, 2);
    await execRound(w, 4);
    const upgrades = fake.connectionLog.filter((e) => e.kind === 'upgrade');
    const opened = new Map(fake.connectionLog.filter((e) => e.kind === 'connection').map((e) => [e.conn, e.seq]));
    const early = upgrades.filter((u) => (opened.get(u.conn) ?? Infinity) < mark);
    assert.equal(early.length, 2, 'two on spares, two on fresh connections');
    assert.equal(new Set(upgrades.map((u) => u.conn)).size, 4);
    await assertNoLeakedSockets(fake);
  });

  test('negative control: with spares disabled the round runs on fresh connections and the check fails', async (t) => {
    const { fake, kc, w } = await setup(t, { execSpares: 0 });
    const mark = await startCollector(fake, kc, w, 0);
    await execRound(w, 3);
    assert.equal(execSpares(kc), undefined, 'no pool was made');
    assert.throws(() => assertRoundOnPreopened(fake, mark, 3), /no pre-opened connection was used/);
    await assertNoLeakedSockets(fake);
  });

  test('spares the server closed are dropped; the execs connect afresh and succeed', async (t) => {
    const { fake, kc, w } = await setup(t, { execSpares: 3 });
    const mark = await startCollector(fake, kc, w, 3);
    assert.equal(fake.dropIdleConnections(), 3, 'the three spares were the idle connections');
    await until('the pool noticed', () => execSpares(kc)?.size === 0);
    await execRound(w, 3);
    assert.throws(() => assertRoundOnPreopened(fake, mark, 3), /no pre-opened connection was used/);
    await assertNoLeakedSockets(fake);
  });

  test('a spare the server closes as the upgrade goes out: the exec connects afresh and succeeds', async (t) => {
    const { fake, kc, w } = await setup(t, { execSpares: 3 });
    const mark = await startCollector(fake, kc, w, 3);
    const idle = fake.openConnections().filter((c) => c.requests === 0 && !c.upgraded);
    assert.equal(idle.length, 3, 'the three spares');
    for (const c of idle) fake.dropUpgradeOn.add(c.conn);
    await execRound(w, 3);
    const upgrades = fake.connectionLog.filter((e) => e.kind === 'upgrade');
    assert.equal(upgrades.length, 6, 'three on the spares (dropped), three on fresh connections');
    const opened = new Map(fake.connectionLog.filter((e) => e.kind === 'connection').map((e) => [e.conn, e.seq]));
    assert.equal(upgrades.filter((u) => (opened.get(u.conn) ?? 0) > mark).length, 3);
    await assertNoLeakedSockets(fake);
  });

  test('spares past their idle limit are closed by themselves and not used', async (t) => {
    const { fake, kc, w } = await setup(t, { execSpares: 3, execSpareIdleMs: 50 });
    const added = w.addDebugContainer({ namespace: NS, pod: POD, name: DEBUG, image: 'busybox@sha256:0123', targetContainer: 'app', command: ['sleep', '600'], timeoutMs: 30_000 });
    await until('the PATCH', () => fake.writes.some((x) => x.path.endsWith('/ephemeralcontainers')));
    // The pool exists once spares were opened; with a 50 ms limit they may be gone before a poll sees them.
    await until('spares opened, then expired', () => execSpares(kc) !== undefined && execSpares(kc)?.size === 0);
    await assertNoLeakedSockets(fake);
    const mark = fake.mark();
    fake.startEphemeral(NS, POD, DEBUG);
    await added;
    await execRound(w, 2);
    assert.ok(fake.connectionLog.every((e) => e.kind !== 'upgrade' || e.seq > mark));
    assert.throws(() => assertRoundOnPreopened(fake, mark, 2), /no pre-opened connection was used/);
    await assertNoLeakedSockets(fake);
  });

  test('a debug container that fails to start closes its spares', async (t) => {
    const { fake, kc, w } = await setup(t, { execSpares: 3 });
    fake.ephemeralStartExits = { reason: 'StartError', exitCode: 128 };
    const added = w.addDebugContainer({ namespace: NS, pod: POD, name: DEBUG, image: 'busybox@sha256:0123', targetContainer: 'app', command: ['sleep', '600'], timeoutMs: 30_000 });
    await until('the PATCH', () => fake.writes.some((x) => x.path.endsWith('/ephemeralcontainers')));
    await until('3 spares connected', () => execSpares(kc)?.ready === 3);
    fake.startEphemeral(NS, POD, DEBUG);
    await assert.rejects(added, /StartError|terminated/);
    assert.equal(execSpares(kc)?.size, 0);
    await assertNoLeakedSockets(fake);
  });

  test("another KubeConfig for the same server never takes this one's spares", async (t) => {
    const { fake, kc, w } = await setup(t, { execSpares: 3 });
    const mark = await startCollector(fake, kc, w, 3);
    const other = workloadsFromEndpoint({ server: fake.url, caData: fake.caData, token: fake.token }, { execSpares: 0 });
    await execRound(other, 2);
    assert.throws(() => assertRoundOnPreopened(fake, mark, 2), /no pre-opened connection was used/);
    assert.equal(execSpares(kc)?.ready, 3, "this KubeConfig's spares are untouched");
    w.closeExecSpares();
    await assertNoLeakedSockets(fake);
  });
});
