// Retry classification, against literal tables: whether a failure makes Pub/Sub redeliver
// (transient) or is recorded and acknowledged (permanent) decides between a retry storm and
// a lost finding, so every rule of shared/common/errors.ts is pinned here value by value.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyError, isTransientGrpc, isTransientHttp, ResponderError, TimeoutError } from '../../shared/common/errors.js';

describe('ResponderError and TimeoutError', () => {
  test('carry kind, code, cause and name', () => {
    const cause = new Error('root');
    const e = new ResponderError('boom', 'transient', { code: 503, cause });
    assert.equal(e.message, 'boom');
    assert.equal(e.name, 'ResponderError');
    assert.equal(e.kind, 'transient');
    assert.equal(e.code, 503);
    assert.equal(e.cause, cause);
    const bare = new ResponderError('bare', 'permanent');
    assert.equal(bare.code, undefined);
    assert.equal('cause' in bare, false);
  });

  test('TimeoutError says what timed out, is transient with code TIMEOUT', () => {
    const e = new TimeoutError('snapshot', 3000);
    assert.ok(e instanceof ResponderError);
    assert.equal(e.name, 'TimeoutError');
    assert.equal(e.message, 'snapshot timed out after 3000 ms');
    assert.deepEqual(classifyError(e), { kind: 'transient', code: 'TIMEOUT', reason: 'snapshot timed out after 3000 ms' });
  });
});

describe('isTransientHttp / isTransientGrpc', () => {
  test('HTTP: 408, 429 and every 5xx; nothing else', () => {
    const table: [number, boolean][] = [
      [200, false], [400, false], [401, false], [403, false], [404, false], [407, false], [408, true], [409, false],
      [412, false], [428, false], [429, true], [430, false], [499, false], [500, true], [502, true], [503, true], [504, true], [599, true],
    ];
    for (const [status, transient] of table) assert.equal(isTransientHttp(status), transient, String(status));
  });

  test('gRPC: CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE', () => {
    const transient = Array.from({ length: 17 }, (_, c) => c).filter(isTransientGrpc);
    assert.deepEqual(transient, [1, 4, 8, 10, 13, 14]);
  });
});

