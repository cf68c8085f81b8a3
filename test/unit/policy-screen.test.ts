// The filter's fast path: screenMessage() answers a finding of an uncovered category without
// validating it in full, and must otherwise be indistinguishable from decideMessage().
// Also the two decode shortcuts it relies on: canonical base64 checked by re-encoding (with
// the exact regular expression as the fallback) and toIncident() trusting decodeMessage()'s
// own output.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeMessage, decodeWithScreen } from '../../shared/finding/decode.js';
import { toIncident } from '../../shared/finding/incident.js';
import { categoryNotCovered, coversCategory } from '../../shared/policy/decide.js';
import { decideMessage, screenMessage } from '../../shared/policy/decide-message.js';
import { defaultPolicy } from '../../shared/policy/default-policy.js';
import { b64, cloudEvent, fixture, fixtureText, SECRET, v1, type NotificationLike } from './finding-helpers.js';

const CE_HEADERS = { 'ce-specversion': '1.0', 'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished', 'ce-id': '77' };
const ADDED = 'Added Binary Executed';

function notification(mutate: (n: NotificationLike) => void = () => {}): NotificationLike {
  const n = v1();
  mutate(n);
  return n;
}

const uncovered = (n: NotificationLike): void => {
  n.finding['category'] = ADDED;
};

/** Every envelope the decoder accepts, around one notification, with its decode context. */
function envelopes(n: unknown): { name: string; input: unknown; headers?: Record<string, string> }[] {
  const ce = cloudEvent(n);
  return [
    { name: 'structured CloudEvent object', input: ce },
    { name: 'structured CloudEvent text', input: JSON.stringify(ce) },
    { name: 'structured CloudEvent bytes', input: Buffer.from(JSON.stringify(ce)) },
    { name: 'binary CloudEvent', input: ce['data'], headers: CE_HEADERS },
    { name: 'Pub/Sub push body', input: ce['data'] },
    { name: 'bare PubsubMessage', input: { data: b64(n), messageId: '9' } },
    { name: 'bare notification', input: n },
  ];
}

