// respond(): runs the playbook for one incident whose policy decision matched, and returns
// the TriageReport. Order (DESIGN.md "Data flow"):
//   locate -> (enrich || snapshot) -> contain -> record (report object, marks, results topic)
// Enrichment and the snapshot run concurrently: neither needs the other, and the snapshot
// is on the critical path to containment. A failed enrichment never blocks evidence or
// containment; a failed snapshot blocks destructive actions when evidence is required.
import { executeActions, type ExecuteResult } from '../contain/executor.js';
import type { ActionLimiter } from '../contain/limiter.js';
import type { ActionContext, ActionOutcome, EvidenceStatus } from '../contain/types.js';
import { buildPlaybookArtefacts } from '../enrich/playbook.js';
import { enrichIncident } from '../enrich/enrich.js';
import { withTimeout } from '../common/time.js';
import { RESPONDER_NAME } from '../common/product.js';
import type { EnrichmentData } from '../enrich/types.js';
import { snapshotBinary } from '../evidence/snapshot.js';
import type { CollectorInfo, EvidenceResult, SnapshotPolicy } from '../evidence/types.js';
import type { Envelope } from '../finding/decode.js';
import type { Incident } from '../finding/types.js';
import type { ActionType, Mode, ResponsePlan } from '../policy/types.js';
import type { ClusterDirectory, ClusterInfo, EvidenceStore, FindingMarks, LogSearch, NodeView, PodView, ResultPublisher, Workloads } from '../ports.js';
import { replacementSelector } from '../contain/replacement.js';
import { classifyError } from '../common/errors.js';
import type { FindingAudit } from '../record/audit-log.js';
import { marksFor, type HashVerdict as MarkHashVerdict } from '../record/marks.js';
import { resultMessage } from '../record/result-publisher.js';
import { REPORT_SCHEMA_VERSION, type ReportOutcome, type TriageReport } from './report.js';
import { findingFolder } from '../ledger/layout.js';
import { loadPriorEffects, mergeStatuses, storeEffects, type EffectRecord } from './prior-effects.js';
import { sharedReads } from './shared-reads.js';
import { runStep, Skip, skipped, type StepResult } from '../common/step.js';

/** Actions that only record the finding on the pod: no evidence needed, nothing destroyed. */
const METADATA_ONLY: ReadonlySet<ActionType> = new Set<ActionType>(['labelPod', 'annotatePod']);

export interface PipelineAdapters {
  directory?: ClusterDirectory;
  /** Why there is no directory (shown as the reason the cluster steps are skipped). */
  noClusterAccessReason?: string;
  logs?: LogSearch;
  evidence?: EvidenceStore;
  marks?: FindingMarks;
  publisher?: ResultPublisher;
  limiter?: ActionLimiter;
}

/** Settings that come from the policy file (with its defaults). */
export interface PipelineSettings {
  snapshot: SnapshotPolicy;
  enrich: { callTimeoutMs: number; logWindowMinutes: number; maxLogEntries: number; maxLogBytes: number };
  protectedNamespaces: readonly string[];
  /** Timeout for each record step (marks, publish, report object). */
  recordTimeoutMs: number;
}

export interface RespondContext {
  adapters: PipelineAdapters;
  audit: FindingAudit;
  settings: PipelineSettings;
  collector: CollectorInfo;
  version: string;
  envelope?: Envelope;
  /** CLI `--dry-run`: run every action in dry-run whatever the rule says. */
  forceDryRun?: boolean;
  now?: () => Date;
  signal?: AbortSignal;
  /**
   * Waits until this run may take effects (cluster writes, marks, publishing); throws when
   * another delivery owns the finding. Reads and create-only evidence happen before it, so the
   * duplicate check costs no time on the critical path (shared/record/idempotency.ts).
   */
  admit?: () => Promise<void>;
}

/** The directory as enrichment sees it: the same (shared-read) Workloads the other steps use. */
function withWorkloads(directory: ClusterDirectory, workloads: Workloads): ClusterDirectory {
  return { describe: (ref, signal) => directory.describe(ref, signal), workloads: () => Promise.resolve(workloads) };
}

/**
 * The cluster description when enrichment already has it (it usually does: describe is the
 * first call), so quarantine can say whether NetworkPolicy is enforced without waiting for
 * the slower enrichment calls (logs, owner chain).
 */
