// `policy backtest --live`: the guards that need the live pod, judged on the cluster as it is
// now, read-only. The facts are read the way the pipeline reads them for containment (the pod
// with a per-call deadline, 404 = gone; its owner chain with readOwnerChain; the node when an
// action targets it) through a WorkloadReads, which has no write method; the verdicts come
// from the executor's own guards (guards.ts and each action's guards()), evaluated on a
// GuardContext, which holds no Kubernetes port at all. Nothing here can write.
import type { Incident } from '../finding/types.js';
import type { Decision, ResponsePlan } from '../policy/types.js';
import type { NodeView, OwnerView, PodView, WorkloadReads } from '../ports.js';
import { ACTION_CATALOG } from '../policy/actions.js';
import { classifyError } from '../common/errors.js';
import { withTimeout } from '../common/time.js';
import { orderActions, workloadOf } from './executor.js';
import { previewGuards, type GuardPreview, type GuardPreviewEntry } from './explain.js';
import { livePodScopeGuard, protectedNamespaceGuard } from './guards.js';
import { readOwnerChain } from './owners.js';
import { ACTIONS } from './registry.js';
import { ParamError, type GuardContext, type GuardVerdict, type RegisteredAction } from './types.js';

/** What was read from the cluster for one finding. */
export interface LiveFacts {
  pod?: PodView;
  /** The pod read answered 404: it is gone. */
  podNotFound?: boolean;
  owners: OwnerView[];
  /** Why the owner chain stops short (the guards then judge by the controller reference, as the executor does). */
  ownersIncomplete?: string;
  node?: NodeView;
}

/**
 * The live judgement of one finding: the facts, or why the cluster could not be asked
 * (`cause`: the same reason without this finding's pod, so the summary groups a cluster's
 * failures into one line instead of one per pod).
 */
export type LiveJudgement = { judged: true; facts: LiveFacts } | { judged: false; reason: string; cause?: string };

/** Whether the finding has guards to judge on the live pod: a matched, unhandled plan with actions, on a GKE pod. */
export function hasLiveGuards(incident: Incident, decision: Decision, handled: boolean): decision is ResponsePlan {
  return decision.matched && !handled && decision.actions.length > 0 && incident.cluster !== null && incident.namespace !== undefined && incident.pod !== undefined;
}

export interface LiveReadOptions {
  callTimeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Reads the finding's pod, its owner chain and (for cordonNode) its node. A failed pod read
 * other than 404 (403, unreachable, timeout) means nothing was judged: the reason is returned,
 * never thrown, so one cluster's failure does not stop the backtest.
 */
export async function readLiveFacts(w: WorkloadReads, incident: Incident, plan: ResponsePlan, o: LiveReadOptions): Promise<LiveJudgement> {
  const namespace = incident.namespace ?? '';
  const name = incident.pod ?? '';
  let pod: PodView;
  try {
    pod = await withTimeout(`read pod ${namespace}/${name}`, o.callTimeoutMs, o.signal, (s) => w.readPod(namespace, name, s));
  } catch (err) {
    const c = classifyError(err);
    if (c.code === 404) return { judged: true, facts: { podNotFound: true, owners: [] } };
    const cluster = incident.cluster === null ? 'the cluster' : `cluster ${incident.cluster.project}/${incident.cluster.location}/${incident.cluster.name}`;
    const what = c.code === undefined ? c.kind : typeof c.code === 'number' ? `HTTP ${c.code}` : c.code;
    return { judged: false, reason: `could not read pod ${namespace}/${name}: ${c.reason}`, cause: `${cluster}: pod reads failed (${what})` };
  }
  const chain = await readOwnerChain(w, pod, o);
  const needsNode = plan.actions.some((a) => ACTION_CATALOG[a.type].target === 'node');
  const nodeName = pod.nodeName ?? incident.node;
  const node = needsNode && nodeName !== undefined ? await withTimeout(`read node ${nodeName}`, o.callTimeoutMs, o.signal, (s) => w.readNode(nodeName, s)).catch(() => undefined) : undefined;
  return { judged: true, facts: { pod, owners: chain.owners, ...(chain.incomplete === undefined ? {} : { ownersIncomplete: chain.incomplete }), ...(node === undefined ? {} : { node }) } };
}

/** The executor's context for the guards, from the live facts (no Kubernetes port, no evidence: a backtest collects none). */
export function liveGuardContext(incident: Incident, plan: ResponsePlan, facts: LiveFacts, protectedNamespaces?: readonly string[]): GuardContext {
  return {
    incident,
    plan,
    ...(facts.pod === undefined ? {} : { pod: facts.pod }),
    ...(facts.podNotFound === true ? { podNotFound: true } : {}),
    owners: facts.owners,
    ...(facts.node === undefined ? {} : { node: facts.node }),
    evidence: { stored: false, reason: 'a backtest collects no evidence' },
    // An approve rule's actions run as enforce once approved: judge them so.
    mode: plan.mode === 'dry-run' ? 'dry-run' : 'enforce',
    ...(protectedNamespaces === undefined ? {} : { protectedNamespaces }),
  };
}

function entryOf(g: GuardVerdict): GuardPreviewEntry {
  return { name: g.name, verdict: g.verdict, reason: g.reason, live: true, ...(g.verdict === 'fail' && g.effect !== undefined && g.effect !== 'refuse' ? { effect: g.effect } : {}) };
}

/** The live verdicts of one action: the executor's shared pod guards and the action's own. */
function liveVerdicts(ctx: GuardContext, type: string, params: Record<string, unknown>): Map<string, GuardVerdict> {
  const action = (ACTIONS as Partial<Record<string, RegisteredAction>>)[type];
  const prepared = action?.prepare(params);
  if (prepared === undefined || prepared instanceof ParamError) return new Map();
  return new Map([protectedNamespaceGuard(ctx), livePodScopeGuard(ctx), ...prepared.guards(ctx)].map((g) => [g.name, g]));
}

/**
 * The preview (previewGuards, as `policy check`) with every guard the live pod can judge
 * replaced by its live verdict; the evidence and blast-radius entries stay as previewed (the
 * backtest replays the limit itself).
 */
export function liveGuards(incident: Incident, plan: ResponsePlan, facts: LiveFacts, protectedNamespaces?: readonly string[]): GuardPreview[] {
  const preview = previewGuards(incident, plan, protectedNamespaces === undefined ? {} : { protectedNamespaces });
  const ctx = liveGuardContext(incident, plan, facts, protectedNamespaces);
  const ordered = orderActions(plan.actions);
  return preview.map((p, i) => {
    const live = liveVerdicts(ctx, p.action, ordered[i]?.params ?? {});
    return { ...p, guards: p.guards.map((g) => (live.has(g.name) ? entryOf(live.get(g.name) as GuardVerdict) : g)) };
  });
}

/** The workload the limiter would count the actions against (executor.ts workloadOf), when the pod was read. */
export function liveWorkload(facts: LiveFacts): string | undefined {
  return facts.pod === undefined ? undefined : workloadOf({ pod: facts.pod, owners: facts.owners });
}
