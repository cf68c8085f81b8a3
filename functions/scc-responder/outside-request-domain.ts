// Runs each delivery's work outside the Functions Framework's per-request `domain`.
//
// The framework (5.x, function_wrappers.js) runs every request inside `domain.create().run()`.
// Every async resource created while a domain is active (each promise, socket, timer, stream,
// emitter) is then paired with it, and every callback on it enters and leaves the domain,
// re-installing the uncaught-exception capture callback each time: in a burst of 100 matching
// findings that was ~12% of the function's CPU (async hook init, registerDestroyHook for every
// promise, setUncaughtExceptionCaptureCallback, Domain.enter/exit), for work whose promises and
// sockets are all ours or the client libraries'. Worse, the shared clients (gRPC channels,
// connection pools) built during the first request stayed paired with that request's domain
// for the life of the instance.
//
// So the handler hands its work to a queue drained by a MessagePort created here, at module
// load, which the framework does before it serves any request (outside every domain): the
// port's callbacks run with no domain, and so does everything the work creates. The
// framework's handler awaits the work's promise, so what the work returns or throws reaches
// the framework exactly as before (returned: 204; thrown: 500 and a redelivery).
//
// What the domain also did: an exception thrown in a callback of the request (not a rejected
// promise) answered that request 500 and left the others running. Without a domain such an
// exception would reach the framework's process-level handler, which answers 500 to the latest
// request and ends the instance, dropping every delivery in flight. `isolateUncaughtExceptions`
// replaces that for our work: the delivery whose work threw (known from an AsyncLocalStorage
// set around it; Node still runs the 'uncaughtException' listeners in the throwing callback's
// async context) fails alone with 500 (redelivered) and a CRITICAL log line; an exception that
// belongs to no delivery still goes to the framework's handler (500, exit 16), as before.
// Unhandled promise rejections are unchanged (the framework's handler; domains never caught them).
import { AsyncLocalStorage } from 'node:async_hooks';
import { MessageChannel } from 'node:worker_threads';

interface Job {
  readonly label: string;
  readonly run: () => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
  settled: boolean;
}

/** The error a delivery fails with when its work threw outside any promise chain. */
export class UncaughtInDelivery extends Error {
  constructor(label: string, cause: unknown) {
    super(`uncaught exception while handling ${label}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'UncaughtInDelivery';
  }
}

const current = new AsyncLocalStorage<Job>();
const queue: Job[] = [];
const channel = new MessageChannel();
channel.port2.on('message', drainOne);
// Neither end keeps the process alive: the HTTP server does that.
channel.port1.unref();
channel.port2.unref();

function settle(job: Job, err: unknown, value?: unknown): void {
  if (job.settled) return;
  job.settled = true;
  if (err === undefined) job.resolve(value);
  else job.reject(err);
}

function drainOne(): void {
  const job = queue.shift();
  if (job === undefined) return;
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
 * it gives. `label` names the delivery in the log line of an uncaught exception.
 */
export function runOutsideRequestDomain<T>(label: string, work: () => Promise<T>): Promise<T> {
  isolateUncaughtExceptions();
  return new Promise<T>((resolve, reject) => {
    queue.push({ label, run: work, resolve: resolve as (v: unknown) => void, reject, settled: false });
    channel.port1.postMessage(null);
  });
}

/** The delivery whose work is running now (for tests and diagnostics), if any. */
export function currentDeliveryLabel(): string | undefined {
  return current.getStore()?.label;
}

type UncaughtListener = (err: Error, origin: NodeJS.UncaughtExceptionOrigin) => void;

/** The framework's crash handler(s), taken off the process and called for exceptions of no delivery. */
let frameworkHandlers: UncaughtListener[] | undefined;

function critical(message: string): void {
  process.stderr.write(`${JSON.stringify({ severity: 'CRITICAL', message })}\n`);
}

/** Listeners other than ours and the domain module's stack clearing (e.g. a test runner's). */
function otherListeners(): number {
  return process.listeners('uncaughtException').filter((l) => l !== onUncaught && l.name !== 'domainUncaughtExceptionClear').length;
}

function onUncaught(err: Error, origin: NodeJS.UncaughtExceptionOrigin): void {
  const job = origin === 'uncaughtException' ? current.getStore() : undefined;
  if (job === undefined) {
    for (const l of frameworkHandlers ?? []) l.call(process, err, origin);
    if ((frameworkHandlers?.length ?? 0) === 0 && otherListeners() === 0) {
      // Nobody else handles it (not under the framework): what Node does by default, print and exit 1.
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    }
    return;
  }
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (job.settled) {
    // As the framework's domain did ("Exception from a finished function"): logged, the others go on.
    critical(`uncaught exception after ${job.label} was answered (the other deliveries go on): ${stack}`);
    return;
  }
  critical(`uncaught exception while handling ${job.label}: this delivery fails and is redelivered, the others go on: ${stack}`);
  settle(job, new UncaughtInDelivery(job.label, err));
}

/**
 * The Functions Framework's own listener (invoker.js ErrorHandler.register): it answers the
 * latest request 500 and exits the process (killInstance). Recognised by what it calls, since
 * the framework exports no reference to it; if a framework release changes it, it is no longer
 * taken over and an uncaught exception ends the instance again (the FF-process test fails).
 */
function isFrameworkCrashHandler(l: (...args: never[]) => unknown): boolean {
  const source = Function.prototype.toString.call(l);
  return source.includes('sendCrashResponse') && source.includes('killInstance');
}

/**
 * Installed once, on the first delivery (the framework registers its handler when its server
 * starts listening, before any request): the framework's 'uncaughtException' handler is taken
 * off the process and called by ours for an exception that belongs to no delivery (500 to the
 * latest request, exit 16, as before); an exception from a delivery's work fails that delivery
 * alone. Other listeners (the domain module's, a test runner's) stay as they are.
 */
export function isolateUncaughtExceptions(): void {
  if (frameworkHandlers !== undefined) return;
  frameworkHandlers = [];
  for (const l of process.listeners('uncaughtException')) {
    if (!isFrameworkCrashHandler(l)) continue;
    frameworkHandlers.push(l);
    process.removeListener('uncaughtException', l);
  }
  process.on('uncaughtException', onUncaught);
}
