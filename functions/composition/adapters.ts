// Builds the adapters from configuration. Imported only when a finding matches the policy
// (functions/composition/runtime.ts), and each Google client module is imported only when
// its adapter is configured: the CLI on local defaults loads client-node and nothing else.
//
// Endpoint overrides (SCC_RESPONDER_ENDPOINT_*) are loopback-only (shared/config.ts) and use
// insecure channels with no Google credentials: they exist for local fakes and emulators.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ResponderConfig } from '../../shared/config.js';
import { createActionLimiter } from '../../shared/contain/limiter.js';
import type { ClusterDirectory, EvidenceStore, FindingMarks, LogSearch, ResultPublisher, Workloads } from '../../shared/ports.js';
import { ResponderError } from '../../shared/common/errors.js';
import type { PipelineAdapters } from '../../shared/respond/pipeline.js';
import type { SecurityCenterClientOptions } from '../../shared/gcp/scc-marks.js';

function splitEndpoint(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(endpoint.slice(i + 1)) };
}

/** gRPC client options for a loopback fake: insecure channel, no credential lookup, no metadata probe. */
async function insecureGrpc(endpoint: string): Promise<{ apiEndpoint: string; port: number; sslCreds: unknown; universeDomain: string }> {
  const grpc = await import('@grpc/grpc-js');
  const { host, port } = splitEndpoint(endpoint);
  return { apiEndpoint: host, port, sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' };
}

/** A directory that explains, at the step that needs it, why there is no cluster access. */
function unavailableDirectory(reason: string): ClusterDirectory {
  const fail = (): Promise<never> => Promise.reject(new ResponderError(reason, 'permanent', { code: 'NO_CLUSTER_ACCESS' }));
  return { describe: fail, workloads: fail as () => Promise<Workloads> };
}

/**
 * The kubeconfig file to use, from the given environment (not process.env: the CLI and tests
 * pass their own): the first existing file of KUBECONFIG, else ~/.kube/config.
 */
function kubeconfigFile(env: NodeJS.ProcessEnv): string | undefined {
  const files = (env['KUBECONFIG'] ?? '').split(path.delimiter).filter(Boolean);
  if (files.length > 0) return files.find((f) => existsSync(f));
  const home = env['HOME'] ?? os.homedir();
  const file = path.join(home, '.kube', 'config');
  return existsSync(file) ? file : undefined;
}

/** The cluster directory, or why there is none (reported as the reason `locate` is skipped). */
async function clusterDirectory(config: ResponderConfig, env: NodeJS.ProcessEnv): Promise<ClusterDirectory | string> {
  switch (config.clusterAccess) {
    case 'none':
      return 'cluster access is off (SCC_RESPONDER_CLUSTER_ACCESS=none or --offline)';
    case 'kubeconfig': {
      // Local defaults on a machine without a cluster: nothing to reach, which is not a failure.
      const file = kubeconfigFile(env);
      if (file === undefined) return 'no kubeconfig found (KUBECONFIG or ~/.kube/config): use --kube-context, or --offline';
      const { kubeconfigClusterDirectory } = await import('../../shared/kube/kubeconfig-cluster-directory.js');
      try {
        return kubeconfigClusterDirectory({ kubeconfigPath: file, ...(config.kubeContext ? { context: config.kubeContext } : {}) });
      } catch (err) {
        return unavailableDirectory(err instanceof Error ? err.message : String(err));
      }
    }
    case 'gke': {
      const [{ ClusterManagerClient }, { gkeClusterDirectory }] = await Promise.all([
        import('@google-cloud/container'),
        import('../../shared/gcp/gke-cluster-directory.js'),
      ]);
      if (config.endpoints.gke) {
        const clusterManager = new ClusterManagerClient((await insecureGrpc(config.endpoints.gke)) as ConstructorParameters<typeof ClusterManagerClient>[0]);
        const token = config.kubeToken;
        return gkeClusterDirectory({
          clusterManager,
          gaxOptions: { maxRetries: 0 },
          ...(token ? { tokenSource: () => Promise.resolve({ token, expiresAt: Date.now() + 3_600_000 }) } : {}),
        });
      }
      return gkeClusterDirectory({ clusterManager: new ClusterManagerClient() });
    }
  }
}

async function logSearch(config: ResponderConfig, env: NodeJS.ProcessEnv): Promise<LogSearch | undefined> {
  if (!config.logs) return undefined;
  const { cloudLoggingSearch } = await import('../../shared/gcp/cloud-logging-search.js');
  const projectId = env['GOOGLE_CLOUD_PROJECT'] ?? 'unknown-project';
  if (config.endpoints.logging) {
    return cloudLoggingSearch({ ...((await insecureGrpc(config.endpoints.logging)) as object), projectId }, { gaxOptions: { maxRetries: 0 } });
  }
  return cloudLoggingSearch({ projectId });
}

async function evidenceStore(config: ResponderConfig): Promise<EvidenceStore | undefined> {
  const e = config.evidence;
  if (e.kind === 'none') return undefined;
  if (e.kind === 'local') {
    const { LocalEvidenceStore } = await import('../../shared/ledger/local-store.js');
    return new LocalEvidenceStore({ root: e.dir });
  }
  const { GcsEvidenceStore } = await import('../../shared/gcp/gcs-store.js');
  const storageOptions = config.endpoints.storage ? { apiEndpoint: `http://${config.endpoints.storage}`, projectId: 'local-fake' } : {};
  return new GcsEvidenceStore({ bucket: e.bucket, prefix: e.prefix, storageOptions });
}

async function findingMarks(config: ResponderConfig): Promise<FindingMarks | undefined> {
  if (!config.marks) return undefined;
  const { createSccFindingMarks } = await import('../../shared/gcp/scc-marks.js');
  if (config.endpoints.scc) {
    return createSccFindingMarks({ clientOptions: (await insecureGrpc(config.endpoints.scc)) as SecurityCenterClientOptions });
  }
  return createSccFindingMarks();
}

async function resultPublisher(config: ResponderConfig): Promise<ResultPublisher | undefined> {
  if (!config.resultsTopic) return undefined;
  const { createPubSubResultPublisher } = await import('../../shared/gcp/pubsub-publisher.js');
  // A loopback endpoint puts the Pub/Sub client in emulator mode (insecure, no credentials).
  return createPubSubResultPublisher({ topic: config.resultsTopic, ...(config.endpoints.pubsub ? { clientOptions: { apiEndpoint: config.endpoints.pubsub } } : {}) });
}

export async function buildAdapters(config: ResponderConfig, env: NodeJS.ProcessEnv = process.env): Promise<PipelineAdapters> {
  const [directory, logs, evidence, marks, publisher] = await Promise.all([
    clusterDirectory(config, env),
    logSearch(config, env),
    evidenceStore(config),
    findingMarks(config),
    resultPublisher(config),
  ]);
  return {
    ...(typeof directory === 'string' ? { noClusterAccessReason: directory } : { directory }),
    ...(logs ? { logs } : {}),
    ...(evidence ? { evidence } : {}),
    ...(marks ? { marks } : {}),
    ...(publisher ? { publisher } : {}),
    limiter: createActionLimiter(evidence),
  };
}
