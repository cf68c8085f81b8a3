// Runs each delivery's work outside the Functions Framework's per-request `domain`.
//
// The framework (5.x, function_wrappers.js) runs every request inside `domain.create().run()`.
// Every async resource created while a domain is active (each promise, socket, timer, stream,
// emitter) is then paired with it, and every callback on it enters and leaves the domain,
// re-installing the uncaught-exception capture callback each time (async hook init,
// registerDestroyHook for every promise, setUncaughtExceptionCaptureCallback, Domain.enter/exit),
// for work whose promises and sockets are all ours or the client libraries'. Measured warm,
// alternating trees (bench/cpu-per-finding.ts): 76-79 -> 61-65 ms of CPU per matching finding. Worse, the shared clients (gRPC channels,
// connection pools) built during the first request stayed paired with that request's domain
// for the life of the instance.
//
// So the handler starts its work with the request's domain exited (`domain.exit()`, public API
// of the deprecated module, re-entered right after the synchronous start): everything the work
// creates belongs to no domain, its callbacks run with none, and nothing waits for another turn
// of the event loop (handing the work to a MessagePort created at load did the same but cost
// non-matching deliveries an event-loop turn each, +100-200 ms at the burst's median). The
// framework's handler awaits the work's promise, so what the work returns or throws reaches the
// framework exactly as before (returned: 204; thrown: 500 and a redelivery).
//
// What the domain also did: an exception thrown in a callback of the request, or a promise
// rejected there that nobody handled (Node hands those to the domain the promise was rejected
// in), answered that request 500 and left the others running. Without a domain either would
// reach the framework's process-level handlers, which answer 500 to the latest request and end
// the instance, dropping every delivery in flight. `isolateDeliveryFailures` replaces that for
// our work: the delivery whose work failed (known from an AsyncLocalStorage set around it: Node
// runs 'uncaughtException' listeners in the throwing callback's async context and
// 'unhandledRejection' listeners in the rejected promise's) fails alone with 500 (redelivered)
// and a CRITICAL log line; one that belongs to no delivery still goes to the framework's
// handlers (500, exit 16), as before.
import { AsyncLocalStorage } from 'node:async_hooks';

interface Job {
  readonly label: string;
  readonly run: () => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
  settled: boolean;
}

