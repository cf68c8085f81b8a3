// google-gax hides the real status of a retryable failure once its retry budget is spent:
// "Exceeded maximum number of retries [N] retrying error Error: 8 RESOURCE_EXHAUSTED: ...
// before any response was received" arrives as DEADLINE_EXCEEDED (measured with pubsub 6.2.0
// and maxRetries 0). Both are transient, but the audit trail should say what the API actually
// answered (a 429 is a quota problem, not a slow server; a 500 is not a timeout). Pure.
import { classifyError, isTransientGrpc, ResponderError, type Classified } from './errors.js';

const RETRY_EXHAUSTED = /Exceeded maximum number of retries(?: \d+)? retrying error (?:Error: )?((\d{1,2}) ([A-Z_]+)(?:: [^\n]*?)?)(?: before any response was received|$|\n)/;

/** The gRPC status gax's retry-exhausted wrapper hides in its message, if it is one. */
export function unwrapGaxRetries(message: string): { code: number; name: string; text: string } | undefined {
  const m = RETRY_EXHAUSTED.exec(message);
  if (m?.[1] === undefined || m[2] === undefined || m[3] === undefined) return undefined;
  return { code: Number(m[2]), name: m[3], text: m[1] };
}

/** classifyError, with the underlying gRPC status recovered from gax's retry-exhausted wrapper. */
export function classifyGaxError(err: unknown): Classified {
  const c = classifyError(err);
  const hidden = unwrapGaxRetries(c.reason);
  if (!hidden) return c;
  return { kind: isTransientGrpc(hidden.code) ? 'transient' : 'permanent', code: hidden.name, reason: c.reason };
}

/** Wraps a Google API error with context (what was called), keeping or recovering its gRPC status. */
export function googleApiError(what: string, err: unknown): Error {
  if (err instanceof ResponderError) return err;
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) return err;
  const message = err instanceof Error ? err.message : String(err);
  const hidden = unwrapGaxRetries(message);
  const c = hidden ? classifyError({ code: hidden.code, details: '' }) : classifyError(err);
  const text = hidden ? `${hidden.text} (gax retries exhausted)` : (message.split('\n')[0] ?? message);
  return new ResponderError(`${what}: ${text}`, c.kind, { ...(c.code === undefined ? {} : { code: c.code }), cause: err });
}
