// Which control-plane endpoint of a GKE cluster the responder connects to. A pure function
// of the GetCluster answer (no client library), so the choice is tested without a cluster.
//
// Order, and why:
// 1. The DNS-based endpoint, when the cluster allows external traffic on it: reachable from
//    any network that reaches Google APIs (a Cloud Run function included, without VPC egress),
//    authorised by IAM (container.clusters.connect) before RBAC, and not subject to
//    authorized networks. Its certificate is publicly trusted: the cluster CA must NOT be
//    pinned for it.
// 2. The public IP endpoint, when IP access and the public endpoint are on (the classic path;
//    the cluster CA is pinned).
// 3. The private IP endpoint: only reachable with VPC egress (infra variable vpc_connector).
// Lives in shared/gcp/ (floor of the GKE adapter that calls it), not shared/enrich/, which
// the adapter may not import from.

/** The GetCluster fields the choice reads (a structural subset of google.container.v1.Cluster). */
export interface ClusterEndpointFields {
  endpoint?: string | null;
  privateClusterConfig?: { enablePrivateEndpoint?: boolean | null; privateEndpoint?: string | null } | null;
  controlPlaneEndpointsConfig?: {
    dnsEndpointConfig?: { endpoint?: string | null; allowExternalTraffic?: boolean | null } | null;
    ipEndpointsConfig?: { enabled?: boolean | null; enablePublicEndpoint?: boolean | null; publicEndpoint?: string | null; privateEndpoint?: string | null } | null;
  } | null;
}

export type ControlPlaneEndpointKind = 'dns' | 'public-ip' | 'private-ip';

export interface ControlPlaneEndpoint {
  kind: ControlPlaneEndpointKind;
  /** Host (DNS name or IP) to connect to over https. */
  host: string;
  /** Whether to verify the server with the cluster CA (IP endpoints) or public roots (DNS endpoint). */
  pinClusterCa: boolean;
  /** Why this one, for the report and the logs. */
  reason: string;
}

/** The endpoint to use, or undefined when the answer names none reachable. */
export function pickControlPlaneEndpoint(cluster: ClusterEndpointFields): ControlPlaneEndpoint | undefined {
  const dns = cluster.controlPlaneEndpointsConfig?.dnsEndpointConfig;
  if (dns?.endpoint && dns.allowExternalTraffic === true) {
    return { kind: 'dns', host: dns.endpoint, pinClusterCa: false, reason: 'DNS-based endpoint with external traffic allowed (IAM-authorised, reachable without VPC egress)' };
  }
  const ip = cluster.controlPlaneEndpointsConfig?.ipEndpointsConfig;
  const ipAccess = ip?.enabled !== false;
  const publicOn = ipAccess && ip?.enablePublicEndpoint !== false && cluster.privateClusterConfig?.enablePrivateEndpoint !== true;
  const publicHost = ip?.publicEndpoint || (publicOn ? cluster.endpoint : undefined);
  if (publicOn && publicHost) return { kind: 'public-ip', host: publicHost, pinClusterCa: true, reason: 'public IP endpoint' };
  const privateHost = ip?.privateEndpoint || cluster.privateClusterConfig?.privateEndpoint || (ipAccess ? cluster.endpoint : undefined);
  if (ipAccess && privateHost) {
    return { kind: 'private-ip', host: privateHost, pinClusterCa: true, reason: 'private IP endpoint only: needs VPC egress (vpc_connector); a DNS-based endpoint with external traffic allowed would avoid that' };
  }
  return undefined;
}
