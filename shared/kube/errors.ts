// Turns what client-node throws into errors that say which call failed on what, and that
// classifyError (shared/common/errors.ts) classifies right: the HTTP status is kept as the
// code, and the Kubernetes `Status` message (client-node keeps the body as a JSON string)
// becomes the reason instead of client-node's multi-line "HTTP-Code: ..." text.
import { classifyError, isTransientHttp, ResponderError } from '../common/errors.js';
import type { KubeCallName } from './api-calls.js';

export class KubeApiError extends ResponderError {
  /** HTTP status of the answer. */
  readonly statusCode: number;
  /** Kubernetes `Status.reason` (NotFound, Conflict, AlreadyExists, Forbidden, ...). */
  readonly statusReason?: string;
  readonly retryAfterSeconds?: number;
  readonly call: KubeCallName;

  constructor(call: KubeCallName, target: string, statusCode: number, message: string, options: { statusReason?: string; retryAfterSeconds?: number; cause?: unknown } = {}) {
    const reasonPart = options.statusReason ? ` ${options.statusReason}` : '';
    super(`kubernetes ${call} ${target}: HTTP ${statusCode}${reasonPart}: ${message}`, isTransientHttp(statusCode) ? 'transient' : 'permanent', { code: statusCode, cause: options.cause });
    this.name = 'KubeApiError';
    this.statusCode = statusCode;
    this.call = call;
    if (options.statusReason !== undefined) this.statusReason = options.statusReason;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

interface StatusLike {
  message?: string;
  reason?: string;
  details?: { retryAfterSeconds?: number };
}

/** Parses a Status body that may be a JSON string, an object, or anything else. */
export function parseStatusBody(body: unknown): StatusLike | undefined {
  if (typeof body === 'string') {
    try {
      const parsed: unknown = JSON.parse(body);
      return typeof parsed === 'object' && parsed !== null ? (parsed as StatusLike) : { message: body.slice(0, 300) };
    } catch {
      return body.trim() ? { message: body.trim().slice(0, 300) } : undefined;
    }
  }
  return typeof body === 'object' && body !== null ? (body as StatusLike) : undefined;
}

function isApiException(err: unknown): err is { code: number; body: unknown; headers?: Record<string, string> } {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as Record<string, unknown>;
  return typeof e['code'] === 'number' && e['code'] >= 100 && e['code'] < 600 && 'body' in e;
}

/** ExecUpgradeError (exec-socket.ts), matched structurally to keep this module free of ws. */
function isUpgradeRefusal(err: unknown): err is { statusCode: number; statusMessage: string; statusReason?: string; retryAfterSeconds?: number } {
  return err instanceof Error && err.name === 'ExecUpgradeError' && typeof (err as { statusCode?: unknown }).statusCode === 'number';
}

/** Wraps any error of a Kubernetes call with the call name and target; keeps ResponderErrors (timeouts) as they are. */
export function toKubeError(call: KubeCallName, target: string, err: unknown): Error {
  if (err instanceof ResponderError) return err;
  if (isUpgradeRefusal(err)) {
    return new KubeApiError(call, target, err.statusCode, err.statusMessage, {
      ...(err.statusReason ? { statusReason: err.statusReason } : {}),
      ...(err.retryAfterSeconds !== undefined ? { retryAfterSeconds: err.retryAfterSeconds } : {}),
      cause: err,
    });
  }
  if (isApiException(err)) {
    const status = parseStatusBody(err.body);
    const retryHeader = err.headers?.['retry-after'];
    const retryAfterSeconds = status?.details?.retryAfterSeconds ?? (retryHeader !== undefined && /^\d+$/.test(retryHeader) ? Number(retryHeader) : undefined);
    return new KubeApiError(call, target, err.code, status?.message ?? 'no Status body', {
      ...(status?.reason ? { statusReason: status.reason } : {}),
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
      cause: err,
    });
  }
  // Aborts keep their identity (runStep's timeout aborts with a TimeoutError reason).
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) return err;
  const c = classifyError(err);
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  const text = `${err instanceof Error ? err.message : String(err)}${cause}`;
  return new ResponderError(`kubernetes ${call} ${target}: ${text}`, c.kind, { ...(c.code === undefined ? {} : { code: c.code }), cause: err });
}
