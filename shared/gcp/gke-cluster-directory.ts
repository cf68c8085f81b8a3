// ClusterDirectory for production: the GKE API (ClusterManagerClient.getCluster) gives the
// control-plane endpoint and CA, and a Google access token authenticates to the Kubernetes
// API. The Workloads client is cached per cluster until shortly before the token expires,
// and concurrent callers share one in-flight GetCluster (the pipeline's `locate` and the
// enrichment's `describe` ask at the same moment).
import { pickControlPlaneEndpoint } from '../gcp/control-plane-endpoint.js';
import type { ClusterManagerClient, protos } from '@google-cloud/container';
import type { CallOptions } from 'google-gax';
import type { ClusterRef } from '../finding/types.js';
import type { ClusterDirectory, ClusterInfo, Workloads } from '../ports.js';
import { ResponderError } from '../common/errors.js';
import { workloadsFromEndpoint, type EndpointAccess } from '../kube/client-node-workloads.js';
import { googleApiError } from '../common/gax-errors.js';
import { ownerHints } from './owner-hints.js';
import { raceAbort } from '../common/time.js';
import { cjsExports } from '../common/cjs.js';

export interface AccessToken {
  token: string;
  /** Epoch ms. */
  expiresAt: number;
}
export type TokenSource = () => Promise<AccessToken>;

export interface GkeClusterDirectoryOptions {
  clusterManager: ClusterManagerClient;
  /** Default: google-auth-library ADC with the cloud-platform scope. */
  tokenSource?: TokenSource;
  /** Rebuild the client this long before the token expires (default 5 min). */
  refreshMarginMs?: number;
  /** How long a GetCluster answer is reused (default 10 min). */
  clusterTtlMs?: number;
  /** Builds Workloads from endpoint + CA + token (default: client-node). */
  workloadsFactory?: (access: EndpointAccess) => Workloads;
  /** gax options for GetCluster (tests: `{ maxRetries: 0 }`). */
  gaxOptions?: CallOptions;
  now?: () => number;
}

type ICluster = protos.google.container.v1.ICluster;

export function clusterResourceName(ref: ClusterRef): string {
  return `projects/${ref.project}/locations/${ref.location}/clusters/${ref.name}`;
}

/** google-auth-library ADC token (loaded only when needed). */
export function googleAuthTokenSource(): TokenSource {
  let clientPromise: Promise<{ getAccessToken(): Promise<{ token?: string | null }>; credentials: { expiry_date?: number | null } }> | undefined;
  return async () => {
    clientPromise ??= (async () => {
      const { GoogleAuth } = cjsExports(await import('google-auth-library'));
      const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
      return auth.getClient() as unknown as Promise<{ getAccessToken(): Promise<{ token?: string | null }>; credentials: { expiry_date?: number | null } }>;
    })();
    const client = await clientPromise;
    const { token } = await client.getAccessToken();
    if (!token) throw new ResponderError('google-auth-library returned no access token', 'transient');
    // Tokens live ~1 h; when the library does not say, assume a conservative 30 min.
    return { token, expiresAt: client.credentials.expiry_date ?? Date.now() + 30 * 60_000 };
  };
}


