// The SCC security marks adapter (FindingMarks port): writes marks with
// @google-cloud/security-center, v1 names through the default client and v2
// (`/locations/`) names through `.v2`. The client library loads on first use. What the
// marks say is decided in shared/record/marks.ts (pure).
import type * as SecurityCenter from '@google-cloud/security-center';
import type { FindingMarks } from '../ports.js';
import type { Incident } from '../finding/types.js';
import { ResponderError } from '../common/errors.js';
import { classifyGaxError } from '../common/gax-errors.js';
import { apiVersionOf, updateMarksRequest } from '../finding/security-marks.js';
import { cjsExports } from '../common/cjs.js';

type V1Client = InstanceType<typeof SecurityCenter.v1.SecurityCenterClient>;
type V2Client = InstanceType<typeof SecurityCenter.v2.SecurityCenterClient>;
export type SecurityCenterClientOptions = NonNullable<ConstructorParameters<typeof SecurityCenter.v1.SecurityCenterClient>[0]>;

export interface SccMarksOptions {
  /** Passed to both clients (endpoint, port, sslCreds, universeDomain for fakes). */
  clientOptions?: SecurityCenterClientOptions;
  /** Per-call deadline (the v1 default is 480 s, far beyond a function's budget). Default 20 s. */
  timeoutMs?: number;
  /** gax retries inside one call. Default 0: marks are retried by Pub/Sub redelivery. */
  maxRetries?: number;
}

export interface SccFindingMarks extends FindingMarks {
  /** Writes marks by finding name (the port's `update` uses `incident.findingName`). */
  updateByName(findingName: string, marks: Record<string, string>, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

interface Cancellable<T> extends Promise<T> {
  cancel?: () => void;
}

export function createSccFindingMarks(options: SccMarksOptions = {}): SccFindingMarks {
  let v1: Promise<V1Client> | undefined;
  let v2: Promise<V2Client> | undefined;
  const load = (): Promise<typeof SecurityCenter> => import('@google-cloud/security-center').then(cjsExports);
  const clientFor = (version: 'v1' | 'v2'): Promise<V1Client | V2Client> => {
    if (version === 'v1') return (v1 ??= load().then((m) => new m.v1.SecurityCenterClient(options.clientOptions)));
    return (v2 ??= load().then((m) => new m.v2.SecurityCenterClient(options.clientOptions)));
  };
  const callOptions = { timeout: options.timeoutMs ?? 20_000, maxRetries: options.maxRetries ?? 0 };

  const updateByName = async (findingName: string, marks: Record<string, string>, signal?: AbortSignal): Promise<void> => {
    const request = updateMarksRequest(findingName, marks);
    const version = apiVersionOf(findingName);
    signal?.throwIfAborted();
    try {
      const client = await clientFor(version);
      // Both versions take the same request shape; the union of their overloads does not type-check as one call.
      const call = (client as V2Client).updateSecurityMarks(request, callOptions) as Cancellable<unknown>;
      if (!signal) {
        await call;
        return;
      }
      const onAbort = (): void => call.cancel?.();
      signal.addEventListener('abort', onAbort, { once: true });
      // Aborted while the client was loading: the event has already fired.
      if (signal.aborted) onAbort();
      try {
        await call;
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    } catch (err) {
      const c = classifyGaxError(err);
      throw new ResponderError(`SCC ${version} UpdateSecurityMarks on ${request.securityMarks.name} failed: ${c.reason}`, c.kind, {
        ...(c.code === undefined ? {} : { code: c.code }),
        cause: err,
      });
    }
  };

  return {
    updateByName,
    update: (incident: Incident, marks: Record<string, string>, signal?: AbortSignal) => updateByName(incident.findingName, marks, signal),
    async close() {
      const clients = await Promise.allSettled([v1, v2].filter((c) => c !== undefined));
      await Promise.all(clients.map((c) => (c.status === 'fulfilled' ? c.value.close() : undefined)));
    },
  };
}