/** The error a delivery fails with when its work threw outside any promise chain or left a rejection unhandled. */
export class UncaughtInDelivery extends Error {
  constructor(label: string, what: string, cause: unknown) {
    super(`${what} while handling ${label}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'UncaughtInDelivery';
  }
}

const current = new AsyncLocalStorage<Job>();

/** The parts of node:domain's Domain used here (the module is only typed where it is imported). */
interface ActiveDomain {
  enter(): void;
  exit(): void;
}

function settle(job: Job, err: unknown, value?: unknown): void {
  if (job.settled) return;
  job.settled = true;
  if (err === undefined) job.resolve(value);
  else job.reject(err);
}

function start(job: Job): void {
  current.run(job, () => {
    let p: Promise<unknown>;
    try {
      p = job.run();
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then((v) => settle(job, undefined, v), (err: unknown) => settle(job, err ?? new Error(`${job.label} failed with ${String(err)}`)));
  });
}

/**
 * Runs `work` in an async context that belongs to no domain and resolves or rejects with what
 * it gives. `label` names the delivery in the log line of a failure no promise chain caught.
 */
export function runOutsideRequestDomain<T>(label: string, work: () => Promise<T>): Promise<T> {
  isolateDeliveryFailures();
  return new Promise<T>((resolve, reject) => {
    const job: Job = { label, run: work, resolve: resolve as (v: unknown) => void, reject, settled: false };
    const domain = (process as { domain?: ActiveDomain | null }).domain;
    domain?.exit();
    try {
      start(job);
    } finally {
      domain?.enter();
    }
  });
}

type Failure = 'uncaughtException' | 'unhandledRejection';
type ProcessListener = (...args: never[]) => unknown;

/** The framework's crash handlers, taken off the process and called for failures of no delivery. */
let frameworkHandlers: Record<Failure, ProcessListener[]> | undefined;

function critical(message: string): void {
  process.stderr.write(`${JSON.stringify({ severity: 'CRITICAL', message })}\n`);
}

function listenersOf(event: Failure): ProcessListener[] {
  return event === 'uncaughtException' ? process.listeners('uncaughtException') : process.listeners('unhandledRejection');
}

/** Listeners other than ours and the domain module's stack clearing (e.g. a test runner's). */
function otherListeners(event: Failure, ours: ProcessListener): number {
  return listenersOf(event).filter((l) => l !== ours && l.name !== 'domainUncaughtExceptionClear').length;
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/** Fails the delivery the failure belongs to; false when it belongs to none. */
function failDelivery(event: Failure, err: unknown): boolean {
  const job = current.getStore();
  if (job === undefined) return false;
  const what = event === 'uncaughtException' ? 'uncaught exception' : 'unhandled promise rejection';
  if (job.settled) {
    // As the framework's domain did ("Exception from a finished function"): logged, the others go on.
    critical(`${what} after ${job.label} was answered (the other deliveries go on): ${describe(err)}`);
  } else {
    critical(`${what} while handling ${job.label}: this delivery fails and is redelivered, the others go on: ${describe(err)}`);
    settle(job, new UncaughtInDelivery(job.label, what, err));
  }
  return true;
}

/** A failure of no delivery: the framework's handlers, or (none at all) what Node does by default. */
function notOurs(event: Failure, ours: ProcessListener, args: readonly unknown[]): void {
  const handlers = frameworkHandlers?.[event] ?? [];
  for (const l of handlers) (l as (...a: unknown[]) => unknown).call(process, ...args);
  if (handlers.length === 0 && otherListeners(event, ours) === 0) {
    process.stderr.write(`${describe(args[0])}\n`);
    process.exit(1);
  }
}

function onUncaught(err: Error, origin: NodeJS.UncaughtExceptionOrigin): void {
  if (origin === 'uncaughtException' && failDelivery('uncaughtException', err)) return;
  notOurs('uncaughtException', onUncaught, [err, origin]);
}

function onUnhandledRejection(reason: unknown, promise: Promise<unknown>): void {
  if (failDelivery('unhandledRejection', reason)) return;
  notOurs('unhandledRejection', onUnhandledRejection, [reason, promise]);
}

/**
 * The Functions Framework's own listeners (invoker.js ErrorHandler.register): they answer the
 * latest request 500 and exit the process (killInstance). Recognised by what they call, since
 * the framework exports no reference to them; if a framework release changes them, they are no
 * longer taken over and such a failure ends the instance again (the FF-process test fails).
 */
function isFrameworkCrashHandler(l: ProcessListener): boolean {
  const source = Function.prototype.toString.call(l);
  return source.includes('sendCrashResponse') && source.includes('killInstance');
}

function takeOver(event: Failure): ProcessListener[] {
  const taken: ProcessListener[] = [];
  for (const l of listenersOf(event)) {
    if (!isFrameworkCrashHandler(l)) continue;
    taken.push(l);
    if (event === 'uncaughtException') process.removeListener(event, l as NodeJS.UncaughtExceptionListener);
    else process.removeListener(event, l as NodeJS.UnhandledRejectionListener);
  }
  return taken;
}

/**
 * Installed once, on the first delivery (the framework registers its handlers when its server
 * starts listening, before any request): the framework's 'uncaughtException' and
 * 'unhandledRejection' handlers are taken off the process and called by ours for a failure that
 * belongs to no delivery (500 to the latest request, exit 16, as before); a failure of a
 * delivery's work fails that delivery alone. Other listeners (the domain module's, a test
 * runner's) stay as they are.
 */
export function isolateDeliveryFailures(): void {
  if (frameworkHandlers !== undefined) return;
  frameworkHandlers = { uncaughtException: takeOver('uncaughtException'), unhandledRejection: takeOver('unhandledRejection') };
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUnhandledRejection);
}
