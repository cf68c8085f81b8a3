// Stage 4, contain: the rule's actions, in two waves. Metadata-only actions (label, annotate:
// recording the finding on the pod) need no evidence and run as soon as the pod is read,
// alongside the snapshot; the rest waits for the evidence gate, the owner chain and, for
// cordonNode, the node. Both waves wait for admit(): another delivery may own the finding.
import { skipped, type StepResult } from '../../common/step.js';
import { executeActions, prefetchBlastRadius, type ExecuteDeps, type ExecuteResult } from '../../contain/executor.js';
import type { ActionContext, EvidenceStatus } from '../../contain/types.js';
import type { Incident } from '../../finding/types.js';
import { ACTION_CATALOG, isMetadataOnly } from '../../policy/actions.js';
import { immediatePlan } from '../../policy/approval.js';
import type { ExecutionMode, ResponsePlan } from '../../policy/types.js';
import type { OwnerChain } from '../../contain/owners.js';
import type { ClusterInfo, NodeView, OwnerView, Workloads } from '../../ports.js';
import { signalOf, type RespondContext } from '../context.js';
import type { TargetPod } from './target-pod.js';

export interface Containment {
  /** The `contain` step when no action could be taken at all. */
  step?: StepResult;
  result: ExecuteResult;
}

interface Facts {
  target: TargetPod;
  evidence: EvidenceStatus;
  /** The evidence once its commit ended, when `evidence` was judged while it ran (stages/snapshot.ts evidenceGate). */
  evidenceFinal?: Promise<EvidenceStatus>;
  owners?: OwnerView[];
  node?: NodeView;
  cluster?: ClusterInfo;
  /** Executing an approval: the pod UID the person approved acting on. */
  approvedPodUid?: string;
}

const NONE: ExecuteResult = { outcomes: [], steps: [] };

function admitted(ctx: RespondContext): Promise<void> {
  return ctx.admit ? ctx.admit() : Promise.resolve();
}

function actionContext(incident: Incident, plan: ResponsePlan & { mode: ExecutionMode }, w: Workloads, facts: Facts, ctx: RespondContext): ActionContext {
  const { target, cluster } = facts;
  return {
    incident,
    plan,
    ...(target.pod ? { pod: target.pod } : {}),
    ...(target.notFound ? { podNotFound: true } : {}),
    ...(target.readError === undefined ? {} : { podReadError: target.readError }),
    ...(facts.approvedPodUid === undefined ? {} : { approvedPodUid: facts.approvedPodUid }),
    owners: facts.owners ?? [],
    ...(facts.node ? { node: facts.node } : {}),
    evidence: facts.evidence,
    ...(facts.evidenceFinal ? { evidenceFinal: facts.evidenceFinal } : {}),
    workloads: w,
    mode: ctx.forceDryRun ? 'dry-run' : plan.mode,
    ...(cluster?.networkPolicyEnforced === undefined ? {} : { clusterEnforcesNetworkPolicy: cluster.networkPolicyEnforced }),
    protectedNamespaces: ctx.settings.protectedNamespaces,
    ...signalOf(ctx),
  };
}

function deps(ctx: RespondContext, now: () => Date): ExecuteDeps {
  return { ...(ctx.adapters.limiter ? { limiter: ctx.adapters.limiter } : {}), now };
}

function run(incident: Incident, plan: ResponsePlan, w: Workloads, facts: Facts, ctx: RespondContext, now: () => Date): Promise<ExecuteResult> {
  // approve mode: only the immediate actions run here (enforce); the pending ones are recorded.
  const exec = immediatePlan(plan);
  if (exec.actions.length === 0) return Promise.resolve(NONE);
  return executeActions(actionContext(incident, exec, w, facts, ctx), deps(ctx, now));
}

/**
 * Once the pod and its owner chain are read (while the evidence is collected): the late
 * wave's blast-radius reads, so that only the slot itself is left in front of the DELETE.
 * Reads only; never rejects.
 */
export function prefetchLimits(incident: Incident, plan: ResponsePlan, w: Workloads | undefined, target: Promise<TargetPod>, chain: Promise<OwnerChain>, ctx: RespondContext, now: () => Date): void {
  const { late } = splitActions(immediatePlan(plan));
  if (!w || late.actions.length === 0) return;
  void Promise.all([target, chain]).then(([t, c]) => {
    const facts = { target: t, owners: c.owners, evidence: { stored: false, reason: 'not needed: reads only' } };
    prefetchBlastRadius(actionContext(incident, late, w, facts, ctx), deps(ctx, now));
  }, () => undefined);
}

export function splitActions<P extends ResponsePlan>(plan: P): { early: P; late: P } {
  return {
    early: { ...plan, actions: plan.actions.filter((a) => isMetadataOnly(a.type)) },
    late: { ...plan, actions: plan.actions.filter((a) => !isMetadataOnly(a.type)) },
  };
}

/** The early wave: starts now, runs as soon as the pod is read. */
export function containEarly(incident: Incident, plan: ResponsePlan, w: Workloads | undefined, target: Promise<TargetPod>, ctx: RespondContext, now: () => Date): Promise<ExecuteResult> {
  const { early } = splitActions(plan);
  if (!w || early.actions.length === 0) return Promise.resolve(NONE);
  const p = target.then(async (t) => {
    await admitted(ctx);
    return run(incident, early, w, { target: t, evidence: { stored: false, reason: 'not needed: metadata only' } }, ctx, now);
  });
  // Awaited by containLate; a refusal to admit must not surface as an unhandled rejection meanwhile.
  p.catch(() => undefined);
  return p;
}

/**
 * The late wave, after the evidence gate; returns both waves' outcomes in plan order of waves.
 * With `facts.evidenceFinal` it starts while the verified copy commits: guards and budget slots
 * are judged then, the writes wait for the commit (executor.ts runAhead).
 */
export async function containLate(incident: Incident, plan: ResponsePlan, w: Workloads | undefined, facts: Omit<Facts, 'node'> & { early: Promise<ExecuteResult> }, ctx: RespondContext, now: () => Date): Promise<Containment> {
  if (plan.actions.length === 0) return { result: NONE };
  if (!w) return { step: skipped('contain', 'no Kubernetes access: no action can be taken'), result: NONE };
  const { late } = splitActions(plan);
  const nodeName = facts.target.pod?.nodeName ?? incident.node;
  const needsNode = late.actions.some((a) => ACTION_CATALOG[a.type].target === 'node');
  const node = needsNode && nodeName ? await w.readNode(nodeName, ctx.signal).catch(() => undefined) : undefined;
  await admitted(ctx);
  const lateResult = await run(incident, late, w, { ...facts, ...(node ? { node } : {}) }, ctx, now);
  const earlyResult = await facts.early;
  return { result: { outcomes: [...earlyResult.outcomes, ...lateResult.outcomes], steps: [...earlyResult.steps, ...lateResult.steps] } };
}