describe('screenMessage: uncovered categories are answered without full validation', () => {
  test('the Added Binary Executed fixture: same decision and envelope as decideMessage, no incident', () => {
    const input = fixture('cloudevent.added-binary-executed.v1.json');
    const fast = screenMessage(input, defaultPolicy());
    const full = decideMessage(input, defaultPolicy());
    assert.equal(fast.stage, 'screen');
    assert.equal(full.stage, 'decide');
    if (fast.stage !== 'screen' || full.stage !== 'decide') return;
    assert.deepEqual(fast.decision, full.decision);
    assert.equal(fast.decision.reason, 'category "Added Binary Executed" is not covered by the policy (covers ["Execution: Modified Malicious Binary Executed"])');
    assert.deepEqual(fast.envelope, full.envelope);
    assert.deepEqual(fast.finding, { name: full.incident.findingName, category: ADDED, state: 'ACTIVE' });
    assert.ok(!('incident' in fast));
    assert.ok(!JSON.stringify(fast).includes(SECRET));
  });

  for (const env of envelopes(notification(uncovered))) {
    test(`${env.name}: screened, same decision and envelope as decideMessage`, () => {
      const ctx = env.headers ? { headers: env.headers } : {};
      const fast = screenMessage(env.input, defaultPolicy(), ctx);
      const full = decideMessage(env.input, defaultPolicy(), ctx);
      assert.equal(fast.stage, 'screen');
      assert.equal(full.stage, 'decide');
      if (fast.stage !== 'screen' || full.stage !== 'decide') return;
      assert.deepEqual(fast.decision, full.decision);
      assert.deepEqual(fast.envelope, full.envelope);
    });
  }

  for (const env of envelopes(notification())) {
    test(`${env.name}, covered category: exactly decideMessage's result`, () => {
      const ctx = env.headers ? { headers: env.headers } : {};
      const fast = screenMessage(env.input, defaultPolicy(), ctx);
      assert.equal(fast.stage, 'decide');
      assert.deepEqual(fast, decideMessage(env.input, defaultPolicy(), ctx));
    });
  }

  test('a finding without state is screened with no state in the header', () => {
    const r = screenMessage(cloudEvent(notification((n) => {
      uncovered(n);
      delete n.finding['state'];
    })), defaultPolicy());
    assert.equal(r.stage, 'screen');
    if (r.stage === 'screen') assert.equal('state' in r.finding, false);
  });

  test('documented difference: an uncovered finding malformed elsewhere is screened (ignored) where decideMessage rejects it', () => {
    const input = cloudEvent(notification((n) => {
      uncovered(n);
      n.finding['eventTime'] = 'yesterday';
      n.finding.processes[0]!.args = [42 as unknown as string];
    }));
    assert.equal(screenMessage(input, defaultPolicy()).stage, 'screen');
    const full = decideMessage(input, defaultPolicy());
    assert.equal(full.stage, 'decode');
    if (full.stage === 'decode') assert.equal(full.error.code, 'bad-shape');
  });

  // Without a sound header there is nothing trustworthy to screen on: the full decode runs
  // and gives its precise error, exactly as decideMessage does.
  const unsound: [string, (n: NotificationLike) => void, RegExp][] = [
    ['name missing', (n) => delete n.finding['name'], /^finding\.name: required/],
    ['name a number', (n) => (n.finding['name'] = 7), /^finding\.name: expected string, got number/],
    ['name not a finding name', (n) => (n.finding['name'] = 'organizations/1/sources/2/findings/$(reboot)'), /^finding\.name: expected organizations/],
    ['category empty', (n) => (n.finding['category'] = ''), /^finding\.category: must not be empty/],
    ['category an array', (n) => (n.finding['category'] = [ADDED]), /^finding\.category: expected string, got array/],
  ];
  for (const [name, mutate, message] of unsound) {
    test(`unsound header (${name}): rejected exactly as by decideMessage`, () => {
      const input = cloudEvent(notification((n) => {
        uncovered(n);
        mutate(n);
      }));
      const fast = screenMessage(input, defaultPolicy());
      assert.deepEqual(fast, decideMessage(input, defaultPolicy()));
      assert.equal(fast.stage, 'decode');
      if (fast.stage === 'decode') assert.match(fast.error.message, message);
    });
  }

  test('finding not an object, notification not an object: rejected as by decideMessage', () => {
    for (const payload of [{ finding: [ADDED] }, { finding: 'x' }, [1, 2], 'null']) {
      const input = cloudEvent(payload);
      const fast = screenMessage(input, defaultPolicy());
      assert.equal(fast.stage, 'decode');
      assert.deepEqual(fast, decideMessage(input, defaultPolicy()));
    }
  });

  test('envelope errors are found before any screening, for uncovered categories too', () => {
    const good = cloudEvent(notification(uncovered));
    const data = good['data'] as { message: { data: string } };
    const cases: [unknown, string][] = [
      [{ ...good, type: 'google.cloud.storage.object.v1.finalized' }, 'unsupported-event'],
      [{ ...good, data: { message: { data: `${data.message.data.slice(0, -4)}*!==` } } }, 'not-base64'],
      [{ ...good, data: { message: { data: data.message.data, messageId: 5 } } }, 'bad-shape'],
      [{ ...good, data: { message: { data: b64('{"finding": {"name": ') } } }, 'not-json'],
    ];
    for (const [input, code] of cases) {
      const fast = screenMessage(input, defaultPolicy());
      assert.equal(fast.stage, 'decode');
      if (fast.stage === 'decode') assert.equal(fast.error.code, code);
      assert.deepEqual(fast, decideMessage(input, defaultPolicy()));
    }
  });

  test('a screen predicate that throws means "validate in full", never a throw', () => {
    const r = decodeWithScreen(cloudEvent(notification(uncovered)), () => {
      throw new Error('bug in the predicate');
    });
    assert.equal(r.ok, true);
    assert.ok(r.ok && 'message' in r, 'fully decoded');
  });

  test('coversCategory and categoryNotCovered agree with the policy', () => {
    const p = defaultPolicy();
    assert.equal(coversCategory(p, 'Execution: Modified Malicious Binary Executed'), true);
    assert.equal(coversCategory(p, ADDED), false);
    assert.equal(coversCategory(p, 'execution: modified malicious binary executed'), false, 'exact strings only');
    assert.deepEqual(categoryNotCovered('"quoted"', p), {
      matched: false,
      code: 'category-not-covered',
      reason: 'category "\\"quoted\\"" is not covered by the policy (covers ["Execution: Modified Malicious Binary Executed"])',
    });
  });
});

