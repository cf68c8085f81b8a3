import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { assertSafeKey, assertSafePrefix, isVerbatimSegment, keySegment, MAX_SEGMENT_LENGTH, UnsafeKeyError } from '../../shared/ledger/keys.js';
import { findingKeys } from '../../shared/ledger/layout.js';
import { validateBinaryPath } from '../../shared/evidence/path.js';

const SAFE = /^[A-Za-z0-9._-]{1,100}$/;

describe('keySegment', () => {
  test('keeps ordinary Kubernetes and GCP names verbatim', () => {
    for (const name of ['acme-payments-prod', 'checkout-7d9f8b6c5d-q2x8z', 'payments', 'a6e3b2c9f0d14e8f9b7c5a4d3e2f1a0b', 'us-central1', 'v1.2_3']) {
      assert.equal(keySegment(name), name);
    }
  });

  test('encodes the dangerous names: empty, dot, dot-dot, slash, NUL, traversal', () => {
    const cases = ['', '.', '..', 'a/b', '../../etc/x', '/../../etc/x', 'x\u0000y', '..\u0000', 'con:1', 'ü', ' '];
    const out = cases.map(keySegment);
    for (const [i, seg] of out.entries()) {
      assert.match(seg, SAFE, `${JSON.stringify(cases[i])} -> ${seg}`);
      assert.notEqual(seg, '.');
      assert.notEqual(seg, '..');
      assert.ok(!seg.includes('/'));
      assert.match(seg, /-h[0-9a-f]{16}$/, 'altered names carry the hash suffix');
    }
    assert.equal(new Set(out).size, out.length, 'no two inputs collide');
  });

  test('a name with / does not collide with its underscore look-alike', () => {
    assert.equal(keySegment('a_b'), 'a_b');
    assert.notEqual(keySegment('a/b'), 'a_b');
    assert.notEqual(keySegment('a/b'), keySegment('a_b'));
  });

  test('a verbatim-looking name that ends like an altered one is altered too (no forged collisions)', () => {
    const forged = keySegment('a/b'); // a_b-h<16 hex>
    assert.equal(isVerbatimSegment(forged), false);
    assert.notEqual(keySegment(forged), forged);
  });

  test('long names are cut to the cap and stay distinct', () => {
    const a = 'x'.repeat(500);
    const b = `${'x'.repeat(499)}y`;
    assert.ok(keySegment(a).length <= MAX_SEGMENT_LENGTH);
    assert.notEqual(keySegment(a), keySegment(b));
    assert.equal(keySegment('y'.repeat(MAX_SEGMENT_LENGTH)), 'y'.repeat(MAX_SEGMENT_LENGTH));
  });

  test('property: always one safe segment, deterministic, injective on samples', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }), (a, b) => {
        const sa = keySegment(a);
        assert.match(sa, SAFE);
        assert.ok(sa !== '.' && sa !== '..');
        assert.equal(keySegment(a), sa);
        if (a !== b) assert.notEqual(sa, keySegment(b));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('findingKeys (evidence keys)', () => {
  test('layout project/cluster/namespace/pod/finding-id with binary and manifest.json', () => {
    const k = findingKeys({ projectId: 'other', cluster: { project: 'acme', name: 'payments' }, namespace: 'ns', pod: 'p-1', findingId: 'f1' });
    assert.equal(k.folder, 'acme/payments/ns/p-1/f1');
    assert.equal(k.binary, 'acme/payments/ns/p-1/f1/binary');
    assert.equal(k.manifest, 'acme/payments/ns/p-1/f1/manifest.json');
    assert.equal(k.volatile, 'acme/payments/ns/p-1/f1/volatile.json');
    assert.deepEqual(k.runReport(2), { json: 'acme/payments/ns/p-1/f1/report-2.json', markdown: 'acme/payments/ns/p-1/f1/report-2.md' });
  });

  test('hostile parts cannot add or remove levels', () => {
    const k = findingKeys({ projectId: 'x', cluster: { project: '..', name: '../../etc' }, namespace: 'a/b/c', pod: '\u0000', findingId: '/../../etc/x' });
    const segments = k.binary.split('/');
    assert.equal(segments.length, 6);
    assert.equal(segments[5], 'binary');
    assert.doesNotThrow(() => assertSafeKey(k.binary));
    assert.doesNotThrow(() => assertSafeKey(k.manifest));
  });
});

describe('assertSafeKey (what the stores accept)', () => {
  test('refuses traversal, absolute, empty segments, NUL and odd characters', () => {
    for (const bad of ['', '/abs', 'a//b', 'a/../b', '..', '.', 'a/./b', 'a/b/', 'a\u0000b', 'a b', 'a\\b', `${'x'.repeat(101)}`]) {
      assert.throws(() => assertSafeKey(bad), UnsafeKeyError, JSON.stringify(bad));
    }
    assert.doesNotThrow(() => assertSafeKey('a/b.c/d-e_f'));
  });
});

describe('validateBinaryPath', () => {
  test('normalises // and /./; refuses .. (it could climb out of /proc/<pid>/root); keys never use it', () => {
    const r = validateBinaryPath('/../../etc/x');
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.reason, "the binary path contains a '..' segment");
    assert.deepEqual(validateBinaryPath('/usr//bin/./curl'), { ok: true, path: '/usr/bin/curl', requested: '/usr//bin/./curl', normalised: true });
    assert.deepEqual(validateBinaryPath('/usr/bin/curl'), { ok: true, path: '/usr/bin/curl', requested: '/usr/bin/curl', normalised: false });
  });

  test('keeps shell metacharacters as data', () => {
    const r = validateBinaryPath("/tmp/$(reboot);'x' `id`");
    assert.equal(r.ok, true);
  });

  test('refuses empty, relative, NUL, line breaks, directories, huge paths', () => {
    for (const bad of ['', 'usr/bin/curl', './x', '/usr/bin\u0000/x', '/tmp/a\nb', '/tmp/a\rb', '/', '/usr/bin/', '/usr/bin/..', `/${'a'.repeat(5000)}`]) {
      const r = validateBinaryPath(bad);
      assert.equal(r.ok, false, JSON.stringify(bad));
      if (!r.ok) assert.ok(r.reason.length > 0);
    }
  });
});

describe('keys, literally (stored names must not drift)', () => {
  test('altered segments: replaced characters, a leading _ for empty/./.., the hash suffix', () => {
    assert.equal(keySegment(''), '_-he3b0c44298fc1c14');
    assert.equal(keySegment('.'), '_.-hcdb4ee2aea69cc6a');
    assert.equal(keySegment('..'), '_..-h5ec1f7e700f37c3d');
    assert.equal(keySegment('a/b'), 'a_b-hc14cddc033f64b9d');
    assert.equal(keySegment('../x'), '.._x-hd6b96a97d147daaa');
  });

  test('only a suffix at the very end marks a name as altered', () => {
    assert.equal(isVerbatimSegment('x-h0123456789abcdef'), false);
    assert.equal(isVerbatimSegment('x-h0123456789abcdefy'), true);
    assert.equal(keySegment('x-h0123456789abcdefy'), 'x-h0123456789abcdefy');
  });

  test('assertSafeKey: limits at exactly 900 characters and 100 per segment, and says why', () => {
    const seg = 'y'.repeat(100);
    assert.doesNotThrow(() => assertSafeKey(seg));
    assert.throws(() => assertSafeKey(`${seg}y`), /segment too long/);
    const key900 = `${Array.from({ length: 8 }, () => 'z'.repeat(100)).join('/')}/${'z'.repeat(92)}`; // 8*100 + 7 + 1 + 92
    assert.equal(key900.length, 900);
    assert.doesNotThrow(() => assertSafeKey(key900));
    assert.throws(() => assertSafeKey(`${key900}z`), /longer than 900 characters/);
    assert.throws(() => assertSafeKey(''), (err: unknown) => err instanceof UnsafeKeyError && err.name === 'UnsafeKeyError' && err.message === 'unsafe evidence key "": empty');
    assert.throws(() => assertSafeKey('a//b'), (err: unknown) => err instanceof Error && err.message === 'unsafe evidence key "a//b": segment ""');
    assert.throws(() => assertSafeKey('a/../b'), /segment "\.\."/);
    assert.throws(() => assertSafeKey('a/b c'), (err: unknown) => err instanceof Error && err.message === 'unsafe evidence key "a/b c": segment "b c" has characters outside [A-Za-z0-9._-]');
  });

  test('assertSafePrefix: empty and a trailing slash are fine, the rest as for keys', () => {
    assert.doesNotThrow(() => assertSafePrefix(''));
    assert.doesNotThrow(() => assertSafePrefix('a/b/'));
    assert.doesNotThrow(() => assertSafePrefix('a/b'));
    assert.throws(() => assertSafePrefix('/a'), UnsafeKeyError);
    assert.throws(() => assertSafePrefix('a//'), UnsafeKeyError);
    assert.throws(() => assertSafePrefix('../'), UnsafeKeyError);
  });
});
