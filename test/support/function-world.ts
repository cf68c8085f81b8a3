// The responder function under test on loopback, for the integration suites that post
// CloudEvents to it: the fake world (test/support/stack.ts), a temp directory, the suite's
// policy written there and the function configured with it (when the suite has one policy;
// suites that configure the function per test pass none), and the teardown of all of it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { configureResponder, FUNCTION_NAME } from '../../functions/scc-responder/index.js';
import type { AuditCapture } from './audit-capture.js';
import { listenOnLoopback } from './cloudevents.js';
import { startStack, type Stack } from './stack.js';

export interface FunctionWorld {
  stack: Stack;
  server: Server;
  /** Where to post CloudEvents. */
  url: string;
  /** The suite's temp directory (removed by close). */
  dir: string;
  /** Stops the server, unconfigures the function, closes the fakes, removes the directory. */
  close(): Promise<void>;
}

export interface FunctionWorldOptions {
  /** The suite's policy: written to `<dir>/policy.yaml`, and the function configured with it. */
  policyYaml?: string;
  /** Where the configured function's audit lines go. */
  audit?: AuditCapture;
}

export async function startFunctionWorld(prefix: string, options: FunctionWorldOptions = {}): Promise<FunctionWorld> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const stack = await startStack();
  if (options.policyYaml !== undefined) {
    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, options.policyYaml);
    configureResponder({ env: stack.env({ SCC_RESPONDER_POLICY: policyFile }), ...(options.audit ? { auditDestination: options.audit.destination } : {}) });
  }
  const server = getTestServer(FUNCTION_NAME);
  const url = await listenOnLoopback(server);
  return {
    stack,
    server,
    url,
    dir,
    close: async () => {
      server.close();
      configureResponder(undefined);
      await stack.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
