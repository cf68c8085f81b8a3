// The one family of time limits and cancellation helpers. Every step, call and wait in the
// responder is bounded by one of these, and every one links to an outer AbortSignal (the
// whole finding's deadline), so a cancelled finding stops everything below it.
import { TimeoutError } from './errors.js';

/** The reason an aborted signal carries, as an Error (abort() without a reason gives a DOMException). */
export function abortReason(signal: AbortSignal, fallback = 'aborted'): Error {
  return signal.reason instanceof Error ? signal.reason : new Error(fallback);
}

/** Rejects as soon as the signal aborts (for calls that take no AbortSignal, like gax's). */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined, what = 'aborted'): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal, what));
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Waits ms, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs fn with its own time limit, linked to an outer signal. fn gets a signal that fires on
 * timeout or outer abort; a body that ignores it is still abandoned (its result discarded)
 * when the limit passes, so nothing the far side does can hold the caller past `ms`.
 */
export async function withTimeout<T>(what: string, ms: number, outer: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onOuter = (): void => controller.abort(outer?.reason);
  if (outer?.aborted) onOuter();
  else outer?.addEventListener('abort', onOuter, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new TimeoutError(what, ms);
      controller.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([fn(controller.signal), timeout, raceAbort(new Promise<never>(() => undefined), controller.signal)]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
  }
}

/**
 * A deadline for a whole unit of work (one finding): its signal aborts with a TimeoutError
 * after `ms`. `clear()` when the work is done, or the timer keeps the process busy.
 */
export function startDeadline(what: string, ms: number): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new TimeoutError(what, ms)), ms);
  timer.unref();
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}
