// google-gax hides the real status of a retryable failure once its retry budget is spent:
// "Exceeded maximum number of retries retrying error Error: 8 RESOURCE_EXHAUSTED: ... before
// any response was received" arrives as DEADLINE_EXCEEDED (measured with pubsub 6.2.0 and
// maxRetries 0). Both are transient, but the audit trail should say what SCC or Pub/Sub
// actually answered (a 429 is a quota problem, not a slow server).
import { classifyError, type Classified } from './errors.js';

const RETRY_EXHAUSTED = /Exceeded maximum number of retries retrying error (?:Error: )?(\d{1,2}) ([A-Z_]+)/;
const GRPC_TRANSIENT = new Set([1, 4, 8, 10, 13, 14]);

/** classifyError, with the underlying gRPC status recovered from gax's retry-exhausted wrapper. */
export function classifyGaxError(err: unknown): Classified {
  const c = classifyError(err);
  const m = RETRY_EXHAUSTED.exec(c.reason);
  if (m?.[1] !== undefined && m[2] !== undefined) {
    const code = Number(m[1]);
    return { kind: GRPC_TRANSIENT.has(code) ? 'transient' : 'permanent', code: m[2], reason: c.reason };
  }
  return c;
}