describe('decode shortcuts keep their results', () => {
  test('base64 with non-zero trailing bits (valid, not canonical) still decodes, to the same message', () => {
    // Pad the JSON so its base64 ends in `X==`, whose low 4 bits carry no data.
    let text = JSON.stringify(v1());
    while (text.length % 3 !== 1) text += ' ';
    const canonical = Buffer.from(text).toString('base64');
    assert.match(canonical, /==$/);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = canonical.at(-3) as string;
    const tweaked = `${canonical.slice(0, -3)}${alphabet[alphabet.indexOf(last) + 1]}==`;
    assert.notEqual(tweaked, canonical);
    const a = decodeMessage({ data: canonical });
    const b = decodeMessage({ data: tweaked });
    assert.equal(b.ok, true, b.ok ? '' : b.error.message);
    assert.deepEqual(a, b);
  });

  test('invalid base64 is still rejected with its position (alphabet, padding, whitespace)', () => {
    const data = b64(v1());
    const cases: [string, RegExp][] = [
      [`${data.slice(0, 8)}-${data.slice(9)}`, /character 9 is not in the base64 alphabet/],
      [data.replace(/=+$/, ''), /length or padding is wrong/],
      [`${data}\n`, /character \d+ is not in the base64 alphabet/],
      [`${data.slice(0, 4)} ${data.slice(4)}`, /character 5 is not in the base64 alphabet/],
    ];
    for (const [value, message] of cases) {
      const r = decodeMessage({ data: value });
      assert.equal(r.ok, false, value.slice(0, 20));
      if (!r.ok) {
        assert.equal(r.error.code, 'not-base64');
        assert.match(r.error.message, message);
      }
    }
  });

  test("toIncident trusts decodeMessage's output and gives the same incident as for a re-validated copy", () => {
    const d = decodeMessage(fixtureText('cloudevent.modified-malicious-binary.v1.json'));
    assert.equal(d.ok, true);
    if (!d.ok) return;
    const trusted = toIncident(d.message);
    const revalidated = toIncident(structuredClone(d.message));
    assert.equal(trusted.ok, true);
    assert.deepEqual(trusted, revalidated);
  });

  test('a look-alike object (not the validated one) is validated: bad shapes are still caught', () => {
    const d = decodeMessage(fixtureText('cloudevent.modified-malicious-binary.v1.json'));
    assert.equal(d.ok, true);
    if (!d.ok) return;
    const copy = structuredClone(d.message) as unknown as { finding: Record<string, unknown> };
    copy.finding['eventTime'] = 12;
    const r = toIncident(copy);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.error.path, 'finding.eventTime');
  });
});

describe('incident: pod label values are masked like arguments (found by the fuzz test)', () => {
  test('a token in a label value, and any value under a credential-like key, never reach the Incident', () => {
    const n = v1();
    n.finding.kubernetes.pods[0]!.labels.push({ name: 'billing.acme.io/key', value: SECRET }, { name: 'db-password', value: 'hunter2' });
    const r = toIncident(n);
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.equal(r.incident.podLabels['billing.acme.io/key'], '[REDACTED]');
    assert.equal(r.incident.podLabels['db-password'], '[REDACTED]');
    assert.equal(r.incident.podLabels['app'], 'checkout', 'ordinary labels are kept for policy matching');
    assert.ok(!JSON.stringify(r.incident).includes(SECRET));
    assert.ok(!JSON.stringify(r.incident).includes('hunter2'));
  });
});
