import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import type { BinaryInfo } from '../../shared/finding/types.js';
import { compareWithFinding, HashingTransform, prefixBytesFor } from '../../shared/evidence/hashing.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function chunked(buf: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts);
}

async function run(data: Buffer, chunk: number, opts: ConstructorParameters<typeof HashingTransform>[0]): Promise<{ h: HashingTransform; out: Buffer }> {
  const h = new HashingTransform(opts);
  const got: Buffer[] = [];
  await pipeline(chunked(data, chunk), h, new Writable({ write(c: Buffer, _e, cb) { got.push(c); cb(); } }));
  return { h, out: Buffer.concat(got) };
}

describe('HashingTransform', () => {
  test('passes every byte through and hashes the whole stream', async () => {
    const data = randomBytes(300_001);
    const { h, out } = await run(data, 7_777, { maxBytes: 1 << 30 });
    assert.ok(out.equals(data));
    assert.deepEqual(h.result(), { sha256: sha(data), size: data.length, truncated: false });
  });

  test('hashes the first N bytes separately across chunk boundaries (partial finding hash)', async () => {
    const data = randomBytes(100_000);
    for (const chunk of [1, 999, 4096, 100_000]) {
      const { h } = await run(data, chunk, { maxBytes: 1 << 30, prefixBytes: 12_345 });
      assert.deepEqual(h.result().prefix, { bytes: 12_345, sha256: sha(data.subarray(0, 12_345)) }, `chunk ${chunk}`);
      assert.equal(h.result().sha256, sha(data));
    }
  });

  test('a prefix longer than the file hashes what there is and says how much', async () => {
    const data = randomBytes(1000);
    const { h } = await run(data, 100, { maxBytes: 1 << 30, prefixBytes: 5000 });
    assert.deepEqual(h.result().prefix, { bytes: 1000, sha256: sha(data) });
  });

  test('stops at the cap: passes exactly maxBytes, marks truncated, calls onCap once', async () => {
    const data = randomBytes(50_000);
    let caps = 0;
    let firsts = 0;
    const { h, out } = await run(data, 3_000, { maxBytes: 10_000, onCap: () => caps++, onFirstChunk: () => firsts++ });
    assert.equal(out.length, 10_000);
    assert.ok(out.equals(data.subarray(0, 10_000)));
    assert.equal(caps, 1);
    assert.equal(firsts, 1);
    assert.deepEqual(h.result(), { sha256: sha(data.subarray(0, 10_000)), size: 10_000, truncated: true });
    assert.equal(h.bytesSeen, 50_000);
  });

  test('a file of exactly maxBytes is not truncated', async () => {
    const data = randomBytes(4096);
    const { h } = await run(data, 1024, { maxBytes: 4096 });
    assert.equal(h.result().truncated, false);
  });

  test('an empty stream hashes to the empty SHA-256 and never calls onFirstChunk', async () => {
    let firsts = 0;
    const { h } = await run(Buffer.alloc(0), 1, { maxBytes: 10, onFirstChunk: () => firsts++ });
    assert.equal(h.result().sha256, sha(Buffer.alloc(0)));
    assert.equal(firsts, 0);
  });

  test('result() before the end throws; bad options throw', () => {
    assert.throws(() => new HashingTransform({ maxBytes: 10 }).result(), /before the stream finished/);
    assert.throws(() => new HashingTransform({ maxBytes: -1 }), RangeError);
    assert.throws(() => new HashingTransform({ maxBytes: 1, prefixBytes: 1.5 }), RangeError);
  });
});

describe('compareWithFinding', () => {
  const data = Buffer.from('the detected binary, version 1');
  const whole = { sha256: sha(data), size: data.length, truncated: false };
  const bin = (b: Partial<BinaryInfo>): BinaryInfo => ({ path: '/x', partiallyHashed: false, ...b });

  test('matches / differs on the whole file; differs is significant', () => {
    const m = compareWithFinding(whole, bin({ sha256: sha(data) }));
    assert.equal(m.verdict, 'matches');
    assert.equal(m.compared, 'whole-file');
    assert.equal(m.significant, false);
    const d = compareWithFinding(whole, bin({ sha256: sha(Buffer.from('other')) }));
    assert.equal(d.verdict, 'differs');
    assert.equal(d.significant, true);
    assert.match(d.explanation, /changed again after detection|lied/);
  });

  test('upper-case finding hashes compare equal', () => {
    assert.equal(compareWithFinding(whole, bin({ sha256: sha(data).toUpperCase() })).verdict, 'matches');
  });

  test('finding without a (valid) hash', () => {
    assert.equal(compareWithFinding(whole, undefined).verdict, 'finding-has-no-hash');
    assert.equal(compareWithFinding(whole, bin({})).verdict, 'finding-has-no-hash');
    assert.equal(compareWithFinding(whole, bin({ sha256: 'abc' })).verdict, 'finding-has-no-hash');
  });

  test('partial finding hash compares the prefix, not the whole file', () => {
    const prefix = { bytes: 10, sha256: sha(data.subarray(0, 10)) };
    const finding = bin({ sha256: prefix.sha256, partiallyHashed: true, hashedSize: 10 });
    assert.equal(prefixBytesFor(finding), 10);
    const r = compareWithFinding({ ...whole, prefix }, finding);
    assert.equal(r.verdict, 'matches');
    assert.equal(r.compared, 'prefix');
    const changed = compareWithFinding({ ...whole, prefix: { bytes: 10, sha256: sha(Buffer.from('0123456789')) } }, finding);
    assert.equal(changed.verdict, 'differs');
    assert.equal(changed.significant, true);
  });

  test('a file now shorter than the hashed prefix differs; a truncated copy cannot be compared', () => {
    const finding = bin({ sha256: sha(Buffer.alloc(100)), partiallyHashed: true, hashedSize: 100 });
    assert.equal(compareWithFinding({ ...whole, prefix: { bytes: data.length, sha256: sha(data) } }, finding).verdict, 'differs');
    assert.equal(compareWithFinding({ ...whole, truncated: true, prefix: { bytes: data.length, sha256: sha(data) } }, finding).verdict, 'truncated');
    const t = compareWithFinding({ ...whole, truncated: true }, bin({ sha256: sha(data) }));
    assert.equal(t.verdict, 'truncated');
    assert.equal(t.truncated, true);
  });

  test('a truncated copy still compares when the finding hashed only a prefix within the cap', () => {
    const prefix = { bytes: 10, sha256: sha(data.subarray(0, 10)) };
    const r = compareWithFinding({ ...whole, truncated: true, prefix }, bin({ sha256: prefix.sha256, partiallyHashed: true, hashedSize: 10 }));
    assert.equal(r.verdict, 'matches');
    assert.equal(r.truncated, true);
  });
});
