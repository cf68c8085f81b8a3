// The snapshot's one deadline: a timer plus the caller's signal, raced against every call of
// the snapshot (exec, store, debug container), so nothing it awaits can outlive it.
import { TimeoutError } from '../common/errors.js';
import type { SnapshotFailure } from './types.js';

export class Deadline {
  readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly end: number;
  private readonly onOuter: () => void;

  constructor(readonly timeoutMs: number, private readonly outer: AbortSignal | undefined, what = 'snapshot') {
    this.end = Date.now() + timeoutMs;
    this.timer = setTimeout(() => this.controller.abort(new TimeoutError(what, timeoutMs)), timeoutMs);
    this.onOuter = (): void => this.controller.abort(outer?.reason ?? new Error('snapshot aborted'));
    if (outer?.aborted) this.onOuter();
    else outer?.addEventListener('abort', this.onOuter, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  remaining(): number {
    return Math.max(1, this.end - Date.now());
  }

  /** Why the deadline fired: our own timeout, or the caller's signal. */
  failure(): SnapshotFailure {
    return this.signal.reason instanceof TimeoutError ? 'timeout' : 'aborted';
  }

  /** Races a promise against the deadline (the promise keeps running, its result is dropped). */
  race<T>(p: Promise<T>): Promise<T> {
    if (this.signal.aborted) {
      p.catch(() => undefined);
      return Promise.reject(this.signal.reason);
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(this.signal.reason);
      this.signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => {
          this.signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          this.signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this.onOuter);
  }
}
