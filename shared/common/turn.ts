// Critical call first. A client library's request (client-node over undici) reaches its socket
// through a chain of promise callbacks, so work started synchronously after the call, or in
// other callbacks of the promise it waits on, runs before the request is written. Waiting
// for a later turn of the event loop (setImmediate: after every promise callback pending
// now) lets the critical request go out first; the deferred work then overlaps its round
// trip instead of delaying it.

/**
 * Resolves after every promise callback pending now (one setImmediate), before the event loop
 * polls for I/O again when called from an I/O callback: requests started before it are
 * written, and requests started after it still leave in the same turn.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Resolves once the event loop has also polled for I/O (two setImmediate hops: the first may
 * fire before the next poll, the second always fires after one). What was written before it
 * has been read by a peer in this process (the fakes of the bench and the tests read at once,
 * as a remote server does), and answers that arrived meanwhile are handled first.
 */
export function afterPoll(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/**
 * `p`'s outcome, once the loop has polled after it settled (afterPoll): whoever waits on this
 * sees the answer only once the callbacks on `p` itself (the critical path's next request)
 * have run and their request has gone out.
 */
export function afterCritical<T>(p: Promise<T>): Promise<T> {
  return p.finally(afterPoll);
}
