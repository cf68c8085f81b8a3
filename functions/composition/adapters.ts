// Builds the adapters from configuration. Imported only when a finding matches the policy
// (functions/composition/runtime.ts), and each Google client module is imported only when
// its adapter is configured: the CLI on local defaults loads client-node and nothing else.
//
// Endpoint overrides (SCC_RESPONDER_ENDPOINT_*) are loopback-only (shared/config.ts) and use
// insecure channels with no Google credentials: they exist for local fakes and emulators.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import type { ResponderConfig } from '../../shared/config.js';
import { createActionLimiter } from '../../shared/contain/limiter.js';
import type { ClusterDirectory, EvidenceStore, FindingMarks, FindingReader, LogSearch, MarkAuthorLookup, NotifySecrets, ResultPublisher, Workloads } from '../../shared/ports.js';
import { ResponderError } from '../../shared/common/errors.js';
import type { PipelineAdapters } from '../../shared/respond/pipeline.js';
import type { SecurityCenterClientOptions } from '../../shared/gcp/scc-marks.js';
import type { SecretManagerClientOptions } from '../../shared/gcp/secret-manager-secrets.js';
import { cjsExports } from '../../shared/common/cjs.js';

// WebAssembly stays on V8's baseline compiler (Liftoff) from here on. The HTTP parser of
// client-node's undici (and of Node's own fetch) is llhttp compiled to WebAssembly; left to
// itself V8 also recompiles it with its optimizing compiler on background threads, ~100-130 ms
// of CPU on the first finding of a new instance for a parser that reads a few dozen responses
// (cold path loading CPU, 8 alternating rounds each: median 746 -> 647 ms; --no-wasm-tier-up
// alone did not help). Set here, when a matching finding first loads the clients, not at
// start-up. Node keeps V8's flags writable after start for exactly this (v8.setFlagsFromString).
setFlagsFromString('--liftoff-only');

/** A loader that runs once; a failed load is retried by the next caller (e.g. after a transient error). */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= load().catch((err: unknown) => {
    p = undefined;
    throw err;
  }));
}

function splitEndpoint(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(endpoint.slice(i + 1)) };
}

