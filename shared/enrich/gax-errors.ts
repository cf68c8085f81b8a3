// google-gax reports "retries exhausted" as DEADLINE_EXCEEDED and keeps the real failure only
// in the message ("Exceeded maximum number of retries retrying error Error: 13 INTERNAL: ...").
// A 500 or a dropped stream then reads like a timeout: recover the real gRPC status so the
// report says what happened. Classification (transient) is the same either way. Pure.
import { classifyError, ResponderError } from '../common/errors.js';

const RETRY_EXHAUSTED = /Exceeded maximum number of retries(?: \d+)? retrying error (?:Error: )?((\d{1,2}) [A-Z_]+: [^\n]*?) before any response was received/;

/** Wraps a Google API error with context, keeping (or recovering) its gRPC status. */
export function googleApiError(what: string, err: unknown): Error {
  if (err instanceof ResponderError) return err;
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) return err;
  const message = err instanceof Error ? err.message : String(err);
  const m = RETRY_EXHAUSTED.exec(message);
  const c = m ? classifyError({ code: Number(m[2]), details: '' }) : classifyError(err);
  const text = m ? `${m[1] ?? ''} (gax retries exhausted)` : (message.split('\n')[0] ?? message);
  return new ResponderError(`${what}: ${text}`, c.kind, { ...(c.code === undefined ? {} : { code: c.code }), cause: err });
}
