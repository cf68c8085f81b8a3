// The SCC findings reader (FindingReader port): SCC's own copy of a finding and its source,
// read with @google-cloud/security-center (v1 names through the default v1 client, v2
// `/locations/L/` names through `.v2`). Neither API version has a GetFinding: the finding is
// read with ListFindings on its source (v2: source + location) filtered by `name = "..."`
// (both versions document `name: =` as a supported filter), and the source with GetSource.
// Needs securitycenter.findings.list and securitycenter.sources.get (shared/gcp-permissions.ts).
import type * as SecurityCenter from '@google-cloud/security-center';
import type { FindingReader, SccFindingCopy, SccSource } from '../ports.js';
import { ResponderError } from '../common/errors.js';
import { classifyGaxError } from '../common/gax-errors.js';
import { apiVersionOf } from '../finding/security-marks.js';
import { FINDING_NAME_PATTERN } from '../finding/schema.js';
import { listResultToNotification } from './scc-finding-json.js';
import { cjsExports } from '../common/cjs.js';

type V1Client = InstanceType<typeof SecurityCenter.v1.SecurityCenterClient>;
type V2Client = InstanceType<typeof SecurityCenter.v2.SecurityCenterClient>;
type ClientOptions = NonNullable<ConstructorParameters<typeof SecurityCenter.v1.SecurityCenterClient>[0]>;

export interface SccFindingsOptions {
  /** Passed to both clients (endpoint, port, sslCreds, universeDomain for fakes). */
  clientOptions?: ClientOptions;
  /** Per-call deadline. Default 10 s: confirmation is on the critical path. */
  timeoutMs?: number;
  /** gax retries inside one call. Default 0: a transient failure is retried by redelivery. */
  maxRetries?: number;
}

export interface SccFindingsReader extends FindingReader {
  close(): Promise<void>;
}

interface Cancellable<T> extends Promise<T> {
  cancel?: () => void;
}

/** `X/sources/S[/locations/L]/findings/F` -> the ListFindings parent `X/sources/S[/locations/L]`. */
export function listParentOf(findingName: string): string {
  if (!FINDING_NAME_PATTERN.test(findingName)) throw new ResponderError(`not a finding name: ${JSON.stringify(findingName.slice(0, 200))}`, 'permanent');
  return findingName.slice(0, findingName.lastIndexOf('/findings/'));
}

async function cancellable<T>(call: Cancellable<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return call;
  const onAbort = (): void => call.cancel?.();
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) onAbort();
  try {
    return await call;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function wrap(what: string, err: unknown): ResponderError {
  const c = classifyGaxError(err);
  return new ResponderError(`SCC ${what} failed: ${c.reason}`, c.kind, { ...(c.code === undefined ? {} : { code: c.code }), cause: err });
}

export function createSccFindingsReader(options: SccFindingsOptions = {}): SccFindingsReader {
  let v1: Promise<V1Client> | undefined;
  let v2: Promise<V2Client> | undefined;
  const load = (): Promise<typeof SecurityCenter> => import('@google-cloud/security-center').then(cjsExports);
  const clientFor = (version: 'v1' | 'v2'): Promise<V1Client | V2Client> => {
    if (version === 'v1') return (v1 ??= load().then((m) => new m.v1.SecurityCenterClient(options.clientOptions)));
    return (v2 ??= load().then((m) => new m.v2.SecurityCenterClient(options.clientOptions)));
  };
  const callOptions = { timeout: options.timeoutMs ?? 10_000, maxRetries: options.maxRetries ?? 0, autoPaginate: false };
  // Sources never change identity: one read per instance (a failed or empty read is not cached).
  const sources = new Map<string, Promise<SccSource | null>>();

  const getFinding = async (findingName: string, signal?: AbortSignal): Promise<SccFindingCopy | null> => {
    const version = apiVersionOf(findingName);
    const request = { parent: listParentOf(findingName), filter: `name = "${findingName}"`, pageSize: 10 };
    signal?.throwIfAborted();
    let results: unknown[];
    try {
      const client = await clientFor(version);
      // Both versions take the same request shape; the union of their overloads does not type-check as one call.
      const call = (client as V2Client).listFindings(request, callOptions) as Cancellable<[unknown[], unknown, unknown]>;
      [results] = await cancellable(call, signal);
    } catch (err) {
      // An unknown source or location answers NOT_FOUND: for us, no such finding.
      if (classifyGaxError(err).code === 'NOT_FOUND' || (err as { code?: unknown }).code === 5) return null;
      throw wrap(`${version} ListFindings on ${request.parent}`, err);
    }
    for (const r of results) {
      const notification = listResultToNotification(r);
      if (notification && notification.finding['name'] === findingName) return { notification };
    }
    return null;
  };

  const readSource = async (sourceName: string, signal?: AbortSignal): Promise<SccSource | null> => {
    try {
      const client = await clientFor('v1');
      const call = client.getSource({ name: sourceName }, { timeout: callOptions.timeout, maxRetries: callOptions.maxRetries }) as Cancellable<[{ name?: string | null; displayName?: string | null }, unknown, unknown]>;
      const [source] = await cancellable(call, signal);
      return { name: source.name ?? sourceName, displayName: source.displayName ?? '' };
    } catch (err) {
      if ((err as { code?: unknown }).code === 5) return null;
      throw wrap(`GetSource ${sourceName}`, err);
    }
  };

  return {
    getFinding,
    getSource(sourceName, signal) {
      const hit = sources.get(sourceName);
      if (hit) return hit;
      const p = readSource(sourceName, signal);
      sources.set(sourceName, p);
      // Only known sources stay cached: forged names must not grow the cache without bound.
      p.then((s) => void (s === null && sources.delete(sourceName)), () => sources.delete(sourceName));
      return p;
    },
    async close() {
      const clients = await Promise.allSettled([v1, v2].filter((c) => c !== undefined));
      await Promise.all(clients.map((c) => (c.status === 'fulfilled' ? c.value.close() : undefined)));
    },
  };
}
