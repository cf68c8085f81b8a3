// Environment -> typed, validated configuration. Read once per process (function instance or
// CLI run). Every knob has a safe default: dry-run policy, local evidence directory for the
// CLI, no marks/publishing unless configured.
import { fileURLToPath } from 'node:url';
import { z } from './common/zod.js';

const LOOPBACK_ENDPOINT = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):\d{1,5}$/;

/** An insecure endpoint override (tests, benches, emulators): loopback only, never a real host. */
const endpoint = z
  .string()
  .regex(LOOPBACK_ENDPOINT, 'must be a loopback host:port (insecure endpoints are for local fakes only)');

const boolish = z
  .enum(['true', 'false', '1', '0', 'on', 'off', 'yes', 'no'])
  .transform((v) => ['true', '1', 'on', 'yes'].includes(v));

const ConfigSchema = z.object({
  /** Policy file; absent = the bundled default policy (dry-run, enrich + snapshot). */
  SCC_RESPONDER_POLICY: z.string().min(1).optional(),
  /** `gs://bucket[/prefix]`, or a local directory. Absent: function = none, CLI = ./.evidence */
  SCC_RESPONDER_EVIDENCE: z.string().min(1).optional(),
  /** `projects/P/topics/T` for the results topic; absent = no publishing. */
  SCC_RESPONDER_RESULTS_TOPIC: z
    .string()
    .regex(/^projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/topics\/[A-Za-z][\w\-.~+%]{2,254}$/, 'must be projects/PROJECT/topics/TOPIC')
    .optional(),
  /** Write SCC security marks back to the finding. */
  SCC_RESPONDER_MARKS: boolish.optional(),
  /** Confirm the finding with SCC before acting (the function always does; CLI default: when it talks to SCC anyway). */
  SCC_RESPONDER_CONFIRM: boolish.optional(),
  /** How to reach clusters: `gke` (GKE API + Google token), `kubeconfig` (local), `none`. */
  SCC_RESPONDER_CLUSTER_ACCESS: z.enum(['gke', 'kubeconfig', 'none']).optional(),
  SCC_RESPONDER_KUBE_CONTEXT: z.string().min(1).optional(),
  KUBECONFIG: z.string().optional(),
  /** Search Cloud Logging for the playbook's three queries. */
  SCC_RESPONDER_LOGS: boolish.optional(),
  /** Whole-finding deadline in seconds (stay under the function timeout). */
  SCC_RESPONDER_DEADLINE_SECONDS: z.coerce.number().int().min(5).max(3600).optional(),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
  GOOGLE_CLOUD_PROJECT: z.string().optional(),
  K_SERVICE: z.string().optional(),
  K_REVISION: z.string().optional(),
  // Insecure loopback endpoints for local fakes/emulators (never used in production).
  SCC_RESPONDER_ENDPOINT_GKE: endpoint.optional(),
  SCC_RESPONDER_ENDPOINT_LOGGING: endpoint.optional(),
  SCC_RESPONDER_ENDPOINT_SCC: endpoint.optional(),
  SCC_RESPONDER_ENDPOINT_PUBSUB: endpoint.optional(),
  SCC_RESPONDER_ENDPOINT_STORAGE: endpoint.optional(),
  /** PagerDuty Events API on a loopback receiver (tests): https://<endpoint>/v2/enqueue. */
  SCC_RESPONDER_ENDPOINT_PAGERDUTY: endpoint.optional(),
  /** Where notification secrets come from: Secret Manager (function default) or SCC_RESPONDER_NOTIFY_<NAME> variables (CLI default). */
  SCC_RESPONDER_SECRET_SOURCE: z.enum(['secret-manager', 'env']).optional(),
  /** Project holding the notification secrets (default GOOGLE_CLOUD_PROJECT). */
  SCC_RESPONDER_SECRETS_PROJECT: z.string().min(1).optional(),
  SCC_RESPONDER_ENDPOINT_SECRETMANAGER: endpoint.optional(),
  /** PEM file of extra CAs trusted for notification webhooks (a TLS-inspecting proxy, a test receiver). */
  SCC_RESPONDER_WEBHOOK_CA_FILE: z.string().min(1).optional(),
  /** Static bearer token for Kubernetes (only together with a loopback GKE endpoint: tests). */
  SCC_RESPONDER_KUBE_TOKEN: z.string().min(1).optional(),
});

export type Surface = 'function' | 'cli';

export interface Endpoints {
  gke?: string;
  logging?: string;
  scc?: string;
  pubsub?: string;
  storage?: string;
  pagerduty?: string;
  secretManager?: string;
}

