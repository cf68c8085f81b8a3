// Tells apart the ways copying a file through exec can fail, from the exit status, stderr and
// the errors the Kubernetes API answers with. A reviewer needs "the file is gone" and "the
// image has no cat" to read differently, and the retry decision needs transient vs permanent.
import { classifyError, isTransientHttp, type FailureKind } from '../common/errors.js';
import type { ExecResult } from '../ports.js';
import type { SnapshotFailure } from './types.js';

export type ExecOutcome = 'ok' | 'tool-missing' | SnapshotFailure;

export interface ClassifiedExec {
  outcome: ExecOutcome;
  reason: string;
  code?: number | string;
}

// containerd/runc: `exec: "cat": executable file not found in $PATH`; CRI-O and Docker word it
// similarly; shells say `cat: not found` / `command not found`.
const TOOL_MISSING = /executable file not found|no such file or directory: unknown|not found in \$PATH|command not found|exec format error/i;

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n').map((l) => l.trim()).find((l) => l.length > 0)?.slice(0, 300) ?? '';
}

/** Classifies an exec that returned (the command ran, or the runtime refused to start it). */
export function classifyExecResult(result: ExecResult, tool: string): ClassifiedExec {
  const stderr = result.stderr ?? '';
  const said = firstLine(stderr) || firstLine(result.message);
  if (result.exitCode === 0 && result.status === 'Success') return { outcome: 'ok', reason: `${tool} exited 0` };
  if (result.exitCode === null && result.status !== 'Failure') {
    return { outcome: 'stream-dropped', reason: `the exec stream of ${tool} ended without an exit status (connection dropped or API server restarted)` };
  }
  const exit = result.exitCode === null ? 'no exit code' : `exit ${result.exitCode}`;
  const blob = `${result.message ?? ''}\n${stderr}`;
  if (result.exitCode === 126 || result.exitCode === 127 || TOOL_MISSING.test(blob)) {
    return { outcome: 'tool-missing', reason: `the image has no usable \`${tool}\` (${exit}: ${said || 'executable not found'})` };
  }
  if (/No such file or directory|Cannot stat/i.test(stderr)) return { outcome: 'file-missing', reason: `the file does not exist in the container (${tool}, ${exit}: ${said})` };
  if (/Permission denied|Operation not permitted/i.test(stderr)) return { outcome: 'permission-denied', reason: `the file cannot be read (${tool}, ${exit}: ${said})` };
  if (/Is a directory/i.test(stderr)) return { outcome: 'not-a-regular-file', reason: `the path is a directory (${tool}, ${exit}: ${said})` };
  if (/not running|container not found|is terminated|has been terminated/i.test(blob)) {
    return { outcome: 'container-not-running', reason: `the container is not running (${exit}: ${said})` };
  }
  return { outcome: 'exec-failed', reason: `${tool} failed (${exit}${said ? `: ${said}` : ''})` };
}

/** Pulls an HTTP status out of an upgrade refusal (`Unexpected server response: 403`) or error fields. */
function statusOf(err: unknown): number | undefined {
  const c = classifyError(err);
  if (typeof c.code === 'number') return c.code;
  const m = /Unexpected server response: (\d{3})|\b(?:status|code)[ :=]+(\d{3})\b/i.exec(c.reason);
  const s = m?.[1] ?? m?.[2];
  return s === undefined ? undefined : Number(s);
}

/** Classifies an exec that threw (upgrade refused, socket error, abort). */
export function classifyExecError(err: unknown, tool: string): ClassifiedExec {
  const c = classifyError(err);
  const status = statusOf(err);
  const text = c.reason;
  if (c.code === 'TIMEOUT') return { outcome: 'timeout', reason: `${tool}: ${text}`, code: 'TIMEOUT' };
  if (status === 401 || status === 403) {
    return { outcome: 'exec-forbidden', reason: `exec into the container was refused (${status}): the responder's identity lacks get+create on pods/exec (${text})`, code: status };
  }
  if (status === 404) return { outcome: 'pod-gone', reason: `the pod no longer exists (404 on exec: ${text})`, code: 404 };
  if (/not running|is terminated|waiting to start|ContainerCreating|PodInitializing|completed pod/i.test(text)) {
    return { outcome: 'container-not-running', reason: `the container is not running (${text})`, ...(status === undefined ? {} : { code: status }) };
  }
  if (/not valid for pod|container .* not found/i.test(text)) return { outcome: 'invalid-target', reason: `the container does not exist in the pod (${text})`, ...(status === undefined ? {} : { code: status }) };
  if (status !== undefined) return { outcome: 'exec-failed', reason: `exec of ${tool} failed with HTTP ${status}: ${text}`, code: status };
  if (typeof c.code === 'string' && /^(ECONNRESET|EPIPE|ECONNABORTED|ERR_STREAM_PREMATURE_CLOSE|UND_ERR_SOCKET)$/.test(c.code)) {
    return { outcome: 'stream-dropped', reason: `the exec connection broke during ${tool} (${c.code}: ${text})`, code: c.code };
  }
  if (/socket hang up|closed|1006|premature/i.test(text)) return { outcome: 'stream-dropped', reason: `the exec connection broke during ${tool} (${text})` };
  return { outcome: 'exec-failed', reason: `exec of ${tool} failed: ${text}`, ...(c.code === undefined ? {} : { code: c.code }) };
}

/** Whether a failure is worth a retry (Pub/Sub redelivery) or final. */
export function failureKind(failure: SnapshotFailure, code?: number | string): FailureKind {
  switch (failure) {
    case 'timeout':
    case 'stream-dropped':
    case 'aborted':
      return 'transient';
    case 'store-failed':
    case 'exec-failed':
    case 'debug-container-failed':
      if (typeof code === 'number') return isTransientHttp(code) ? 'transient' : 'permanent';
      return typeof code === 'string' ? classifyError({ code }).kind : 'permanent';
    default:
      return 'permanent';
  }
}
