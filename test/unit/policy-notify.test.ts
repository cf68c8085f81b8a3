// The rule-level `notify` setting: accepted targets reach the plan; an unknown channel, a
// secret name that could be a value (a URL) and an empty list are errors with their line.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toIncident } from '../../shared/finding/incident.js';
import { decide } from '../../shared/policy/decide.js';
import { loadPolicy } from '../../shared/policy/load.js';
import { v1 } from './finding-helpers.js';

const policy = (notify: string): string => `version: 1
rules:
  - name: tell
    match:
      categories: ["Execution: Modified Malicious Binary Executed"]
${notify}`;

test('notify targets reach the plan; a rule without notify has none', () => {
  const r = loadPolicy(policy('    notify:\n      - { channel: slack, secret: slack-secops }\n      - { channel: pagerduty, secret: pd_key }\n'));
  assert.ok(r.ok, r.ok ? '' : r.errors.map((e) => e.text).join('\n'));
  const i = toIncident(v1());
  assert.ok(i.ok);
  const d = decide(i.incident, r.policy);
  assert.ok(d.matched);
  assert.deepEqual(d.notify, [{ channel: 'slack', secret: 'slack-secops' }, { channel: 'pagerduty', secret: 'pd_key' }]);
  const none = loadPolicy(policy(''));
  assert.ok(none.ok);
  const d2 = decide(i.incident, none.policy);
  assert.ok(d2.matched);
  assert.equal(d2.notify, undefined);
});

test('an unknown channel, a URL where a secret name belongs and an empty list are refused', () => {
  for (const [notify, want] of [
    ['    notify:\n      - { channel: email, secret: x }\n', /channel/],
    ['    notify:\n      - { channel: slack, secret: "https://hooks.slack.com/services/T/B/x" }\n', /expected a secret name/],
    ['    notify: []\n', /notify/],
    ['    notify:\n      - { channel: slack, secret: s, url: "https://x" }\n', /url/],
  ] as const) {
    const r = loadPolicy(policy(notify));
    assert.equal(r.ok, false, notify);
    if (!r.ok) assert.match(r.errors.map((e) => e.text).join('\n'), want, notify);
  }
});
