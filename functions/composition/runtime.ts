// Composition root shared by the Cloud Function and the CLI: configuration, audit log,
// policy, and the lazily built adapters. Building the runtime loads no Google client: the
// adapters module (and every client library behind it) is imported on the first finding
// that matches the policy, so a non-matching message costs decode + decide + one log line.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { DestinationStream } from 'pino';
import { loadConfig, type ResponderConfig, type Surface } from '../../shared/config.js';
import { decideMessage, screenMessage, type ScreenedMessageDecision } from '../../shared/policy/decide-message.js';
import { defaultPolicy, DEFAULT_POLICY_SOURCE } from '../../shared/policy/default-policy.js';
import { formatPolicyErrors, loadPolicy } from '../../shared/policy/load.js';
import { COMPILED_POLICY_SUFFIX, policyFromCompiled } from '../../shared/policy/compiled.js';
import type { Policy } from '../../shared/policy/schema.js';
import { createAuditLog, type AuditLog } from '../../shared/record/audit-log.js';
import { createIdempotency, type Idempotency } from '../../shared/record/idempotency.js';
import type { HandlerRuntime } from '../../shared/respond/handle.js';
import type { PipelineAdapters, PipelineSettings, RespondContext, respond as Respond } from '../../shared/respond/pipeline.js';
import type { FindingReader } from '../../shared/ports.js';
import { RESPONDER_NAME, VERSION } from '../../shared/common/product.js';
import { confirmFinding } from '../../shared/respond/confirm.js';
import { decide } from '../../shared/policy/decide.js';

export interface RuntimeOptions {
  surface: Surface;
  env?: NodeJS.ProcessEnv;
  /** Overrides applied on top of the configuration (CLI flags). */
  configOverrides?: Partial<ResponderConfig>;
  /** Policy text instead of the configured file (tests, CLI `--policy`). */
  policy?: Policy;
  /** Adapters supplied by the caller instead of built from configuration (tests). */
  adapters?: PipelineAdapters;
  auditDestination?: DestinationStream;
  /** CLI: force every action into dry-run. */
  forceDryRun?: boolean;
  /** CLI --rerun: run again even when the finding was completed. */
  rerun?: boolean;
  /** Clock for the confirmation's eventTime window (tests replaying fixed fixtures). */
  now?: () => Date;
}

export interface Runtime extends HandlerRuntime {
  config: ResponderConfig;
  policy: Policy;
  policySource: string;
}

export class PolicyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyFileError';
  }
}

