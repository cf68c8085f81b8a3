// A Functions Framework function for test/integration/outside-request-domain.test.ts: it runs
// the CloudEvent's `data.action` through the entry point's runOutsideRequestDomain (target
// `probe`) or directly in the framework's handler (target `inRequestDomain`, the negative
// control), and prints where it ran as JSON lines the test reads from the process's output.
import { cloudEvent, type CloudEvent } from '@google-cloud/functions-framework';
import { runOutsideRequestDomain } from '../../../functions/scc-responder/outside-request-domain.js';
import { inDomain } from '../request-domain.js';

interface Probe {
  action: 'ok' | 'reject' | 'crash' | 'waitForCrash' | 'crashOutside';
}

const report = (id: string, where: string): void => {
  process.stdout.write(`${JSON.stringify({ probe: id, where, domain: inDomain() })}\n`);
};

let crashes = 0;
let armedOutside = false;
// Created at load, outside any request and any domain: an exception from it belongs to no delivery.
setInterval(() => {
  if (!armedOutside) return;
  armedOutside = false;
  throw new Error('planted exception outside any delivery');
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
    case 'waitForCrash':
      // Still in flight when another delivery's work throws; answers once it has.
      while (crashes === 0) await new Promise((r) => setTimeout(r, 10));
      report(id, 'survived');
      return;
    case 'crashOutside':
      armedOutside = true;
      return new Promise<void>(() => undefined);
    default:
      throw new Error(`unknown action ${String(event.data?.action)}`);
  }
}

cloudEvent<Probe>('probe', (event: CloudEvent<Probe>) => runOutsideRequestDomain(`delivery ${event.id}`, () => work(event)));
cloudEvent<Probe>('inRequestDomain', (event: CloudEvent<Probe>) => work(event));
// Negative control for the isolation: the same runner with its 'uncaughtException' listener
// taken away again (the framework's stays removed), as if the takeover were missing.
cloudEvent<Probe>('isolationRemoved', (event: CloudEvent<Probe>) => {
  const run = runOutsideRequestDomain(`delivery ${event.id}`, () => work(event));
  for (const l of process.listeners('uncaughtException')) if (l.name === 'onUncaught') process.removeListener('uncaughtException', l);
  return run;
});
