import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyGaxError } from '../../shared/common/gax-errors.js';

const wrapped = (inner: string) => Object.assign(new Error(`Exceeded maximum number of retries retrying error Error: ${inner} before any response was received`), { code: 4, details: 'x' });

test('the status hidden in gax retry exhaustion is recovered', () => {
  assert.deepEqual({ ...classifyGaxError(wrapped('8 RESOURCE_EXHAUSTED: quota')), reason: '' }, { kind: 'transient', code: 'RESOURCE_EXHAUSTED', reason: '' });
  assert.deepEqual({ ...classifyGaxError(wrapped('14 UNAVAILABLE: down')), reason: '' }, { kind: 'transient', code: 'UNAVAILABLE', reason: '' });
});

test('other errors classify as classifyError does', () => {
  assert.equal(classifyGaxError(Object.assign(new Error('7 PERMISSION_DENIED: no'), { code: 7, details: 'no' })).code, 'PERMISSION_DENIED');
  assert.equal(classifyGaxError(Object.assign(new Error('deadline'), { code: 4, details: 'deadline' })).code, 'DEADLINE_EXCEEDED');
});

test('googleApiError keeps what was called and recovers the hidden status (one unwrapper for both)', async () => {
  const { googleApiError, unwrapGaxRetries } = await import('../../shared/common/gax-errors.js');
  const msg = 'Exceeded maximum number of retries 3 retrying error Error: 13 INTERNAL: boom before any response was received';
  assert.deepEqual(unwrapGaxRetries(msg), { code: 13, name: 'INTERNAL', text: '13 INTERNAL: boom' });
  const e = googleApiError('GKE getCluster c1', Object.assign(new Error(msg), { code: 4, details: 'x' }));
  assert.match(e.message, /^GKE getCluster c1: 13 INTERNAL: boom \(gax retries exhausted\)$/);
  assert.equal((e as { code?: unknown }).code, 'INTERNAL');
  assert.equal(unwrapGaxRetries('7 PERMISSION_DENIED: no'), undefined);
  const plain = googleApiError('Logging entries.list', Object.assign(new Error('7 PERMISSION_DENIED: no\nmore'), { code: 7, details: 'no' }));
  assert.equal(plain.message, 'Logging entries.list: 7 PERMISSION_DENIED: no');
});