/** Loads the configured policy file, or the bundled default. Throws PolicyFileError with line numbers. */
export function loadPolicyFile(file: string | undefined): { policy: Policy; source: string } {
  if (file === undefined) return { policy: defaultPolicy(), source: DEFAULT_POLICY_SOURCE };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PolicyFileError(`cannot read policy file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const compiled = readCompiledPolicy(file);
  const result = (compiled === undefined ? undefined : policyFromCompiled(text, compiled, file)) ?? loadPolicy(text, file);
  if (!result.ok) throw new PolicyFileError(`invalid policy file:\n${formatPolicyErrors(result.errors)}`);
  return { policy: result.policy, source: file };
}

/** The file's compiled sidecar (shared/policy/compiled.ts), if it has one: none is the usual case outside a deploy. */
function readCompiledPolicy(file: string): string | undefined {
  try {
    return readFileSync(`${file}${COMPILED_POLICY_SUFFIX}`, 'utf8');
  } catch {
    return undefined;
  }
}

export function pipelineSettings(policy: Policy): PipelineSettings {
  return {
    snapshot: {
      maxBytes: policy.snapshot.maxBytes,
      timeoutMs: policy.snapshot.timeoutSeconds * 1000,
      hourlyByteBudget: policy.snapshot.hourlyBytesPerCluster,
      debugContainer: {
        enabled: policy.snapshot.debugContainer.enabled,
        image: policy.snapshot.debugContainer.image,
        dryRun: policy.snapshot.debugContainer.dryRun,
        ptrace: policy.snapshot.debugContainer.ptrace,
      },
    },
    enrich: {
      callTimeoutMs: policy.enrich.callTimeoutSeconds * 1000,
      logWindowMinutes: policy.enrich.logWindowMinutes,
      maxLogEntries: policy.enrich.maxLogEntries,
      maxLogBytes: policy.enrich.maxLogBytes,
    },
    protectedNamespaces: policy.protectedNamespaces,
    // Marks, publish: one API call each (plus client start-up on a cold instance).
    recordTimeoutMs: Math.max(5_000, policy.enrich.callTimeoutSeconds * 2_000),
    results: { includeArguments: policy.results.includeArguments },
  };
}

function collectorIdentity(config: ResponderConfig, env: NodeJS.ProcessEnv): string {
  if (config.surface === 'function') return env['K_SERVICE'] ? `cloud-function:${env['K_SERVICE']}` : 'cloud-function';
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry (containers): keep 'unknown'
  }
  return `cli:${user}@${os.hostname()}`;
}

/**
 * CLI --dry-run: the decision itself says dry-run (with a note that the policy said enforce),
 * so the Decision and Outcome lines, the audit entries and the stored report all agree with
 * what ran, not only the per-action lines.
 */
function forcedDryRun(screened: ScreenedMessageDecision, force: boolean): ScreenedMessageDecision {
  if (!force || screened.stage !== 'decide' || !screened.decision.matched || screened.decision.mode === 'dry-run') return screened;
  const note = `--dry-run: the policy's mode ${screened.decision.mode} is run as dry-run (nothing is written to the cluster)`;
  return { ...screened, decision: { ...screened.decision, mode: 'dry-run', notes: [...(screened.decision.notes ?? []), note] } };
}

/**
 * The pipeline (locate, enrich, snapshot, contain, record), imported by the first matching
 * finding alongside its adapters: a non-matching message (almost every message) never parses
 * it, so a new instance acks those sooner.
 */
let pipelineModule: Promise<{ respond: typeof Respond }> | undefined;
// Kept once loaded: a repeated import() of a loaded module still costs a module-job lookup and
// several promises per finding (each with a destroy hook under the Functions Framework's domain).
// A failed load is not kept: the next finding tries again, as it did before the cache.
const loadPipeline = (): Promise<{ respond: typeof Respond }> =>
  (pipelineModule ??= import('../../shared/respond/pipeline.js').catch((err: unknown) => {
    pipelineModule = undefined;
    throw err;
  }));

export function createRuntime(options: RuntimeOptions): Runtime {
  const env = options.env ?? process.env;
  const config: ResponderConfig = { ...loadConfig(env, options.surface, VERSION), ...options.configOverrides };
  const { policy, source } = options.policy ? { policy: options.policy, source: 'inline' } : loadPolicyFile(config.policyFile);
  const audit: AuditLog = createAuditLog({
    serviceVersion: config.serviceVersion,
    serviceName: RESPONDER_NAME,
    level: config.logLevel,
    projectId: env['GOOGLE_CLOUD_PROJECT'] ?? '',
    ...(options.auditDestination ? { destination: options.auditDestination } : {}),
  });

  // SCC's reader is built on its own, first: confirmation is a network wait on the path of
  // every finding, and cluster access, the store and the pipeline load while it is in flight.
  let findings: Promise<FindingReader | undefined> | undefined;
  const getFindings = (): Promise<FindingReader | undefined> =>
    (findings ??= options.adapters ? Promise.resolve(options.adapters.findings) : import('./adapters.js').then((m) => m.findingReader(config)));
  let adapters: Promise<PipelineAdapters> | undefined;
  const getAdapters = (): Promise<PipelineAdapters> =>
    (adapters ??= options.adapters
      ? Promise.resolve(options.adapters)
      : Promise.all([import('./adapters.js').then((m) => m.buildAdapters(config, env, getFindings())), loadPipeline()]).then(([a]) => a));
  let idempotency: Promise<Idempotency> | undefined;
  const settings = pipelineSettings(policy);
  const base: Omit<RespondContext, 'adapters' | 'audit' | 'envelope'> = {
    settings,
    collector: { identity: collectorIdentity(config, env), version: VERSION },
    version: VERSION,
    ...(options.forceDryRun ? { forceDryRun: true } : {}),
  };

  return {
    config,
    policy,
    policySource: source,
    audit,
    screen: options.surface === 'function' ? (input, ctx) => screenMessage(input, policy, ctx) : (input, ctx) => forcedDryRun(decideMessage(input, policy, ctx), options.forceDryRun === true),
    adapters: getAdapters,
    respondContext: () => Promise.resolve(base),
    respond: async (incident, plan, ctx) => (await loadPipeline()).respond(incident, plan, ctx),
    confirm: async (incident) => {
      const reader = await getFindings();
      // SCC's read starts first (its client's import is requested first); the rest loads
      // during SCC's answer. Locating the cluster through the GKE API (describe + token,
      // cached by the directory) runs alongside the SCC read too: no Kubernetes call, so it
      // may start before confirmation.
      const confirmation = confirmFinding(incident, {
        surface: options.surface,
        ...(reader ? { reader } : {}),
        decide: (i) => decide(i, policy),
        maxEventAgeMs: policy.confirm.maxEventAgeHours * 3_600_000,
        acceptedSources: policy.confirm.sources,
        ...(options.now ? { now: options.now } : {}),
      });
      void getAdapters()
        .then((a) => (config.clusterAccess === 'gke' && incident.cluster && a.directory ? a.directory.workloads(incident.cluster) : undefined))
        .catch(() => undefined);
      return confirmation;
    },
    claimConcurrently: options.surface === 'function',
    // The same clock decides an approval's expiry (tests move it instead of sleeping).
    ...(options.now ? { now: options.now } : {}),
    deadlineMs: config.deadlineMs,
    ...(options.rerun ? { rerun: true } : {}),
    idempotency: () =>
      (idempotency ??= getAdapters().then((a) => createIdempotency(a.evidence ? { store: a.evidence } : {}))),
  };
}