async function clusterInfoIfReady(enrich: Promise<{ data?: EnrichmentData }>): Promise<ClusterInfo | undefined> {
  const pending = Symbol('pending');
  const r = await Promise.race([enrich, new Promise<typeof pending>((resolve) => setImmediate(() => resolve(pending)))]);
  return r === pending ? undefined : r.data?.cluster;
}

function evidenceStatus(result: EvidenceResult | undefined, step: StepResult | undefined): EvidenceStatus {
  if (result && (result.outcome === 'stored' || result.outcome === 'exists')) return { stored: true, uri: result.object.uri };
  if (result && result.outcome === 'failed') return { stored: false, reason: `snapshot failed: ${result.reason}` };
  return { stored: false, reason: step?.reason ? `snapshot ${step.status}: ${step.reason}` : 'no snapshot was taken' };
}

/** Hash verdict in the marks' vocabulary. */
export function markHash(result: EvidenceResult | undefined): MarkHashVerdict {
  if (!result || result.outcome === 'failed') return 'no-evidence';
  const manifest = result.outcome === 'stored' ? result.manifest : result.manifest;
  if (!manifest) return 'not-compared';
  const partial = manifest.hashes.prefix !== undefined;
  switch (manifest.verdict) {
    case 'matches':
      return partial ? 'partial-match' : 'matches';
    case 'differs':
      return partial ? 'partial-differs' : 'differs';
    default:
      return 'not-compared';
  }
}

function actionMarkWords(outcomes: readonly ActionOutcome[], prior: readonly EffectRecord[]): string {
  if (outcomes.length === 0) return 'none';
  return marksFor({ runId: 'x', rule: 'x', actions: mergeStatuses(outcomes, prior), mode: outcomes.some((o) => o.mode === 'enforce') ? 'enforce' : 'dry-run' }).scc_responder_action;
}

/** Verdict from the steps: transient failures of work that matters ask for a redelivery. */
export function computeOutcome(steps: readonly StepResult[], actions: readonly ActionOutcome[], plan: ResponsePlan, prior: readonly EffectRecord[] = []): ReportOutcome {
  const failed = steps.filter((s) => s.status === 'failed');
  const failedSteps = failed.map((s) => s.name);
  // Enrichment (logs, events, node) is best effort: its transient failures do not justify
  // re-running the whole response. Evidence, containment and the record steps do.
  const mattersForRetry = (s: StepResult): boolean => !s.name.startsWith('enrich.') || s.name === 'enrich.pod';
  const retry = failed.some((s) => s.failure === 'transient' && mattersForRetry(s));
  const action = actionMarkWords(actions, prior);
  let verdict: ReportOutcome['verdict'];
  if (retry) verdict = 'retry';
  else if (failed.length === 0) verdict = 'handled';
  else if (failed.length === steps.length) verdict = 'failed';
  else verdict = 'partial';
  const mode: Mode = plan.mode;
  const summary =
    `${verdict}: rule ${plan.rule} (${mode}), action ${action}` +
    (failedSteps.length > 0 ? `; failed steps: ${failedSteps.join(', ')}` : '') +
    (retry ? '; a transient failure asks for redelivery' : '');
  return { verdict, action, retry, summary, failedSteps };
}

