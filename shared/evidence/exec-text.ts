// Runs one small read command (ls, head) in the debug container and returns its bounded
// output. Used for the volatile state and the process search; the binary itself streams
// through copy-attempt.ts instead.
import { Writable } from 'node:stream';
import type { ExecResult, Workloads } from '../ports.js';
import type { Deadline } from './deadline.js';

export interface TextExec {
  workloads: Workloads;
  namespace: string;
  pod: string;
  container: string;
  deadline: Deadline;
  /** Counts every byte exec sent during the snapshot (the flood cap). */
  budget: ExecBudget;
}

/** The total of bytes every exec of one snapshot may send; past it, the snapshot stops reading. */
export class ExecBudget {
  used = 0;
  constructor(readonly cap: number) {}

  /** Takes `n` bytes; false when the cap is passed. */
  take(n: number): boolean {
    this.used += n;
    return this.used <= this.cap;
  }
}

export interface TextResult {
  stdout: Buffer;
  /** Output beyond `maxBytes` was dropped. */
  cut: boolean;
  result?: ExecResult;
  error?: unknown;
}

/** Runs `command` and keeps at most `maxBytes` of stdout (the rest ends the exec). */
export async function execText(x: TextExec, command: string[], maxBytes: number): Promise<TextResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  let cut = false;
  const abort = new AbortController();
  const onDeadline = (): void => abort.abort(x.deadline.signal.reason);
  if (x.deadline.signal.aborted) onDeadline();
  else x.deadline.signal.addEventListener('abort', onDeadline, { once: true });
  const stdout = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (!x.budget.take(chunk.length) || size + chunk.length > maxBytes) {
        chunks.push(chunk.subarray(0, Math.max(0, maxBytes - size)));
        size = maxBytes;
        cut = true;
        abort.abort(new Error('output cap reached'));
      } else if (!cut) {
        chunks.push(chunk);
        size += chunk.length;
      }
      cb();
    },
  });
  try {
    const result = await x.deadline.race(
      x.workloads.exec({ namespace: x.namespace, pod: x.pod, container: x.container, command, stdout, timeoutMs: x.deadline.remaining(), signal: abort.signal }),
    );
    return { stdout: Buffer.concat(chunks), cut, result };
  } catch (error) {
    return { stdout: Buffer.concat(chunks), cut, error };
  } finally {
    x.deadline.signal.removeEventListener('abort', onDeadline);
  }
}
