// redactString() skips the eleven secret patterns when a cheap pre-test finds none of their
// anchors. That shortcut must never change a result: property-tested against the unfiltered
// reference on strings built from the patterns' own fragments (fixed seed), plus every
// documented secret format.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { REDACTED, redactString, redactStringUnfiltered } from '../../shared/finding/redact.js';

// Pieces that make (or almost make) each secret format, in several cases, and the glue
// around them: the generator reaches every pattern and its near misses.
const FRAGMENTS = [
  '-----BEGIN ', '-----begin ', 'RSA ', 'PRIVATE KEY-----', '-----END ', '\n',
  'sk_', 'rk_', 'pk_', 'live_', 'test_', 'Live_', 'AKIA', 'akia', 'ABCDEFGHIJKLMNOP', 'ghp_', 'gho_', 'GHS_', 'xoxb-', 'xoxp-', 'XOXA-',
  'AIza', 'aiza', 'ya29.', 'YA29.', 'eyJ', 'EYJ', 'hbGciOiJ', '.', 'Bearer', 'bearer ', 'Basic', 'TOKEN', 'Token ', 'token',
  'password', 'PASSWD', 'pwd', 'Pass', 'secret', 'SeCrEt', 'api_key', 'api-key', 'apikey', 'APIKEY', 'access_key', 'access-key', 'ACCESSKEY',
  '://', 'https://', 'user', ':', '@', 'host', '/', '=', ': ', ' = ', '"quoted value"', "'single'", '&', ';', ',', ' ', '\t', '--',
  'abcdefghij', '0123456789', 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4', '_', '-', 'é', 'İ',
];
const text = fc.array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 6 })), { maxLength: 14 }).map((parts) => parts.join(''));

describe('redactString pre-test', () => {
  test('never changes a result (30,000 generated strings, fixed seed)', () => {
    fc.assert(
      fc.property(text, (s) => {
        assert.equal(redactString(s), redactStringUnfiltered(s), JSON.stringify(s));
      }),
      { seed: 0x5ec7e7, numRuns: 30_000 },
    );
  });

  test('every documented secret format still goes through the patterns', () => {
    const secrets = [
      '-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----',
      'sk_live_51Hxyzabcdef', 'rk_test_abcdefgh', 'AKIAABCDEFGHIJKLMNOP', 'ghp_abcdefghijklmnopqrstuvwxyz', 'xoxb-1234567890-abc',
      `AIza${'a'.repeat(35)}`, 'ya29.a0AfH6SMBabc', 'eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl', 'Authorization: Basic dXNlcjpwYXNz', 'token abcdefgh12',
      'DB_PASSWORD=hunter2', 'x-api-key: abc123', 'AWS_ACCESS_KEY=xyz', 'my_secret: "quoted"', 'https://alice:s3cr3t@example.com/x',
    ];
    for (const s of secrets) {
      const out = redactString(s);
      assert.ok(out.includes(REDACTED), `${s} -> ${out}`);
      assert.equal(out, redactStringUnfiltered(s));
    }
  });

  test('ordinary record strings come back unchanged (and are the same object)', () => {
    for (const s of ['checkout-7d9f8b6c5d-q2x8z', '2026-11-27T09:14:02.123Z', 'step snapshot ok', '/usr/bin/curl', 'us-docker.pkg.dev/acme-payments-prod/apps/checkout:2.14.1']) {
      assert.equal(redactString(s), s);
    }
  });
});
