// Fault injection shared by every fake (HTTP, WebSocket exec, gRPC). A test queues faults
// for the next N matching calls; each fake asks `take(key)` before serving a call and acts
// on the answer: fail with a status, delay, hang, or drop the connection mid-way.

export interface Fault {
  /** Which calls: a method name (gRPC), or `METHOD /path` prefix / RegExp for HTTP. Omit for all. */
  match?: string | RegExp;
  /** HTTP status to answer (403, 404, 409, 429, 500, 503) or, for gRPC, a grpc status code. */
  status?: number;
  /** Seconds for Retry-After on 429/503. */
  retryAfter?: number;
  /** Extra latency before answering (or before the fault). */
  delayMs?: number;
  /** Never answer (until the fake is closed). */
  hang?: boolean;
  /** Answer only once this settles (after delayMs): the test decides when the call completes (fake-gcs). */
  release?: Promise<unknown>;
  /**
   * Streams (the fake API server's watch): answer 200 with its headers, then send nothing and
   * hold the stream open until the client lets go (a proxy buffering the chunked answer, a
   * stalled watch cache).
   */
  stall?: boolean;
  /** Answer part of the body / stream, then destroy the connection. */
  drop?: boolean;
  /** For `drop` on streams: bytes to send before dropping. */
  dropAfterBytes?: number;
  /** How many calls this fault applies to (default 1; Infinity for all). */
  times?: number;
  /** Optional message for error bodies. */
  message?: string;
  /** Narrows `match` by what the fake knows of the call (exec: `{ argv }`; GCS: `{ query }`). */
  where?: (detail: unknown) => boolean;
}

export interface CallRecord {
  key: string;
  start: number;
  end?: number;
  fault?: Fault;
  detail?: unknown;
}

export class FaultPlan {
  private readonly queue: { fault: Fault; left: number }[] = [];
  /** Latency added to every call (on top of per-fault delays). */
  latencyMs = 0;
  readonly calls: CallRecord[] = [];

  inject(fault: Fault): this {
    this.queue.push({ fault, left: fault.times ?? 1 });
    return this;
  }

  clear(): void {
    this.queue.length = 0;
    this.latencyMs = 0;
  }

  /** Returns the fault for this call (consuming one use), or undefined. */
  take(key: string, detail?: unknown): Fault | undefined {
    for (const entry of this.queue) {
      if (entry.left <= 0) continue;
      const m = entry.fault.match;
      const where = entry.fault.where;
      const hit = (m === undefined || (typeof m === 'string' ? key === m || key.startsWith(m) : m.test(key))) && (where === undefined || where(detail));
      if (hit) {
        entry.left -= 1;
        return entry.fault;
      }
    }
    return undefined;
  }

  /** Records a call; returns a function that marks its end. */
  record(key: string, fault?: Fault, detail?: unknown): () => void {
    const rec: CallRecord = { key, start: performance.now(), ...(fault ? { fault } : {}), ...(detail === undefined ? {} : { detail }) };
    this.calls.push(rec);
    return () => {
      rec.end = performance.now();
    };
  }

  /** Highest number of calls that were in flight at the same time (for concurrency asserts). */
  maxOverlap(filter?: (c: CallRecord) => boolean): number {
    const events: [number, number][] = [];
    for (const c of this.calls) {
      if (filter && !filter(c)) continue;
      events.push([c.start, 1], [c.end ?? Number.POSITIVE_INFINITY, -1]);
    }
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let cur = 0;
    let max = 0;
    for (const [, d] of events) {
      cur += d;
      max = Math.max(max, cur);
    }
    return max;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once `ready()` holds, or after `limitMs` (the test's assertions then say what went wrong). */
export async function waitUntil(ready: () => boolean, limitMs: number): Promise<void> {
  const end = Date.now() + limitMs;
  while (!ready() && Date.now() < end) await sleep(5);
}