export async function respond(incident: Incident, plan: ResponsePlan, ctx: RespondContext): Promise<TriageReport> {
  const now = ctx.now ?? (() => new Date());
  const receivedAt = now().toISOString();
  const { adapters, audit, settings } = ctx;
  const steps: StepResult[] = [];
  const record = (s: StepResult): StepResult => {
    steps.push(s);
    audit.step(s);
    return s;
  };
  const cluster = incident.cluster;
  const folder = findingFolder(incident);
  const admit = ctx.admit ?? ((): Promise<void> => Promise.resolve());
  // Effects of earlier attempts (read while the cluster is located; best effort).
  const priorPromise: Promise<EffectRecord[]> = adapters.evidence
    ? loadPriorEffects(adapters.evidence, folder, ctx.signal).catch((err: unknown) => {
        audit.warning(`could not read earlier attempts' effect records: ${err instanceof Error ? err.message : String(err)}`);
        return [];
      })
    : Promise.resolve([]);

  // 1. locate: Kubernetes access for the cluster (GKE API + token, or kubeconfig).
  let workloads: Workloads | undefined;
  if (!cluster) {
    record(skipped('locate', 'the finding names no GKE cluster'));
  } else if (!adapters.directory) {
    record(skipped('locate', adapters.noClusterAccessReason ?? 'no cluster access configured (SCC_RESPONDER_CLUSTER_ACCESS)'));
  } else {
    const directory = adapters.directory;
    const s = await runStep('locate', (signal) => directory.workloads(cluster, signal), {
      timeoutMs: settings.enrich.callTimeoutMs,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    if (s.status === 'ok') workloads = sharedReads(s.data as Workloads);
    // The step's data is the Kubernetes client itself: recorded without it (scrubbing and
    // logging the client's object graph cost ~10 ms of CPU before the first pod read and
    // put kubeconfig internals into the audit trail).
    const { data: _client, ...located } = s;
    record(located);
  }

  // 2. enrich || snapshot
  const enrichPromise: Promise<{ steps: StepResult[]; data?: EnrichmentData }> =
    plan.enrich && adapters.directory && cluster && workloads
      ? enrichIncident(incident, { directory: withWorkloads(adapters.directory, workloads), ...(adapters.logs ? { logs: adapters.logs } : {}), now }, {
          callTimeoutMs: settings.enrich.callTimeoutMs,
          logWindowMinutes: settings.enrich.logWindowMinutes,
          maxLogEntries: settings.enrich.maxLogEntries,
          maxLogBytes: settings.enrich.maxLogBytes,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        })
      : Promise.resolve({ steps: [skipped('enrich', plan.enrich ? 'no Kubernetes access' : `rule ${plan.rule} does not enrich`)] });

  let evidence: EvidenceResult | undefined;
  const snapshotPromise: Promise<StepResult> = (async () => {
    if (!plan.snapshot) return skipped('snapshot', `rule ${plan.rule} does not snapshot`);
    if (!workloads) return skipped('snapshot', 'no Kubernetes access to the cluster');
    if (!adapters.evidence) return skipped('snapshot', 'no evidence store configured (SCC_RESPONDER_EVIDENCE)');
    const store = adapters.evidence;
    const w = workloads;
    return runStep(
      'snapshot',
      async (signal) => {
        const result = await snapshotBinary({ incident, workloads: w, store, policy: settings.snapshot, collector: ctx.collector, signal });
        evidence = result;
        // Non-fatal evidence problems (e.g. the manifest with the copy's hashes not written) are never silent.
        if (result.outcome !== 'failed') for (const warning of result.warnings) audit.warning(`snapshot: ${warning}`, { step: 'snapshot' });
        if (result.outcome === 'failed') throw Object.assign(new Error(result.reason), { code: result.code, kindHint: result.kind });
        return result;
      },
      // The snapshot enforces its own deadline; this outer one only catches a hung store.
      { timeoutMs: settings.snapshot.timeoutMs + 5_000, ...(ctx.signal ? { signal: ctx.signal } : {}) },
    );
  })();

  // Critical path to containment: locate -> read pod -> snapshot -> contain. Containment
  // needs the pod (UID, controller, creation time) and the stored evidence, not the logs,
  // events or owner chain, so it starts as soon as those two are in; enrichment finishes
  // alongside and its steps are recorded when it is done.
  // This read is usually the first of the pod, so the snapshot and enrich.pod share its call
  // (sharedReads): it gets the per-call deadline, or a hung API server holds the response forever.
  const readTargetPod = (w: Workloads, namespace: string, pod: string): Promise<PodView> =>
    withTimeout(`read pod ${namespace}/${pod}`, settings.enrich.callTimeoutMs, ctx.signal, (signal) => w.readPod(namespace, pod, signal));
  const podPromise: Promise<{ pod?: PodView; notFound?: boolean }> =
    workloads && incident.namespace && incident.pod && plan.actions.length > 0
      ? readTargetPod(workloads, incident.namespace, incident.pod).then(
          (pod) => ({ pod }),
          (err: unknown) => ({ notFound: classifyError(err).code === 404 }),
        )
      : Promise.resolve({});
  if (workloads && plan.actions.some((a) => a.type === 'deletePod')) {
    const w = workloads;
    // Prefetch the controller's pods (deletePod lists them just before deleting, to tell the
    // replacement from existing siblings): done while the snapshot streams.
    void podPromise.then(({ pod }) => {
      const controller = pod?.ownerReferences.find((r) => r.controller === true);
      if (pod && controller) w.listPods(pod.namespace, replacementSelector(pod, controller), ctx.signal).catch(() => undefined);
    });
  }

  // Metadata-only actions (label, annotate: recording the finding on the pod) need neither
  // the evidence nor the rest of enrichment: they run as soon as the pod is read, alongside
  // the snapshot, so their PATCHes are not round trips in front of the delete.
  const early = plan.actions.filter((a) => METADATA_ONLY.has(a.type));
  const late = plan.actions.filter((a) => !METADATA_ONLY.has(a.type));
  const actionContext = (
    actionPlan: ResponsePlan,
    podRead: { pod?: PodView; notFound?: boolean },
    w: Workloads,
    evidenceNow: EvidenceStatus,
    extra: { node?: NodeView; cluster?: ClusterInfo },
  ): ActionContext => ({
    incident,
    plan: actionPlan,
    ...(podRead.pod ? { pod: podRead.pod } : {}),
    ...(podRead.notFound ? { podNotFound: true } : {}),
    owners: [],
    ...(extra.node ? { node: extra.node } : {}),
    evidence: evidenceNow,
    workloads: w,
    mode: ctx.forceDryRun ? 'dry-run' : plan.mode,
    ...(extra.cluster?.networkPolicyEnforced === undefined ? {} : { clusterEnforcesNetworkPolicy: extra.cluster.networkPolicyEnforced }),
    protectedNamespaces: settings.protectedNamespaces,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  const executeDeps = { ...(adapters.limiter ? { limiter: adapters.limiter } : {}), now };
  const earlyPromise: Promise<ExecuteResult> =
    workloads && early.length > 0
      ? (() => {
          const w = workloads;
          return podPromise.then(async (podRead) => {
            await admit();
            return executeActions(actionContext({ ...plan, actions: early }, podRead, w, { stored: false, reason: 'not needed: metadata only' }, {}), executeDeps);
          });
        })()
      : Promise.resolve({ outcomes: [], steps: [] });
  // Awaited below; a refusal to admit must not surface as an unhandled rejection meanwhile.
  earlyPromise.catch(() => undefined);

  const [snapshotStep, podRead] = await Promise.all([snapshotPromise, podPromise]);
  if (snapshotStep.status === 'failed' && evidence?.outcome === 'failed') {
    // Keep the snapshot's own classification (e.g. file missing = permanent, dropped stream = transient).
    snapshotStep.failure = evidence.kind;
    if (evidence.code !== undefined) snapshotStep.code = evidence.code;
    snapshotStep.data = evidence;
  }
  record(snapshotStep);

  // 3. contain
  let actions: ActionOutcome[] = [];
  let enrichment: EnrichmentData | undefined;
  let enrichRecorded = false;
  const finishEnrichment = async (): Promise<void> => {
    if (enrichRecorded) return;
    enrichRecorded = true;
    const enriched = await enrichPromise;
    for (const s of enriched.steps) record(s);
    enrichment = enriched.data;
  };
  if (plan.actions.length > 0) {
    if (!workloads) {
      await finishEnrichment();
      record(skipped('contain', 'no Kubernetes access: no action can be taken'));
    } else {
      const w = workloads;
      const needsNode = late.some((a) => a.type === 'cordonNode');
      const nodeName = podRead.pod?.nodeName ?? incident.node;
      const node = needsNode && nodeName ? await w.readNode(nodeName, ctx.signal).catch(() => undefined) : undefined;
      const cluster = await clusterInfoIfReady(enrichPromise);
      await admit();
      const lateResult: ExecuteResult =
        late.length > 0
          ? await executeActions(
              actionContext({ ...plan, actions: late }, podRead, w, evidenceStatus(evidence, snapshotStep), { ...(node ? { node } : {}), ...(cluster ? { cluster } : {}) }),
              executeDeps,
            )
          : { outcomes: [], steps: [] };
      const earlyResult = await earlyPromise;
      const result = { outcomes: [...earlyResult.outcomes, ...lateResult.outcomes], steps: [...earlyResult.steps, ...lateResult.steps] };
      actions = result.outcomes;
      await finishEnrichment();
      for (const s of result.steps) record(s);
      for (const o of actions) for (const warning of o.warnings) audit.warning(warning, { action: o.type });
      if (adapters.evidence) {
        const store = adapters.evidence;
        await storeEffects(store, folder, audit.runId, actions, now(), ctx.signal).catch((err: unknown) => {
          audit.warning(`effect record not stored (a retry may under-report this attempt's effects): ${err instanceof Error ? err.message : String(err)}`);
        });
      }
    }
  }
  await finishEnrichment();

  const prior = await priorPromise;
  const playbook = buildPlaybookArtefacts(incident, {
    ...(enrichment?.node?.instanceId ? { instanceId: enrichment.node.instanceId } : {}),
    ...(enrichment?.topController ? { owner: enrichment.topController } : {}),
  });

  const report: TriageReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    responder: { name: RESPONDER_NAME, version: ctx.version },
    runId: audit.runId,
    findingName: incident.findingName,
    receivedAt,
    completedAt: receivedAt,
    ...(ctx.envelope ? { envelope: ctx.envelope } : {}),
    incident,
    decision: plan,
    playbook,
    ...(enrichment ? { enrichment } : {}),
    ...(evidence ? { evidence } : {}),
    actions,
    ...(prior.length > 0 ? { priorEffects: prior } : {}),
    steps,
    outcome: computeOutcome(steps, actions, plan, prior),
  };

  // 4. record: marks and results topic. These run after the outcome is known;
  // each is its own step and may turn the verdict into a retry.
  await recordEffects(report, ctx, record);
  report.outcome = computeOutcome(steps, actions, plan, prior);
  report.completedAt = now().toISOString();
  return report;
}

async function recordEffects(report: TriageReport, ctx: RespondContext, record: (s: StepResult) => StepResult): Promise<void> {
  const { adapters, settings, audit } = ctx;
  await ctx.admit?.();
  const incident = report.incident;
  const plan = report.decision.matched ? report.decision : undefined;
  const opts = { timeoutMs: settings.recordTimeoutMs, ...(ctx.signal ? { signal: ctx.signal } : {}) };
  const evidenceUri = report.evidence && report.evidence.outcome !== 'failed' ? report.evidence.object.uri : undefined;
  const prior = report.priorEffects ?? [];
  // The outcome respond() computed just before recording: the same steps, actions and prior effects.
  const willRetry = report.outcome.retry;

  // The report object (the cross-delivery "completed" record) is written by the caller
  // through the idempotency protocol once this returns (shared/record/idempotency.ts).
  const jobs: Promise<StepResult>[] = [];
  if (!adapters.marks) jobs.push(Promise.resolve(skipped('record.marks', 'SCC marks write-back is off (SCC_RESPONDER_MARKS)')));
  else if (willRetry) jobs.push(Promise.resolve(skipped('record.marks', 'a retry is coming: marks are written by the final attempt')));
  else {
    const marks = adapters.marks;
    const values = marksFor({
      runId: audit.runId,
      ...(plan ? { rule: plan.rule, mode: ctx.forceDryRun ? 'dry-run' : plan.mode } : {}),
      actions: mergeStatuses(report.actions, prior),
      ...(evidenceUri ? { evidenceUri } : {}),
      hash: markHash(report.evidence),
      // A pod that is gone leaves nothing to copy: not a failure of the response.
      failed: report.steps.some(
        (s) => s.status === 'failed' && s.failure === 'permanent' && ((s.name === 'snapshot' && !(report.evidence?.outcome === 'failed' && report.evidence.failure === 'pod-gone')) || s.name.startsWith('contain.')),
      ),
    });
    jobs.push(runStep('record.marks', async (signal) => {
      await marks.update(incident, values, signal);
      return values;
    }, opts));
  }

  if (!adapters.publisher) jobs.push(Promise.resolve(skipped('record.publish', 'no results topic configured (SCC_RESPONDER_RESULTS_TOPIC)')));
  else if (willRetry) jobs.push(Promise.resolve(skipped('record.publish', 'a retry is coming: the result is published by the final attempt')));
  else {
    const publisher = adapters.publisher;
    const msg = resultMessage(report, {
      findingName: incident.findingName,
      category: incident.category,
      severity: incident.severity,
      action: report.outcome.action,
      ...(incident.cluster ? { cluster: incident.cluster.name, project: incident.cluster.project } : {}),
      verdict: report.outcome.verdict,
      ...(plan ? { mode: plan.mode, rule: plan.rule } : {}),
    });
    jobs.push(runStep('record.publish', async (signal) => ({ messageId: await publisher.publish(msg.payload, msg.attributes, msg.orderingKey, signal) }), opts));
  }

  for (const s of await Promise.all(jobs)) record(s);
}

export { Skip };
