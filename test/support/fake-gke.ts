// Fake GKE ClusterManager (google.container.v1) for the real ClusterManagerClient: GetCluster
// answers from a configurable map, through the generic gRPC fake (so FaultPlan applies).
import { GrpcError, protosDir, startGrpcFake, type GrpcFake } from './grpc-fake.js';

export interface FakeClusterSpec {
  project: string;
  location: string;
  name: string;
  /** What GKE puts in `endpoint`: an IP (or here `127.0.0.1:PORT` of a fake-kube). */
  endpoint: string;
  /** Base64 PEM (masterAuth.clusterCaCertificate). */
  caCertificate?: string;
  labels?: Record<string, string>;
  currentMasterVersion?: string;
  status?: 'RUNNING' | 'PROVISIONING' | 'RECONCILING' | 'STOPPING' | 'ERROR' | 'DEGRADED';
  /** Calico network policy addon enabled. */
  networkPolicy?: boolean;
  /** Dataplane V2 (ADVANCED_DATAPATH), which enforces NetworkPolicy by itself. */
  dataplaneV2?: boolean;
  autopilot?: boolean;
}

export interface FakeGke extends GrpcFake {
  /** Full name `projects/P/locations/L/clusters/C` -> spec. */
  clusters: Map<string, FakeClusterSpec>;
  addCluster(spec: FakeClusterSpec): void;
}

export const clusterName = (c: { project: string; location: string; name: string }): string => `projects/${c.project}/locations/${c.location}/clusters/${c.name}`;

function clusterMessage(c: FakeClusterSpec): Record<string, unknown> {
  return {
    name: c.name,
    location: c.location,
    zone: c.location,
    selfLink: `https://container.googleapis.com/v1/${clusterName(c)}`,
    endpoint: c.endpoint,
    masterAuth: c.caCertificate ? { clusterCaCertificate: c.caCertificate } : {},
    resourceLabels: c.labels ?? {},
    currentMasterVersion: c.currentMasterVersion ?? '1.33.4-gke.1000',
    status: c.status ?? 'RUNNING',
    networkPolicy: { enabled: c.networkPolicy === true, provider: c.networkPolicy ? 'CALICO' : 'PROVIDER_UNSPECIFIED' },
    networkConfig: { datapathProvider: c.dataplaneV2 ? 'ADVANCED_DATAPATH' : 'LEGACY_DATAPATH' },
    autopilot: { enabled: c.autopilot === true },
  };
}

export async function startFakeGke(initial: FakeClusterSpec[] = []): Promise<FakeGke> {
  const clusters = new Map<string, FakeClusterSpec>();
  for (const c of initial) clusters.set(clusterName(c), c);
  const grpc = await startGrpcFake({
    protoFiles: ['google/container/v1/cluster_service.proto'],
    includeDirs: [protosDir('@google-cloud/container')],
    services: {
      'google.container.v1.ClusterManager': {
        GetCluster: (req) => {
          // The v1 API also accepts the legacy projectId/zone/clusterId triple.
          const name = typeof req['name'] === 'string' && req['name']
            ? req['name']
            : `projects/${String(req['projectId'])}/locations/${String(req['zone'])}/clusters/${String(req['clusterId'])}`;
          const c = clusters.get(name);
          if (!c) throw new GrpcError(5, `Not found: ${name}.`);
          return clusterMessage(c);
        },
      },
    },
  });
  return Object.assign(grpc, {
    clusters,
    addCluster(spec: FakeClusterSpec) {
      clusters.set(clusterName(spec), spec);
    },
  });
}
