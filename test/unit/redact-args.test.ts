// Process arguments are attacker-chosen text that often carries credentials. redactArgs()
// removes values after (or attached to) secret-looking flags, the password of user:password
// flags, URL passwords and query values; the program and ordinary arguments stay.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { REDACTED, redactArgs } from '../../shared/finding/redact.js';

const S = 'hunter2xyz';

describe('redactArgs', () => {
  const cases: [string, string[], string[]][] = [
    ['mysql -pSECRET (attached)', ['mysql', '-uroot', `-p${S}`, 'db'], ['mysql', '-uroot', `-p${REDACTED}`, 'db']],
    ['--auth VALUE', ['tool', '--auth', S], ['tool', '--auth', REDACTED]],
    ['--password=VALUE', ['tool', `--password=${S}`], ['tool', `--password=${REDACTED}`]],
    ['--token VALUE, -k VALUE kept', ['tool', '--token', S, '-k', 'x'], ['tool', '--token', REDACTED, '-k', 'x']],
    ['curl -u admin:X', ['curl', '-u', `admin:${S}`, 'https://h/'], ['curl', '-u', `admin:${REDACTED}`, 'https://h/']],
    ['curl -uadmin:X (attached)', ['curl', `-uadmin:${S}`], ['curl', `-uadmin:${REDACTED}`]],
    ['--user=admin:X', ['curl', `--user=admin:${S}`], ['curl', `--user=admin:${REDACTED}`]],
    ['pw= in a URL query', ['curl', `http://203.0.113.50/x.sh?user=a&pw=${S}`], ['curl', `http://203.0.113.50/x.sh?user=${REDACTED}&pw=${REDACTED}`]],
    ['URL userinfo', ['wget', `ftp://bob:${S}@files.example/x`], ['wget', `ftp://bob:${REDACTED}@files.example/x`]],
    ['Authorization header', ['curl', '-H', `Authorization: Bearer ${S}abcdef`], ['curl', '-H', `Authorization: Bearer ${REDACTED}`]],
    ['plain arguments and find -print stay', ['/usr/bin/curl', '-s', 'http://203.0.113.50/x.sh', '-o', '/tmp/x', '-print'], ['/usr/bin/curl', '-s', 'http://203.0.113.50/x.sh', '-o', '/tmp/x', '-print']],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => {
      const out = redactArgs(input);
      assert.deepEqual(out, expected);
      if (input.join(' ').includes(S)) assert.ok(!out.join(' ').includes(S), 'the secret is gone');
    });
  }

  test('negative control: without redaction the secret would be there', () => {
    assert.ok([`-p${S}`].join(' ').includes(S));
    assert.notDeepEqual(redactArgs(['tool', '--auth', S]), ['tool', '--auth', S]);
  });
});
