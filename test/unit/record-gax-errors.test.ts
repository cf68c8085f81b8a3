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