/** gRPC client options for a loopback fake: insecure channel, no credential lookup, no metadata probe. */
async function insecureGrpc(endpoint: string): Promise<{ apiEndpoint: string; port: number; sslCreds: unknown; universeDomain: string }> {
  const grpc = cjsExports(await import('@grpc/grpc-js'));
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
export function kubeconfigFile(env: NodeJS.ProcessEnv): string | undefined {
  const files = (env['KUBECONFIG'] ?? '').split(path.delimiter).filter(Boolean);
  if (files.length > 0) return files.find((f) => existsSync(f));
  const home = env['HOME'] ?? os.homedir();
  const file = path.join(home, '.kube', 'config');
  return existsSync(file) ? file : undefined;
}

/** The cluster directory, or why there is none (reported as the reason `locate` is skipped). */
export async function clusterDirectory(config: ResponderConfig, env: NodeJS.ProcessEnv): Promise<ClusterDirectory | string> {
  switch (config.clusterAccess) {
    case 'none':
      return config.surface === 'cli' ? 'cluster access is off (--offline or SCC_RESPONDER_CLUSTER_ACCESS=none)' : 'cluster access is off (SCC_RESPONDER_CLUSTER_ACCESS=none)';
    case 'kubeconfig': {
      // Local defaults on a machine without a cluster: nothing to reach, which is not a failure.
      // The hint names what this surface accepts: the function has no flags.
      const file = kubeconfigFile(env);
      if (file === undefined) {
        const hint = config.surface === 'cli' ? 'set KUBECONFIG, or pass --offline to skip the cluster' : 'set KUBECONFIG for the function, or SCC_RESPONDER_CLUSTER_ACCESS=none';
        return `no kubeconfig found (KUBECONFIG or ~/.kube/config): ${hint}`;
      }
      const { kubeconfigClusterDirectory } = await import('../../shared/kube/kubeconfig-cluster-directory.js');
      try {
        return kubeconfigClusterDirectory({ kubeconfigPath: file, ...(config.kubeContext ? { context: config.kubeContext } : {}) });
      } catch (err) {
        return unavailableDirectory(err instanceof Error ? err.message : String(err));
      }
    }
    case 'gke': {
      const [{ ClusterManagerClient }, { gkeClusterDirectory }] = await Promise.all([
        import('@google-cloud/container').then(cjsExports),
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

/**
 * The Cloud Logging client is imported on the first query, not before the critical path. The
 * same client answers approval mode's "who set this mark" (findMarkAuthor), which never rejects.
 */
function logSearch(config: ResponderConfig, env: NodeJS.ProcessEnv): (LogSearch & MarkAuthorLookup) | undefined {
  if (!config.logs) return undefined;
  const projectId = env['GOOGLE_CLOUD_PROJECT'] ?? 'unknown-project';
  const load = once(async (): Promise<LogSearch & MarkAuthorLookup> => {
    const { cloudLoggingSearch } = await import('../../shared/gcp/cloud-logging-search.js');
    if (config.endpoints.logging) {
      return cloudLoggingSearch({ ...((await insecureGrpc(config.endpoints.logging)) as object), projectId }, { gaxOptions: { maxRetries: 0 } });
    }
    return cloudLoggingSearch({ projectId });
  });
  return {
    search: async (query, signal) => (await load()).search(query, signal),
    findMarkAuthor: async (request) => {
      try {
        return await (await load()).findMarkAuthor(request);
      } catch (err) {
        return { principal: undefined, reason: `the Cloud Logging client could not be loaded: ${err instanceof Error ? err.message : String(err)}` };
      }
    },
  };
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

/** The SCC client is imported on the first mark write: after containment, never in front of it. */
function findingMarks(config: ResponderConfig): FindingMarks | undefined {
  if (!config.marks) return undefined;
  const load = once(async (): Promise<FindingMarks> => {
    const { createSccFindingMarks } = await import('../../shared/gcp/scc-marks.js');
    if (config.endpoints.scc) {
      return createSccFindingMarks({ clientOptions: (await insecureGrpc(config.endpoints.scc)) as SecurityCenterClientOptions });
    }
    return createSccFindingMarks();
  });
  return { update: async (incident, marks, signal) => (await load()).update(incident, marks, signal), ready: () => load().then(() => undefined) };
}

/** SCC's copy of findings: always for the function, for the CLI when it confirms (SCC_RESPONDER_CONFIRM). */
export async function findingReader(config: ResponderConfig): Promise<FindingReader | undefined> {
  if (!config.confirm) return undefined;
  const { createSccFindingsReader } = await import('../../shared/gcp/scc-findings.js');
  if (config.endpoints.scc) {
    return createSccFindingsReader({ clientOptions: (await insecureGrpc(config.endpoints.scc)) as SecurityCenterClientOptions });
  }
  return createSccFindingsReader();
}

/** The Pub/Sub client is imported on the first publish (the record stage, after containment). */
function resultPublisher(config: ResponderConfig): ResultPublisher | undefined {
  const topic = config.resultsTopic;
  if (!topic) return undefined;
  const load = once(async (): Promise<ResultPublisher> => {
    const { createPubSubResultPublisher } = await import('../../shared/gcp/pubsub-publisher.js');
    // A loopback endpoint puts the Pub/Sub client in emulator mode (insecure, no credentials).
    return createPubSubResultPublisher({ topic, ...(config.endpoints.pubsub ? { clientOptions: { apiEndpoint: config.endpoints.pubsub } } : {}) });
  });
  return { publish: async (payload, attributes, orderingKey, signal) => (await load()).publish(payload, attributes, orderingKey, signal), ready: () => load().then(() => undefined) };
}

/** SCC_RESPONDER_NOTIFY_<NAME>: the environment variable holding notification secret NAME. */
export function notifySecretVariable(name: string): string {
  return `SCC_RESPONDER_NOTIFY_${name.toUpperCase().replace(/-/g, '_')}`;
}

/** Notification secrets from the environment (the deployment maps Secret Manager secrets to these variables). */
function environmentSecrets(env: NodeJS.ProcessEnv): NotifySecrets {
  return {
    read: (name) => {
      const variable = notifySecretVariable(name);
      const value = env[variable];
      if (value === undefined || value.trim() === '') {
        return Promise.reject(new ResponderError(`notification secret ${name} is not set (${variable})`, 'permanent', { code: 'NO_SECRET' }));
      }
      return Promise.resolve(value);
    },
  };
}

/** Secret Manager, its client imported on the first secret read (a notification: after containment). */
function secretManagerSecrets(config: ResponderConfig, project: string): NotifySecrets {
  const load = once(async (): Promise<NotifySecrets> => {
    if (project === '') throw new ResponderError('notification secrets: no project for Secret Manager (SCC_RESPONDER_SECRETS_PROJECT or GOOGLE_CLOUD_PROJECT)', 'permanent', { code: 'NO_SECRET_PROJECT' });
    const { createSecretManagerSecrets } = await import('../../shared/gcp/secret-manager-secrets.js');
    const endpoint = config.endpoints.secretManager;
    return createSecretManagerSecrets({ project, ...(endpoint ? { clientOptions: (await insecureGrpc(endpoint)) as SecretManagerClientOptions } : {}) });
  });
  return { read: async (name, signal) => (await load()).read(name, signal) };
}

/** The notification sender: node's https with no client library, so it is built eagerly. */
async function notifier(config: ResponderConfig, env: NodeJS.ProcessEnv): Promise<NonNullable<PipelineAdapters['notify']>> {
  const { createWebhookPoster } = await import('../../shared/notify/send.js');
  const extraCaPem = config.webhookCaFile ? readFileSync(config.webhookCaFile, 'utf8') : undefined;
  const source = config.secretSource;
  return {
    secrets: source.kind === 'env' ? environmentSecrets(env) : secretManagerSecrets(config, source.project),
    poster: createWebhookPoster(extraCaPem ? { extraCaPem } : {}),
    ...(config.endpoints.pagerduty ? { pagerDutyUrl: `https://${config.endpoints.pagerduty}/v2/enqueue` } : {}),
  };
}

/**
 * Builds the adapters the path to containment needs (cluster access, evidence store, limiter)
 * now, and the others (log search, marks, results topic) as ports whose client library is
 * imported on first use: on a cold instance, seconds of library loading must not stand
 * between a finding and the pod's deletion. `findingsReader`: the one the caller already
 * built (the runtime builds it first, to start SCC's confirmation before the rest loads).
 */
export async function buildAdapters(config: ResponderConfig, env: NodeJS.ProcessEnv = process.env, findingsReader?: Promise<FindingReader | undefined>): Promise<PipelineAdapters> {
  const [directory, evidence, findings] = await Promise.all([clusterDirectory(config, env), evidenceStore(config), findingsReader ?? findingReader(config)]);
  const logs = logSearch(config, env);
  const marks = findingMarks(config);
  const publisher = resultPublisher(config);
  const notify = await notifier(config, env);
  return {
    ...(typeof directory === 'string' ? { noClusterAccessReason: directory } : { directory }),
    ...(logs ? { logs, markAuthors: logs } : {}),
    ...(evidence ? { evidence } : {}),
    ...(marks ? { marks } : {}),
    ...(publisher ? { publisher } : {}),
    ...(findings ? { findings } : {}),
    notify,
    limiter: createActionLimiter(evidence),
  };
}

/** SCC client options for the CLI's listing commands: a loopback fake when configured, else Google's endpoint. */
export async function sccClientOptions(config: ResponderConfig): Promise<SecurityCenterClientOptions | undefined> {
  return config.endpoints.scc ? ((await insecureGrpc(config.endpoints.scc)) as SecurityCenterClientOptions) : undefined;
}

/** A publisher to any topic (backfill's findings topic): the Pub/Sub emulator when configured. */
export async function topicPublisher(config: ResponderConfig, topic: string): Promise<ResultPublisher & { close(): Promise<void> }> {
  const { createPubSubResultPublisher } = await import('../../shared/gcp/pubsub-publisher.js');
  return createPubSubResultPublisher({ topic, what: 'finding', ...(config.endpoints.pubsub ? { clientOptions: { apiEndpoint: config.endpoints.pubsub } } : {}) });
}
