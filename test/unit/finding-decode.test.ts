import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { decodeMessage, type DecodeErrorCode } from '../../shared/finding/decode.js';
import { b64, cloudEvent, fixture, fixtureText, SECRET, v1 } from './finding-helpers.js';

const CE_HEADERS = { 'ce-specversion': '1.0', 'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished', 'ce-id': '77', 'ce-time': '2026-11-27T09:14:07Z' };

function withFinding(mutate: (f: Record<string, unknown>) => void): { data: string } {
  const n = v1();
  mutate(n.finding);
  return { data: b64(n) };
}

describe('decodeMessage accepts every envelope', () => {
  test('structured CloudEvent (fixture)', () => {
    const r = decodeMessage(fixtureText('cloudevent.modified-malicious-binary.v1.json'));
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.deepEqual(r.envelope, {
      kind: 'cloudevent-structured',
      eventType: 'google.cloud.pubsub.topic.v1.messagePublished',
      messageId: '12683374859123',
      publishTime: '2026-11-27T09:14:07.201Z',
      subscription: 'projects/acme-security/subscriptions/eventarc-us-central1-scc-responder-sub-042',
    });
    assert.equal(r.message.finding.category, 'Execution: Modified Malicious Binary Executed');
    assert.equal(r.message.finding.processes?.[0]?.binary?.size, 265856, 'int64 strings become numbers');
  });

  test('structured CloudEvent as object and as Buffer decode the same', () => {
    const text = fixtureText('cloudevent.modified-malicious-binary.v1.json');
    const a = decodeMessage(JSON.parse(text));
    const b = decodeMessage(Buffer.from(text));
    assert.deepEqual(a, b);
  });

  test('structured CloudEvent with data_base64 or data as a JSON string', () => {
    const ce = fixture('cloudevent.modified-malicious-binary.v1.json');
    const data = ce['data'];
    const viaB64 = decodeMessage({ ...ce, data: undefined, data_base64: b64(data) });
    assert.equal(viaB64.ok, true);
    const viaString = decodeMessage({ ...ce, data: JSON.stringify(data) });
    assert.equal(viaString.ok, true);
  });

  test('binary-mode CloudEvent: body is the push body, ce-* headers (any case) identify it', () => {
    const ce = fixture<{ data: unknown }>('cloudevent.modified-malicious-binary.v1.json');
    const r = decodeMessage(ce.data, { headers: { 'Ce-Specversion': '1.0', 'CE-Type': CE_HEADERS['ce-type'] } });
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.equal(r.envelope.kind, 'cloudevent-binary');
    assert.equal(r.envelope.messageId, '12683374859123');
  });

  test('binary mode falls back to ce-id / ce-time when the message has no id', () => {
    const r = decodeMessage({ message: { data: b64(v1()) } }, { headers: CE_HEADERS });
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.equal(r.envelope.messageId, '77');
    assert.equal(r.envelope.publishTime, '2026-11-27T09:14:07Z');
  });

  test('Pub/Sub push body without headers', () => {
    const ce = fixture<{ data: unknown }>('cloudevent.modified-malicious-binary.v1.json');
    const r = decodeMessage(ce.data);
    assert.equal(r.ok, true);
    if (r.ok) assert.equal(r.envelope.kind, 'pubsub-push');
  });

  test('bare PubsubMessage with snake_case ids', () => {
    const r = decodeMessage({ data: b64(v1()), message_id: '9', publish_time: '2026-11-27T09:14:07Z' });
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.deepEqual(r.envelope, { kind: 'pubsub-message', messageId: '9', publishTime: '2026-11-27T09:14:07Z' });
  });

  test('bare NotificationMessage v1 and v2 (names with /locations/)', () => {
    for (const f of ['modified-malicious-binary.v1.json', 'modified-malicious-binary.v2.json', 'added-binary-executed.v1.json']) {
      const r = decodeMessage(fixtureText(f));
      assert.equal(r.ok, true, f);
      if (r.ok) assert.equal(r.envelope.kind, 'notification');
    }
  });

  test('finding names under projects/ and folders/ are accepted', () => {
    for (const name of ['projects/845127364901/sources/1/findings/abc', 'folders/12/sources/1/locations/global/findings/abc']) {
      const n = v1();
      n.finding['name'] = name;
      assert.equal(decodeMessage(n).ok, true, name);
    }
  });

  test('unknown extra fields pass through (SCC adds fields over time)', () => {
    const n = v1();
    n.finding['brandNewField'] = { x: 1 };
    const r = decodeMessage(n);
    assert.equal(r.ok, true);
  });

  test('hostile content is kept as data (flagged later by toIncident)', () => {
    const r = decodeMessage(withFinding((f) => {
      const p = (f['processes'] as { binary: { path: string } }[])[0]!;
      p.binary.path = '/tmp/$(reboot);x\u0000y';
    }));
    assert.equal(r.ok, true);
    if (r.ok) assert.equal(r.message.finding.processes?.[0]?.binary?.path, '/tmp/$(reboot);x\u0000y');
  });

  test('maxBytes is configurable', () => {
    const input = { data: b64(v1()) };
    assert.equal(decodeMessage(input, { maxBytes: 100 }).ok, false);
    assert.equal(decodeMessage(input, { maxBytes: 1_000_000 }).ok, true);
  });
});

