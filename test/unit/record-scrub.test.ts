// The record layer's redactor: every rule has a case that would leak without it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createScrubber, REDACTED, secretsFromEnv } from '../../shared/record/scrub.js';

const SECRET = 'sk_live_DO_NOT_LOG_51Hxyz';
const s = createScrubber();

describe('scrubber', () => {
  test('secret-looking keys lose their values at any depth, booleans and shape kept', () => {
    const out = s.value({ a: { password: 'x1', STRIPE_API_KEY: 'v', tokenPresent: true, credentials: { user: 'u', key: 'k' } } });
    assert.deepEqual(out, { a: { password: REDACTED, STRIPE_API_KEY: REDACTED, tokenPresent: true, credentials: { user: REDACTED, key: REDACTED } } });
  });

  test('ordinary keys that merely contain "pass" are kept', () => {
    assert.deepEqual(s.value({ passed: 3, bypassGuards: false, guard: { passed: true } }), { passed: 3, bypassGuards: false, guard: { passed: true } });
  });

  test('environment lists keep names, drop values (SCC shape, k8s shape, strings, maps)', () => {
    const out = s.value({
      envVariables: [{ name: 'PATH', val: '/bin' }, { name: 'HOSTNAME', val: 'pod-1' }],
      env: [{ name: 'X', value: 'y' }, 'A=b', 'bare'],
      environment: { HOME: '/root' },
    });
    assert.deepEqual(out, {
      envVariables: [{ name: 'PATH', val: REDACTED }, { name: 'HOSTNAME', val: REDACTED }],
      env: [{ name: 'X', value: REDACTED }, `A=${REDACTED}`, REDACTED],
      environment: { HOME: REDACTED },
    });
  });

  test('an SCC env pair is secret wherever it appears; {name, value} when the name looks secret', () => {
    assert.deepEqual(s.value({ vars: [{ name: 'X', val: 'v' }], items: [{ name: 'DB_PASSWORD', value: 'p' }, { name: 'app', value: 'checkout' }] }), {
      vars: [{ name: 'X', val: REDACTED }],
      items: [{ name: 'DB_PASSWORD', value: REDACTED }, { name: 'app', value: 'checkout' }],
    });
  });

  const texts: [string, string, string][] = [
    ['stripe key in prose', `found ${SECRET} in memory`, SECRET],
    ['AWS key id', 'id AKIAIOSFODNN7EXAMPLE here', 'AKIAIOSFODNN7EXAMPLE'],
    ['GitHub token', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'],
    ['Slack token', 'xoxb-1234567890-abcdef', 'xoxb-1234567890-abcdef'],
    ['Google API key', 'key=AIzaSyA1234567890abcdefghijklmnopqrstuv', 'AIzaSyA1234567890abcdefghijklmnopqrstuv'],
    ['JWT', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'dozjgNryP4J3jVmNHl0w5N'],
    ['bearer header', 'Authorization: Bearer abcdefgh12345678', 'abcdefgh12345678'],
    ['URL password', 'https://admin:hunter2hunter2@db.internal/x', 'hunter2hunter2'],
    ['NAME=value', 'STRIPE_API_KEY=plainvalue123 next', 'plainvalue123'],
    ['--flag=value', 'curl --api-key=zzzz9999 http://x', 'zzzz9999'],
    ['PEM private key', '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----', 'MIIEvQIBADANBg'],
  ];
  for (const [name, input, leak] of texts) {
    test(`text: ${name}`, () => {
      const out = s.text(input);
      assert.ok(!out.includes(leak), out);
      assert.ok(out.includes(REDACTED), out);
    });
  }

  test('argv: the value after a secret-looking flag is removed', () => {
    assert.deepEqual(s.value({ args: ['/bin/tool', '--password', 'p4ss', '-v', 'file'] }), { args: ['/bin/tool', '--password', REDACTED, '-v', 'file'] });
  });

  test('known secrets are removed wherever they hide, short ones are ignored', () => {
    const k = s.with(['correct-horse-battery', 'ab']);
    assert.deepEqual(k.value({ note: 'x correct-horse-battery y', tag: 'ab' }), { note: `x ${REDACTED} y`, tag: 'ab' });
    assert.equal(k.text('correct-horse-battery'), REDACTED);
    // the base scrubber is unchanged
    assert.equal(s.text('correct-horse-battery'), 'correct-horse-battery');
  });

  test('keys are scrubbed too, cycles and odd values do not throw', () => {
    const o: Record<string, unknown> = { [SECRET]: 1, n: 10n, d: new Date(0), b: Buffer.from('abc'), f: () => 1, e: new Error(`bad ${SECRET}`) };
    o['self'] = o;
    const out = s.value(o);
    const text = JSON.stringify(out);
    assert.ok(!text.includes(SECRET), text);
    assert.equal(out['n'], '10');
    assert.equal(out['d'], '1970-01-01T00:00:00.000Z');
    assert.equal(out['b'], '[3 bytes]');
    assert.equal(out['self'], '[Circular]');
    assert.equal('f' in out && out['f'] !== undefined, false);
  });

  test('key rules are remembered per scrubber: the same answers every time, each scrubber its own known secrets, past the cache bound too', () => {
    const known = 'corp-internal-value-77';
    const record = { password: 'x1', env: ['A=b'], [known]: 'v', plain: 'kept', nested: { password: 'x2', plain: 'kept' } };
    const fresh = createScrubber({ knownSecrets: [known] });
    const first = fresh.value(record);
    assert.deepEqual(first, { password: REDACTED, env: [`A=${REDACTED}`], [REDACTED]: 'v', plain: 'kept', nested: { password: REDACTED, plain: 'kept' } });
    assert.deepEqual(fresh.value(record), first, 'a second pass answers from the cache identically');
    // Negative control: a scrubber that does not know the secret keeps the key (caches are not shared).
    assert.ok(known in (s.value(record) as Record<string, unknown>));
    // More distinct keys than the cache holds (it starts over): every secret key still loses its value.
    const many: Record<string, string> = {};
    for (let i = 0; i < 5000; i++) many[`k${i}`] = 'v';
    for (let round = 0; round < 2; round++) {
      const out = fresh.value({ ...many, apiKey: 'x', [`${'x'.repeat(200)}_token`]: 'y' }) as Record<string, unknown>;
      assert.equal(out['apiKey'], REDACTED);
      assert.equal(out[`${'x'.repeat(200)}_token`], REDACTED, 'a long key is classified, not cached');
      assert.equal(out['k4999'], 'v');
    }
  });

  test('plain record data is left intact', () => {
    const data = { pod: 'checkout-7d9f8b6c5d-q2x8z', path: '/usr/bin/curl', sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', uri: 'gs://b/k', reason: 'step record.marks: ok' };
    assert.deepEqual(s.value(data), data);
  });

  test('secretsFromEnv picks secret-named and token-like values, not PATH or HOSTNAME', () => {
    const picked = secretsFromEnv([
      { name: 'PATH', val: '/usr/local/sbin:/usr/bin' },
      { name: 'HOSTNAME', val: 'checkout-7d9f8b6c5d-q2x8z' },
      { name: 'STRIPE_API_KEY', val: SECRET },
      { name: 'OPAQUE', val: 'A1b2C3d4E5f6G7h8I9' },
      { name: 'EMPTY', val: '' },
      { name: 'DB_PASSWORD', value: 'pw' },
    ]);
    assert.deepEqual(picked, [SECRET, 'A1b2C3d4E5f6G7h8I9', 'pw']);
  });
});
