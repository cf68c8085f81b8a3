// A Functions Framework function for test/integration/outside-request-domain.test.ts: it runs
// the CloudEvent's `data.action` through the entry point's runOutsideRequestDomain (target
// `probe`) or directly in the framework's handler (target `inRequestDomain`, the negative
// control), and prints where it ran as JSON lines the test reads from the process's output.
import { cloudEvent, type CloudEvent } from '@google-cloud/functions-framework';
import { runOutsideRequestDomain } from '../../../functions/scc-responder/outside-request-domain.js';
import { inDomain } from '../request-domain.js';

interface Probe {
  action: 'ok' | 'reject' | 'crash' | 'unhandled' | 'waitForCrash' | 'crashOutside' | 'unhandledOutside';
}

const report = (id: string, where: string): void => {
  process.stdout.write(`${JSON.stringify({ probe: id, where, domain: inDomain() })}\n`);
};

let crashes = 0;
let armedOutside: 'throw' | 'reject' | undefined;
// Created at load, outside any request and any domain: a failure from it belongs to no delivery.
setInterval(() => {
  const armed = armedOutside;
  armedOutside = undefined;
  if (armed === 'throw') throw new Error('planted exception outside any delivery');
  if (armed === 'reject') void Promise.reject(new Error('planted rejection outside any delivery'));
}, 20).unref();

async function work(event: CloudEvent<Probe>): Promise<void> {
  const id = event.id;
  report(id, 'start');
  await new Promise((r) => setTimeout(r, 5));
  report(id, 'after-timer');
  switch (event.data?.action) {
    case 'ok':
      await Promise.resolve();
      report(id, 'after-await');
      return;
    case 'reject':
      throw new Error(`planted rejection ${id}`);
    case 'crash':
      // Thrown from a timer callback the work created: no promise chain catches it.
      setTimeout(() => {
        crashes += 1;
        throw new Error(`planted uncaught exception ${id}`);
      }, 5);
      return new Promise<void>(() => undefined); // never settles by itself
    case 'unhandled':
      // A promise the work rejects and nobody handles (a floating promise).
      setTimeout(() => {
        crashes += 1;
        void Promise.reject(new Error(`planted unhandled rejection ${id}`));
      }, 5);
      return new Promise<void>(() => undefined);
    case 'waitForCrash':
      // Still in flight when another delivery's work throws; answers once it has.
      while (crashes === 0) await new Promise((r) => setTimeout(r, 10));
      report(id, 'survived');
      return;
    case 'crashOutside':
      armedOutside = 'throw';
      return new Promise<void>(() => undefined);
    case 'unhandledOutside':
      armedOutside = 'reject';
      return new Promise<void>(() => undefined);
    default:
      throw new Error(`unknown action ${String(event.data?.action)}`);
  }
}

cloudEvent<Probe>('probe', (event: CloudEvent<Probe>) => runOutsideRequestDomain(`delivery ${event.id}`, () => work(event)));
cloudEvent<Probe>('inRequestDomain', (event: CloudEvent<Probe>) => work(event));
// Negative control for the isolation: the same runner with its 'uncaughtException' listener
// and 'unhandledRejection' listeners taken away again (the framework's stay removed), as if
// the takeover were missing.
cloudEvent<Probe>('isolationRemoved', (event: CloudEvent<Probe>) => {
  const run = runOutsideRequestDomain(`delivery ${event.id}`, () => work(event));
  for (const l of process.listeners('uncaughtException')) if (l.name === 'onUncaught') process.removeListener('uncaughtException', l);
  for (const l of process.listeners('unhandledRejection')) if (l.name === 'onUnhandledRejection') process.removeListener('unhandledRejection', l);
  return run;
});