interface BadRow {
  name: string;
  input: () => unknown;
  headers?: Record<string, string>;
  code: DecodeErrorCode;
  message: RegExp;
  path?: string;
}

const FIVE_MIB = 5 * 1024 * 1024;

const BAD: BadRow[] = [
  { name: 'undefined', input: () => undefined, code: 'empty', message: /^no message body$/ },
  { name: 'null', input: () => null, code: 'empty', message: /^no message body$/ },
  { name: 'empty string', input: () => '', code: 'empty', message: /^body is empty$/ },
  { name: 'whitespace only', input: () => ' \n\t', code: 'empty', message: /^body is empty$/ },
  { name: 'invalid UTF-8 buffer', input: () => Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), code: 'not-utf8', message: /^body: not valid UTF-8$/ },
  { name: 'not JSON', input: () => 'hello world', code: 'not-json', message: /^body: not JSON \(unexpected character\)$/ },
  { name: 'truncated JSON', input: () => '{"finding": {', code: 'not-json', message: /^body: not JSON/ },
  { name: 'JSON with a position error', input: () => '{"a": 1 "b"}', code: 'not-json', message: /^body: not JSON \(syntax error at position 8\)$/ },
  { name: 'a number', input: () => 42, code: 'bad-shape', message: /got number$/ },
  { name: 'a JSON array', input: () => '[1,2,3]', code: 'bad-shape', message: /got array$/ },
  { name: 'empty object', input: () => ({}), code: 'bad-shape', message: /got an object with no keys$/ },
  { name: 'unrelated object', input: () => ({ hello: 'world' }), code: 'bad-shape', message: /keys hello$/ },
  { name: 'data not base64', input: () => ({ data: 'not base64!' }), code: 'not-base64', message: /^data: not valid base64 \(character 4 is not in the base64 alphabet\)$/, path: 'data' },
  { name: 'data with bad padding', input: () => ({ data: 'abcde' }), code: 'not-base64', message: /^data: not valid base64 \(length or padding is wrong\)$/ },
  { name: 'data with a line break', input: () => ({ data: `${b64(v1()).slice(0, 76)}\n${b64(v1()).slice(76)}` }), code: 'not-base64', message: /character 77/ },
  { name: 'data in base64url alphabet', input: () => ({ data: 'ab-_' }), code: 'not-base64', message: /character 3/ },
  { name: 'data empty string', input: () => ({ data: '' }), code: 'empty', message: /^data: empty$/, path: 'data' },
  { name: 'data of wrong type', input: () => ({ message: { data: 5 } }), code: 'bad-shape', message: /^message\.data: expected string, got number$/, path: 'message.data' },
  { name: 'message missing data', input: () => ({ message: { attributes: {} } }), code: 'bad-shape', message: /^message\.data: required$/, path: 'message.data' },
  { name: 'message not an object', input: () => ({ message: 'x' }), code: 'bad-shape', message: /^message: expected a Pub\/Sub message object, got string$/ },
  { name: 'subscription not a string', input: () => ({ message: { data: b64(v1()) }, subscription: 5 }), code: 'bad-shape', message: /^subscription: expected string, got number$/ },
  { name: 'decoded data not JSON', input: () => ({ data: b64('hello') }), code: 'not-json', message: /^data: not JSON/ },
  { name: 'decoded data not UTF-8', input: () => ({ data: Buffer.from([0xc3, 0x28]).toString('base64') }), code: 'not-utf8', message: /^data: not valid UTF-8$/ },
  { name: 'decoded data is an array', input: () => ({ data: b64([1, 2]) }), code: 'bad-shape', message: /expected an SCC NotificationMessage object, got array$/ },
  { name: 'decoded data empty', input: () => ({ data: b64(' ') }), code: 'empty', message: /decoded payload is empty/ },
  { name: 'finding missing', input: () => ({ data: b64({ notificationConfigName: 'x' }) }), code: 'bad-shape', message: /^finding: required$/, path: 'finding' },
  { name: 'finding not an object', input: () => ({ finding: 'x' }), code: 'bad-shape', message: /^finding: expected object, got string$/ },
  { name: 'category missing', input: () => withFinding((f) => delete f['category']), code: 'bad-shape', message: /^finding\.category: required$/, path: 'finding.category' },
  { name: 'category empty', input: () => withFinding((f) => (f['category'] = '')), code: 'bad-shape', message: /^finding\.category: must not be empty$/ },
  { name: 'category wrong type', input: () => withFinding((f) => (f['category'] = ['x'])), code: 'bad-shape', message: /^finding\.category: expected string, got array$/ },
  { name: 'state wrong type', input: () => withFinding((f) => (f['state'] = 1)), code: 'bad-shape', message: /^finding\.state: expected string, got number$/ },
  { name: 'resourceName missing', input: () => withFinding((f) => delete f['resourceName']), code: 'bad-shape', message: /^finding\.resourceName: required$/ },
  { name: 'finding name malformed', input: () => withFinding((f) => (f['name'] = 'organizations/1/findings/../../x')), code: 'bad-shape', message: /^finding\.name: expected organizations\|folders\|projects/ },
  { name: 'finding name with shell characters', input: () => withFinding((f) => (f['name'] = 'organizations/1/sources/2/findings/$(reboot)')), code: 'bad-shape', message: /^finding\.name: expected/ },
  { name: 'eventTime not a timestamp', input: () => withFinding((f) => (f['eventTime'] = 'yesterday')), code: 'bad-shape', message: /^finding\.eventTime: expected an RFC 3339 timestamp$/ },
  { name: 'processes not an array', input: () => withFinding((f) => (f['processes'] = {})), code: 'bad-shape', message: /^finding\.processes: expected array, got object$/ },
  { name: 'binary size not a number', input: () => withFinding((f) => ((f['processes'] as { binary: Record<string, unknown> }[])[0]!.binary['size'] = 'big')), code: 'bad-shape', message: /^finding\.processes\[0\]\.binary\.size: expected a non-negative integer$/ },
  { name: 'args with a non-string', input: () => withFinding((f) => ((f['processes'] as { args: unknown[] }[])[0]!.args = ['a', 1])), code: 'bad-shape', message: /^finding\.processes\[0\]\.args\[1\]: expected string, got number$/ },
  { name: 'sourceProperties an array', input: () => withFinding((f) => (f['sourceProperties'] = [])), code: 'bad-shape', message: /^finding\.sourceProperties: expected record, got array$/ },
  { name: 'pod labels malformed', input: () => withFinding((f) => ((f['kubernetes'] as { pods: { labels: unknown }[] }).pods[0]!.labels = [{ value: 'x' }])), code: 'bad-shape', message: /^finding\.kubernetes\.pods\[0\]\.labels\[0\]\.name: required$/ },
  { name: '5 MiB Pub/Sub message', input: () => ({ data: Buffer.alloc(FIVE_MIB, 0x20).toString('base64') }), code: 'too-large', message: /over the 1048576-byte limit/, path: 'data' },
  { name: '5 MiB raw body', input: () => 'x'.repeat(FIVE_MIB), code: 'too-large', message: /^body is 5242880 bytes, over the 2097152-byte limit$/ },
  { name: 'CloudEvent of another type', input: () => cloudEvent(v1(), { type: 'google.cloud.storage.object.v1.finalized' }), code: 'unsupported-event', message: /^type: expected google\.cloud\.pubsub\.topic\.v1\.messagePublished, got "google\.cloud\.storage\.object\.v1\.finalized"$/ },
  { name: 'CloudEvent without type', input: () => cloudEvent(v1(), { type: undefined }), code: 'bad-shape', message: /^type: required$/ },
  { name: 'CloudEvent without data', input: () => cloudEvent(v1(), { data: undefined }), code: 'bad-shape', message: /^data: required$/ },
  { name: 'CloudEvent with data not base64', input: () => cloudEvent(v1(), { data: { message: { data: '%%%%' } } }), code: 'not-base64', message: /^data\.message\.data: not valid base64/, path: 'data.message.data' },
  { name: 'CloudEvent with a bad notification', input: () => cloudEvent({ finding: { name: 'x' } }), code: 'bad-shape', message: /^finding\.name: expected .*; finding\.resourceName: required/ },
  { name: 'binary mode with another ce-type', input: () => ({ message: { data: b64(v1()) } }), headers: { 'ce-specversion': '1.0', 'ce-type': 'x' }, code: 'unsupported-event', message: /^ce-type: expected/ },
  { name: 'binary mode without message', input: () => ({ subscription: 's' }), headers: CE_HEADERS, code: 'bad-shape', message: /^message: required$/ },
  {
    name: 'an object whose getter throws',
    input: () => ({ get finding(): never { throw new Error('boom'); } }),
    code: 'internal',
    message: /^decoder failed unexpectedly \(Error\)$/,
  },
];

