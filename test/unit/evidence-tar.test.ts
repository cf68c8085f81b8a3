import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import tarStream from 'tar-stream';
import { extractTarMember, tarMemberName } from '../../shared/evidence/tar-member.js';

type Member = { name: string; type?: 'file' | 'symlink' | 'link' | 'directory'; linkname?: string; data?: Buffer };

async function archive(members: Member[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const m of members) {
    await new Promise<void>((resolve, reject) => {
      const header = { name: m.name, type: m.type ?? 'file', ...(m.linkname ? { linkname: m.linkname } : {}), ...(m.type === undefined || m.type === 'file' ? { size: m.data?.length ?? 0 } : {}) };
      const done = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (m.type === undefined || m.type === 'file') pack.entry(header, m.data ?? Buffer.alloc(0), done);
      else pack.entry(header, done);
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

function sink(): { w: Writable; data: () => Buffer } {
  const got: Buffer[] = [];
  return { w: new Writable({ write(c: Buffer, _e, cb) { got.push(c); cb(); } }), data: () => Buffer.concat(got) };
}

async function feed(tar: Buffer, memberName: string, chunk = 1000): Promise<{ outcome: Awaited<ReturnType<typeof extractTarMember>['done']>; data: Buffer }> {
  const s = sink();
  const x = extractTarMember(memberName, s.w);
  const parts: Buffer[] = [];
  for (let i = 0; i < tar.length; i += chunk) parts.push(tar.subarray(i, i + chunk));
  await pipeline(Readable.from(parts), x.input);
  const outcome = await x.done;
  return { outcome, data: s.data() };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('extractTarMember', () => {
  test('member name is the path without the leading slash (as GNU tar writes it)', () => {
    assert.equal(tarMemberName('/usr/bin/curl'), 'usr/bin/curl');
  });

  test('streams the one regular member into the target, byte for byte', async () => {
    const data = randomBytes(200_000);
    const tar = await archive([{ name: 'usr/bin/curl', data }]);
    const { outcome, data: got } = await feed(tar, 'usr/bin/curl', 777);
    assert.equal(outcome.found, true);
    assert.equal(outcome.headerSize, data.length);
    assert.equal(sha(got), sha(data));
  });

  test('hostile archive: ../ names, absolute names and symlinks are ignored, never written anywhere', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'tar-hostile-'));
    const prev = process.cwd();
    process.chdir(cwd);
    try {
      const real = Buffer.from('the real binary');
      const tar = await archive([
        { name: '../../x', data: Buffer.from('escape attempt') },
        { name: 'usr/bin/../../../../tmp/owned', data: Buffer.from('escape 2') },
        { name: 'usr/bin/curl', type: 'symlink', linkname: '/etc/shadow' },
        { name: 'usr', type: 'directory' },
        { name: 'usr/bin/curl-other', data: Buffer.from('decoy') },
        { name: 'usr/bin/curl', data: real },
        { name: 'usr/bin/curl', data: Buffer.from('a second member with the same name') },
      ]);
      const { outcome, data } = await feed(tar, 'usr/bin/curl');
      assert.equal(outcome.found, true);
      assert.ok(data.equals(real), 'only the first regular member with the exact name is taken');
      assert.deepEqual(outcome.nonRegular, { type: 'symlink', linkname: '/etc/shadow' });
      assert.equal(outcome.skipped, 6);
      assert.deepEqual(await readdir(cwd), [], 'nothing was written to the working directory');
    } finally {
      process.chdir(prev);
      await rm(cwd, { recursive: true, force: true });
    }
  });

  test('only a symlink with the wanted name: not found, reported as non-regular', async () => {
    const tar = await archive([{ name: 'usr/bin/curl', type: 'symlink', linkname: '../../bin/busybox' }]);
    const { outcome, data } = await feed(tar, 'usr/bin/curl');
    assert.equal(outcome.found, false);
    assert.deepEqual(outcome.nonRegular, { type: 'symlink', linkname: '../../bin/busybox' });
    assert.equal(data.length, 0);
  });

  test('a traversal name never matches the wanted member', async () => {
    const tar = await archive([{ name: '../usr/bin/curl', data: Buffer.from('x') }, { name: 'x/../usr/bin/curl', data: Buffer.from('y') }]);
    const { outcome } = await feed(tar, 'usr/bin/curl');
    assert.equal(outcome.found, false);
    assert.equal(outcome.skipped, 2);
  });

  test('long (GNU/pax) names match', async () => {
    const long = `opt/${'d'.repeat(150)}/${'f'.repeat(120)}`;
    const data = randomBytes(5000);
    const { outcome, data: got } = await feed(await archive([{ name: long, data }]), long);
    assert.equal(outcome.found, true);
    assert.ok(got.equals(data));
  });

  test('a cut archive (stream dropped mid-member) rejects', async () => {
    const tar = await archive([{ name: 'usr/bin/curl', data: randomBytes(100_000) }]);
    const s = sink();
    const x = extractTarMember('usr/bin/curl', s.w);
    await pipeline(Readable.from([tar.subarray(0, 40_000)]), x.input);
    await assert.rejects(x.done, /Unexpected end of data/);
  });

  test('garbage instead of a tar rejects', async () => {
    const s = sink();
    const x = extractTarMember('usr/bin/curl', s.w);
    await pipeline(Readable.from([randomBytes(2048)]), x.input).catch(() => undefined);
    await assert.rejects(x.done);
  });
});