export interface ResponderConfig {
  surface: Surface;
  policyFile?: string;
  evidence: { kind: 'none' } | { kind: 'local'; dir: string } | { kind: 'gcs'; bucket: string; prefix: string };
  resultsTopic?: string;
  marks: boolean;
  /** Read the finding from SCC and act on SCC's copy (always true for the function). */
  confirm: boolean;
  clusterAccess: 'gke' | 'kubeconfig' | 'none';
  kubeContext?: string;
  logs: boolean;
  deadlineMs: number;
  logLevel: string;
  serviceVersion: string;
  endpoints: Endpoints;
  kubeToken?: string;
  /** Extra CA (PEM file) for notification webhooks. */
  webhookCaFile?: string;
  /** Where notification secrets are read. */
  secretSource: { kind: 'env' } | { kind: 'secret-manager'; project: string };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * `gs://BUCKET[/PREFIX]`, `file:///ABS/DIR`, a directory, or `none`. Any other `scheme://`
 * is an error (not a directory named `s3:`); `source` names the variable or flag it came from.
 */
export function parseEvidenceLocation(value: string | undefined, surface: Surface, source = 'SCC_RESPONDER_EVIDENCE'): ResponderConfig['evidence'] {
  if (value === undefined) return surface === 'cli' ? { kind: 'local', dir: '.evidence' } : { kind: 'none' };
  if (value === 'none' || value === 'off') return { kind: 'none' };
  const gs = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,221}[a-z0-9])(?:\/(.*))?$/.exec(value);
  if (gs) return { kind: 'gcs', bucket: gs[1] as string, prefix: (gs[2] ?? '').replace(/^\/+|\/+$/g, '') };
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(value)?.[1]?.toLowerCase();
  if (scheme === 'gs') throw new ConfigError(`${source}: invalid bucket in ${JSON.stringify(value)} (bucket names are 3-63 lowercase letters, digits, '-', '_' or '.')`);
  if (scheme === 'file') {
    try {
      return { kind: 'local', dir: fileURLToPath(value) };
    } catch (err) {
      throw new ConfigError(`${source}: ${JSON.stringify(value)} is not a local file URL (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  if (scheme !== undefined) throw new ConfigError(`${source}: unsupported evidence location ${JSON.stringify(value)}: use gs://BUCKET/PREFIX, a directory (or file:///DIR), or none`);
  return { kind: 'local', dir: value };
}

function secretSource(kind: 'env' | 'secret-manager', project: string | undefined): ResponderConfig['secretSource'] {
  if (kind === 'env') return { kind };
  // Without a project there is nowhere to read from: the notify steps say so when a rule asks for one.
  return { kind, project: project ?? '' };
}

/** Reads and validates configuration; throws ConfigError listing every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv, surface: Surface, version: string): ResponderConfig {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  if (e.SCC_RESPONDER_KUBE_TOKEN !== undefined && e.SCC_RESPONDER_ENDPOINT_GKE === undefined) {
    throw new ConfigError('SCC_RESPONDER_KUBE_TOKEN is only accepted with a loopback SCC_RESPONDER_ENDPOINT_GKE (local fakes)');
  }
  const endpoints: Endpoints = {};
  if (e.SCC_RESPONDER_ENDPOINT_GKE) endpoints.gke = e.SCC_RESPONDER_ENDPOINT_GKE;
  if (e.SCC_RESPONDER_ENDPOINT_LOGGING) endpoints.logging = e.SCC_RESPONDER_ENDPOINT_LOGGING;
  if (e.SCC_RESPONDER_ENDPOINT_SCC) endpoints.scc = e.SCC_RESPONDER_ENDPOINT_SCC;
  if (e.SCC_RESPONDER_ENDPOINT_PUBSUB) endpoints.pubsub = e.SCC_RESPONDER_ENDPOINT_PUBSUB;
  if (e.SCC_RESPONDER_ENDPOINT_STORAGE) endpoints.storage = e.SCC_RESPONDER_ENDPOINT_STORAGE;
  if (e.SCC_RESPONDER_ENDPOINT_PAGERDUTY) endpoints.pagerduty = e.SCC_RESPONDER_ENDPOINT_PAGERDUTY;
  if (e.SCC_RESPONDER_ENDPOINT_SECRETMANAGER) endpoints.secretManager = e.SCC_RESPONDER_ENDPOINT_SECRETMANAGER;
  if (surface === 'function' && e.SCC_RESPONDER_CONFIRM === false) {
    throw new ConfigError('SCC_RESPONDER_CONFIRM=false: the function never acts on a finding SCC has not confirmed (the message is attacker-writable)');
  }
  const marks = e.SCC_RESPONDER_MARKS ?? surface === 'function';
  const config: ResponderConfig = {
    surface,
    evidence: parseEvidenceLocation(e.SCC_RESPONDER_EVIDENCE, surface),
    marks,
    confirm: surface === 'function' || (e.SCC_RESPONDER_CONFIRM ?? (marks || e.SCC_RESPONDER_ENDPOINT_SCC !== undefined)),
    clusterAccess: e.SCC_RESPONDER_CLUSTER_ACCESS ?? (surface === 'function' ? 'gke' : 'kubeconfig'),
    logs: e.SCC_RESPONDER_LOGS ?? surface === 'function',
    deadlineMs: (e.SCC_RESPONDER_DEADLINE_SECONDS ?? 240) * 1000,
    logLevel: e.LOG_LEVEL ?? 'info',
    serviceVersion: e.K_REVISION ?? version,
    endpoints,
    secretSource: secretSource(e.SCC_RESPONDER_SECRET_SOURCE ?? (surface === 'function' ? 'secret-manager' : 'env'), e.SCC_RESPONDER_SECRETS_PROJECT ?? e.GOOGLE_CLOUD_PROJECT),
  };
  if (e.SCC_RESPONDER_POLICY) config.policyFile = e.SCC_RESPONDER_POLICY;
  if (e.SCC_RESPONDER_RESULTS_TOPIC) config.resultsTopic = e.SCC_RESPONDER_RESULTS_TOPIC;
  if (e.SCC_RESPONDER_KUBE_CONTEXT) config.kubeContext = e.SCC_RESPONDER_KUBE_CONTEXT;
  if (e.SCC_RESPONDER_KUBE_TOKEN) config.kubeToken = e.SCC_RESPONDER_KUBE_TOKEN;
  if (e.SCC_RESPONDER_WEBHOOK_CA_FILE) config.webhookCaFile = e.SCC_RESPONDER_WEBHOOK_CA_FILE;
  return config;
}
