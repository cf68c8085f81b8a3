// Cloud Function (gen2) entry point: a CloudEvent handler for Pub/Sub messagePublished events
// carrying SCC notifications. Returning acknowledges the message; throwing makes the
// Functions Framework answer 500 so Pub/Sub/Eventarc redelivers with backoff (transient
// failures only: bad input and permanent failures are acked with an ERROR audit entry).
import { cloudEvent, type CloudEvent } from '@google-cloud/functions-framework';
import { handleMessage, type HandleResult } from '../../shared/respond/handle.js';
import { createRuntime, type Runtime, type RuntimeOptions } from '../composition/runtime.js';
import { runOutsideRequestDomain } from './outside-request-domain.js';

export const FUNCTION_NAME = 'sccResponder';

let runtime: Runtime | undefined;

/** Replaces the runtime (tests inject adapters and an audit destination). */
export function configureResponder(options: Omit<RuntimeOptions, 'surface'> | undefined): Runtime | undefined {
  runtime = options === undefined ? undefined : createRuntime({ surface: 'function', ...options });
  return runtime;
}

function getRuntime(): Runtime {
  // Built on the first event, not at load: a configuration error then fails deliveries
  // (which Pub/Sub keeps and retries) instead of crash-looping the instance.
  return (runtime ??= createRuntime({ surface: 'function' }));
}

/** Thrown to ask Pub/Sub for a redelivery. */
export class RedeliveryRequested extends Error {
  constructor(readonly result: HandleResult) {
    super(`redelivery requested${result.findingName ? ` for ${result.findingName}` : ''}: ${result.message}`);
    this.name = 'RedeliveryRequested';
  }
}

/**
 * The Functions Framework's handler: the work runs outside the framework's per-request domain
 * (./outside-request-domain.ts says why); what it returns or throws is answered as before.
 */
export async function sccResponder(event: CloudEvent<unknown>): Promise<void> {
  await runOutsideRequestDomain(`delivery ${JSON.stringify(String(event.id).slice(0, 100))}`, () => respond(event));
}

async function respond(event: CloudEvent<unknown>): Promise<void> {
  let rt: Runtime;
  try {
    rt = getRuntime();
  } catch (err) {
    // Configuration or policy file invalid: nothing can be handled until it is fixed.
    process.stderr.write(`${JSON.stringify({ severity: 'CRITICAL', message: `scc-responder cannot start: ${err instanceof Error ? err.message : String(err)}` })}\n`);
    throw err;
  }
  const result = await handleMessage(event, rt);
  if (result.retry) throw new RedeliveryRequested(result);
}

cloudEvent(FUNCTION_NAME, sccResponder);
