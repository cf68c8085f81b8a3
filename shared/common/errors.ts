// Error classification shared by every step and by the function's retry decision.
// Transient failures (429, 5xx, timeouts, resets) make the function throw so Pub/Sub
// redelivers; permanent ones (403, 404, bad input) are recorded and the message is acked.

export type FailureKind = 'transient' | 'permanent';

/** An error that already knows its class and carries context (which step, which finding). */
export class ResponderError extends Error {
  readonly kind: FailureKind;
  readonly code?: number | string;
  constructor(message: string, kind: FailureKind, options?: { code?: number | string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ResponderError';
    this.kind = kind;
    if (options?.code !== undefined) this.code = options.code;
  }
}

export class TimeoutError extends ResponderError {
  constructor(what: string, ms: number) {
    super(`${what} timed out after ${ms} ms`, 'transient', { code: 'TIMEOUT' });
    this.name = 'TimeoutError';
  }
}

export interface Classified {
  kind: FailureKind;
  /** HTTP status, gRPC status name or errno code when known. */
  code?: number | string;
  reason: string;
}

// gRPC status codes (google.rpc.Code) that are worth retrying.
const GRPC_TRANSIENT = new Set([1, 4, 8, 10, 13, 14]); // CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE

/** The one rule for HTTP statuses: timeouts, throttling and server errors are worth a retry. */
export function isTransientHttp(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The one rule for gRPC status codes (google.rpc.Code). */
export function isTransientGrpc(code: number): boolean {
  return GRPC_TRANSIENT.has(code);
}
const GRPC_NAMES: Record<number, string> = {
  1: 'CANCELLED', 2: 'UNKNOWN', 3: 'INVALID_ARGUMENT', 4: 'DEADLINE_EXCEEDED', 5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS', 7: 'PERMISSION_DENIED', 8: 'RESOURCE_EXHAUSTED', 9: 'FAILED_PRECONDITION',
  10: 'ABORTED', 11: 'OUT_OF_RANGE', 12: 'UNIMPLEMENTED', 13: 'INTERNAL', 14: 'UNAVAILABLE',
  15: 'DATA_LOSS', 16: 'UNAUTHENTICATED',
};
const NET_TRANSIENT = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH',
  'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_HTTP2_STREAM_ERROR', 'ERR_STREAM_PUSH_AFTER_EOF',
]);

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    // JSON.stringify gives undefined (not a string) for undefined, functions and symbols.
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

function httpStatusOf(err: Record<string, unknown>): number | undefined {
  for (const key of ['statusCode', 'status', 'code']) {
    const v = err[key];
    if (typeof v === 'number' && v >= 100 && v < 600) return v;
  }
  const response = err['response'];
  if (typeof response === 'object' && response !== null) {
    const s = (response as Record<string, unknown>)['status'];
    if (typeof s === 'number') return s;
  }
  return undefined;
}

/** Classifies any thrown value from our code, a Google client, client-node or the network. */
export function classifyError(err: unknown): Classified {
  const reason = messageOf(err).split('\n')[0]?.slice(0, 500) ?? 'unknown error';
  if (err instanceof ResponderError) {
    return err.code === undefined ? { kind: err.kind, reason } : { kind: err.kind, code: err.code, reason };
  }
  if (typeof err !== 'object' || err === null) return { kind: 'permanent', reason };
  const e = err as Record<string, unknown>;
  if (e['name'] === 'AbortError' || e['name'] === 'TimeoutError') return { kind: 'transient', code: 'TIMEOUT', reason };
  // google-gax / grpc-js errors carry a numeric gRPC code and usually `details`.
  if (typeof e['code'] === 'number' && e['code'] >= 0 && e['code'] <= 16 && ('details' in e || 'metadata' in e || 'note' in e)) {
    const code = e['code'];
    return { kind: isTransientGrpc(code) ? 'transient' : 'permanent', code: GRPC_NAMES[code] ?? code, reason };
  }
  const status = httpStatusOf(e);
  if (status !== undefined) {
    return { kind: isTransientHttp(status) ? 'transient' : 'permanent', code: status, reason };
  }
  const errno = e['code'];
  if (typeof errno === 'string') {
    return { kind: NET_TRANSIENT.has(errno) ? 'transient' : 'permanent', code: errno, reason };
  }
  const cause = e['cause'];
  if (cause !== undefined && cause !== err) {
    const inner = classifyError(cause);
    return { ...inner, reason };
  }
  return { kind: 'permanent', reason };
}