export function clusterInfoFromGke(ref: ClusterRef, c: ICluster): ClusterInfo {
  const labels: Record<string, string> = { ...(c.resourceLabels ?? {}) };
  const datapath = String(c.networkConfig?.datapathProvider ?? '');
  const autopilot = c.autopilot?.enabled === true;
  // DNS-based endpoint, public IP or private IP (private clusters): see control-plane-endpoint.ts.
  const picked = pickControlPlaneEndpoint(c);
  const info: ClusterInfo = {
    name: c.name ?? ref.name,
    location: c.location ?? ref.location,
    endpoint: picked?.host ?? '',
    labels,
    // Calico (networkPolicy.enabled) or Dataplane V2 enforce NetworkPolicy; Autopilot always runs Dataplane V2.
    networkPolicyEnforced: c.networkPolicy?.enabled === true || datapath === 'ADVANCED_DATAPATH' || autopilot,
    autopilot,
    ownerHints: ownerHints(labels),
  };
  if (picked) info.controlPlaneEndpoint = picked.kind;
  // The DNS endpoint presents a publicly trusted certificate: pinning the cluster CA would reject it.
  if (c.masterAuth?.clusterCaCertificate && picked?.pinClusterCa !== false) info.caCertificate = c.masterAuth.clusterCaCertificate;
  if (c.currentMasterVersion) info.currentMasterVersion = c.currentMasterVersion;
  if (c.status !== undefined && c.status !== null) info.status = String(c.status);
  return info;
}

export class GkeClusterDirectory implements ClusterDirectory {
  private readonly clusters = new Map<string, { info: Promise<ClusterInfo>; at: number }>();
  private readonly workloadsCache = new Map<string, { workloads: Promise<Workloads>; expiresAt: number }>();
  private readonly tokenSource: TokenSource;
  private readonly now: () => number;

  constructor(private readonly options: GkeClusterDirectoryOptions) {
    this.tokenSource = options.tokenSource ?? googleAuthTokenSource();
    this.now = options.now ?? Date.now;
  }

  describe(ref: ClusterRef, signal?: AbortSignal): Promise<ClusterInfo> {
    const key = clusterResourceName(ref);
    const ttl = this.options.clusterTtlMs ?? 10 * 60_000;
    const hit = this.clusters.get(key);
    if (hit && this.now() - hit.at < ttl) return raceAbort(hit.info, signal);
    const info = (async () => {
      try {
        const [cluster] = await this.options.clusterManager.getCluster({ name: key }, this.options.gaxOptions);
        return clusterInfoFromGke(ref, cluster);
      } catch (err) {
        throw googleApiError(`GKE GetCluster ${key}`, err);
      }
    })();
    const entry = { info, at: this.now() };
    this.clusters.set(key, entry);
    // A failure is not cached: the next finding asks again.
    info.catch(() => {
      if (this.clusters.get(key) === entry) this.clusters.delete(key);
    });
    return raceAbort(info, signal);
  }

  workloads(ref: ClusterRef, signal?: AbortSignal): Promise<Workloads> {
    const key = clusterResourceName(ref);
    const margin = this.options.refreshMarginMs ?? 5 * 60_000;
    const hit = this.workloadsCache.get(key);
    if (hit && this.now() < hit.expiresAt - margin) return raceAbort(hit.workloads, signal);
    // Until the token is known the entry never expires, so concurrent callers share it.
    const entry: { workloads: Promise<Workloads>; expiresAt: number } = { workloads: this.openWorkloads(ref, (t) => (entry.expiresAt = t)), expiresAt: Number.POSITIVE_INFINITY };
    this.workloadsCache.set(key, entry);
    entry.workloads.catch(() => {
      if (this.workloadsCache.get(key) === entry) this.workloadsCache.delete(key);
    });
    return raceAbort(entry.workloads, signal);
  }

  private async openWorkloads(ref: ClusterRef, setExpiry: (expiresAt: number) => void): Promise<Workloads> {
    const [info, token] = await Promise.all([this.describe(ref), this.tokenSource()]);
    if (!info.endpoint) throw new ResponderError(`cluster ${clusterResourceName(ref)} has no endpoint in the GKE API answer`, 'permanent');
    setExpiry(token.expiresAt);
    const access: EndpointAccess = { server: info.endpoint, token: token.token, ...(info.caCertificate ? { caData: info.caCertificate } : {}) };
    return (this.options.workloadsFactory ?? workloadsFromEndpoint)(access);
  }
}

export function gkeClusterDirectory(options: GkeClusterDirectoryOptions): GkeClusterDirectory {
  return new GkeClusterDirectory(options);
}