describe('decodeMessage rejects bad input with a classification and a clear message', () => {
  test(`the table has at least 25 rows (${BAD.length})`, () => assert.ok(BAD.length >= 25));
  for (const row of BAD) {
    test(row.name, () => {
      const r = decodeMessage(row.input(), row.headers ? { headers: row.headers } : {});
      assert.equal(r.ok, false, 'must be rejected');
      if (r.ok) return;
      assert.equal(r.error.code, row.code, r.error.message);
      assert.match(r.error.message, row.message);
      if (row.path !== undefined) assert.equal(r.error.path, row.path);
      assert.doesNotMatch(r.error.message, /\n\s+at /, 'no stack trace');
      assert.ok(r.error.message.length < 600, 'bounded message');
    });
  }
});

describe('decodeMessage never leaks input content in its messages', () => {
  test('a JSON syntax error does not quote the secret', () => {
    const r = decodeMessage(`{"STRIPE_API_KEY": ${SECRET}}`);
    assert.equal(r.ok, false);
    if (!r.ok) assert.ok(!r.error.message.includes(SECRET));
  });
  test('a wrong type does not quote the value', () => {
    const r = decodeMessage(withFinding((f) => (f['state'] = { secret: SECRET })));
    assert.equal(r.ok, false);
    if (!r.ok) assert.ok(!JSON.stringify(r.error).includes(SECRET));
  });
});

describe('decodeMessage never throws (property)', () => {
  test('arbitrary JSON values, strings and byte arrays', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.string(), fc.uint8Array(), fc.object()), (value) => {
        const r = decodeMessage(value);
        return typeof r.ok === 'boolean' && (r.ok || typeof r.error.message === 'string');
      }),
      { numRuns: 500 },
    );
  });
  test('arbitrary mutations of a valid notification', () => {
    const keys = ['name', 'category', 'state', 'resourceName', 'eventTime', 'processes', 'kubernetes', 'containers', 'sourceProperties', 'severity'];
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.jsonValue(), (key, value) => {
        const n = v1();
        n.finding[key] = value;
        const r = decodeMessage({ data: b64(n) });
        return typeof r.ok === 'boolean';
      }),
      { numRuns: 300 },
    );
  });
});