describe('classifyError', () => {
  test('our own errors keep their class; the code only when they have one', () => {
    assert.deepEqual(classifyError(new ResponderError('x', 'transient', { code: 'IN_PROGRESS' })), { kind: 'transient', code: 'IN_PROGRESS', reason: 'x' });
    const r = classifyError(new ResponderError('y', 'permanent'));
    assert.deepEqual(r, { kind: 'permanent', reason: 'y' });
    assert.equal('code' in r, false);
  });

  test('non-objects are permanent, with a readable reason', () => {
    assert.deepEqual(classifyError('plain words'), { kind: 'permanent', reason: 'plain words' });
    assert.deepEqual(classifyError(42), { kind: 'permanent', reason: '42' });
    assert.deepEqual(classifyError(null), { kind: 'permanent', reason: 'null' });
    // A promise rejected with nothing: classified, not a TypeError inside the classifier.
    assert.deepEqual(classifyError(undefined), { kind: 'permanent', reason: 'undefined' });
    assert.deepEqual(classifyError(Symbol('s')), { kind: 'permanent', reason: 'Symbol(s)' });
  });

  test('the reason is the first line, at most 500 characters; an unserialisable value still has one', () => {
    assert.equal(classifyError(new Error('first\nsecond')).reason, 'first');
    assert.equal(classifyError(new Error('x'.repeat(900))).reason.length, 500);
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    assert.deepEqual(classifyError(circular), { kind: 'permanent', reason: '[object Object]' });
    assert.equal(classifyError({ message: 'not an Error' }).reason, '{"message":"not an Error"}');
  });

  test('AbortError and TimeoutError by name are transient TIMEOUT', () => {
    for (const name of ['AbortError', 'TimeoutError']) {
      const e = Object.assign(new Error('gone'), { name });
      assert.deepEqual(classifyError(e), { kind: 'transient', code: 'TIMEOUT', reason: 'gone' });
    }
    assert.notEqual(classifyError(Object.assign(new Error('x'), { name: 'OtherError' })).kind, 'transient');
  });

  test('gRPC errors (numeric code 0..16 with details, metadata or note) by status name', () => {
    const table: [Record<string, unknown>, string, string | number][] = [
      [{ code: 14, details: 'unavailable' }, 'transient', 'UNAVAILABLE'],
      [{ code: 4, metadata: {} }, 'transient', 'DEADLINE_EXCEEDED'],
      [{ code: 8, note: 'quota' }, 'transient', 'RESOURCE_EXHAUSTED'],
      [{ code: 7, details: 'denied' }, 'permanent', 'PERMISSION_DENIED'],
      [{ code: 5, details: 'missing' }, 'permanent', 'NOT_FOUND'],
      [{ code: 16, details: 'who' }, 'permanent', 'UNAUTHENTICATED'],
      [{ code: 0, details: 'ok?' }, 'permanent', 0],
    ];
    for (const [err, kind, code] of table) {
      const c = classifyError(Object.assign(new Error('grpc'), err));
      assert.deepEqual({ kind: c.kind, code: c.code }, { kind, code }, JSON.stringify(err));
    }
  });

  test('every gRPC status code is named (google.rpc.Code)', () => {
    const names = ['CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];
    names.forEach((name, i) => assert.equal(classifyError(Object.assign(new Error('g'), { code: i + 1, details: '' })).code, name, String(i + 1)));
  });

  test('a string that looks like a number is not a status: "503" is an errno-like code, "5" is not gRPC', () => {
    assert.deepEqual(classifyError(Object.assign(new Error('s'), { statusCode: '503' })), { kind: 'permanent', reason: 's' });
    assert.deepEqual(classifyError(Object.assign(new Error('s'), { code: '503' })), { kind: 'permanent', code: '503', reason: 's' });
    assert.deepEqual(classifyError(Object.assign(new Error('s'), { code: '5', details: 'x' })), { kind: 'permanent', code: '5', reason: 's' });
  });

  test('a number code outside 0..16, or without gRPC fields, is not read as gRPC', () => {
    // 17 with details: no gRPC name, no HTTP status, no errno: permanent without a code.
    const c17 = classifyError(Object.assign(new Error('odd'), { code: 17, details: 'x' }));
    assert.deepEqual(c17, { kind: 'permanent', reason: 'odd' });
    const cNeg = classifyError(Object.assign(new Error('neg'), { code: -1, details: 'x' }));
    assert.deepEqual(cNeg, { kind: 'permanent', reason: 'neg' });
    // 14 without details/metadata/note: not gRPC, and too small to be an HTTP status.
    assert.deepEqual(classifyError(Object.assign(new Error('bare'), { code: 14 })), { kind: 'permanent', reason: 'bare' });
    // 503 with details: an HTTP status.
    assert.deepEqual(classifyError(Object.assign(new Error('http'), { code: 503, details: 'x' })), { kind: 'transient', code: 503, reason: 'http' });
  });

  test('HTTP statuses from statusCode, status, code (in that order) or response.status', () => {
    const table: [Record<string, unknown>, string, number][] = [
      [{ statusCode: 503 }, 'transient', 503],
      [{ status: 404 }, 'permanent', 404],
      [{ code: 429 }, 'transient', 429],
      [{ response: { status: 500 } }, 'transient', 500],
      [{ response: { status: 403 } }, 'permanent', 403],
      [{ statusCode: 404, status: 503, code: 500 }, 'permanent', 404],
      [{ status: 408, code: 400 }, 'transient', 408],
      [{ statusCode: 99, status: 412 }, 'permanent', 412],
      [{ statusCode: 600, code: 502 }, 'transient', 502],
      [{ status: 100 }, 'permanent', 100],
      [{ status: 599 }, 'transient', 599],
    ];
    for (const [err, kind, code] of table) {
      const c = classifyError(Object.assign(new Error('h'), err));
      assert.deepEqual({ kind: c.kind, code: c.code }, { kind, code }, JSON.stringify(err));
    }
    // A response without a numeric status says nothing.
    assert.deepEqual(classifyError(Object.assign(new Error('r'), { response: { status: '500' } })), { kind: 'permanent', reason: 'r' });
    assert.deepEqual(classifyError(Object.assign(new Error('r'), { response: null })), { kind: 'permanent', reason: 'r' });
  });

  test('network errno codes: the transient table, anything else permanent with its code', () => {
    const transient = [
      'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED',
      'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE',
      'ERR_HTTP2_STREAM_ERROR', 'ERR_STREAM_PUSH_AFTER_EOF',
    ];
    for (const code of transient) assert.deepEqual(classifyError(Object.assign(new Error('net'), { code })), { kind: 'transient', code, reason: 'net' }, code);
    for (const code of ['EACCES', 'ENOENT', 'ERR_INVALID_ARG_TYPE', '']) {
      assert.deepEqual(classifyError(Object.assign(new Error('local'), { code })), { kind: 'permanent', code, reason: 'local' }, code);
    }
  });

  test('an error without a class of its own takes its cause’s, keeping its own reason', () => {
    assert.deepEqual(classifyError(new Error('outer', { cause: Object.assign(new Error('inner'), { code: 'ECONNRESET' }) })), { kind: 'transient', code: 'ECONNRESET', reason: 'outer' });
    assert.deepEqual(classifyError(new Error('outer', { cause: { status: 403 } })), { kind: 'permanent', code: 403, reason: 'outer' });
    assert.deepEqual(classifyError(new Error('deep', { cause: new Error('mid', { cause: { statusCode: 503 } }) })), { kind: 'transient', code: 503, reason: 'deep' });
    // An own code wins over the cause's.
    assert.deepEqual(classifyError(Object.assign(new Error('own', { cause: { status: 503 } }), { code: 'EACCES' })), { kind: 'permanent', code: 'EACCES', reason: 'own' });
    // A cause that is the error itself ends the walk.
    const self = new Error('self') as Error & { cause?: unknown };
    self.cause = self;
    assert.deepEqual(classifyError(self), { kind: 'permanent', reason: 'self' });
    assert.deepEqual(classifyError(new Error('none', { cause: undefined })), { kind: 'permanent', reason: 'none' });
  });
});
