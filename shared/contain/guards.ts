// Guards shared by the containment actions. Each is a pure function of the GuardContext
// returning a verdict with its reason, so dry-run and enforce evaluate exactly the same
// checks and a reviewer sees why an action was or was not taken. Every guard is evaluated
// (no short-circuit), so the report always shows the full picture.
import type { GuardContext, GuardVerdict } from './types.js';
import type { OwnerRef, OwnerView, PodView } from '../ports.js';
import { livePodOutOfScope, type LivePod } from '../policy/pod-scope.js';
import { firstGlobMatch } from '../policy/glob.js';
import { DEFAULT_PROTECTED_NAMESPACES } from './protected.js';

export function pass(name: string, reason: string): GuardVerdict {
  return { name, verdict: 'pass', reason };
}

export function fail(name: string, reason: string, effect: GuardVerdict['effect'] = 'refuse'): GuardVerdict {
  return effect === 'refuse' ? { name, verdict: 'fail', reason } : { name, verdict: 'fail', reason, effect };
}

/**
 * No action in a protected namespace, even if decide() let the incident through (defence in
 * depth: kube-system and GKE-managed namespaces run the cluster itself). Checks both the
 * finding's namespace and the pod's, in case they ever differ.
 */
export function protectedNamespaceGuard(ctx: GuardContext): GuardVerdict {
  return protectedNamespaceVerdict([ctx.incident.namespace, ctx.pod?.namespace], ctx.protectedNamespaces ?? DEFAULT_PROTECTED_NAMESPACES);
}

/** The same check on bare values (also used by the `policy check` preview, which has no pod). */
export function protectedNamespaceVerdict(candidates: readonly (string | undefined)[], patterns: readonly string[]): GuardVerdict {
  const name = 'protected-namespace';
  const namespaces = new Set(candidates.filter((n): n is string => n !== undefined));
  if (namespaces.size === 0) return fail(name, 'the finding names no namespace: cannot tell whether it is protected');
  for (const ns of namespaces) {
    // The policy's own anchored glob (whole value), so decide() and this guard agree.
    const hit = firstGlobMatch(patterns, ns);
    if (hit !== undefined) return fail(name, `namespace ${ns} is protected (matches "${hit}"): no containment there`);
  }
  return pass(name, `namespace ${[...namespaces].join(', ')} is not protected`);
}

/**
 * Evidence first: an action that changes the workload waits for the evidence, unless the rule
 * waives it (`requireEvidence: false`). `attempted` (the default) waits for the collection
 * attempt to finish: what the target withheld does not hold containment, our own failures do.
 * `stored` waits for a copy that counts.
 */
export function evidenceGuard(ctx: GuardContext, destructive: boolean): GuardVerdict {
  const name = 'evidence';
  if (!destructive) return pass(name, 'metadata only: evidence not required');
  if (ctx.evidence.committing === true) {
    // Judged ahead only (executor.ts runAhead), which acts on evidenceFinal; a verdict with
    // nothing to wait for the commit is not durable evidence, whatever the rule waives.
    if (ctx.evidenceFinal !== undefined) return pass(name, 'evidence verified, its commit in flight (the action waits for it)');
    return fail(name, 'evidence verified but its commit is still in flight and nothing waits for it: not stored yet');
  }
  if (ctx.evidence.stored) return pass(name, `evidence stored${ctx.evidence.uri === undefined ? '' : ` at ${ctx.evidence.uri}`}`);
  const why = ctx.evidence.reason ?? 'no reason given';
  if (!ctx.plan.requireEvidence) return pass(name, `evidence not stored (${why}), and the rule waives it (requireEvidence: false)`);
  if (ctx.plan.evidenceGate === 'attempted' && ctx.evidence.attemptFinished === true) {
    return pass(name, `the evidence collection finished without a stored copy: evidence destroyed or withheld by the target (${why}); requireEvidence: attempted lets containment go on`);
  }
  if (ctx.plan.evidenceGate === 'attempted') return fail(name, `evidence not stored (${why}): the collection did not finish on our side, and the rule requires it first`);
  return fail(name, `evidence not stored (${why}) and the rule requires a stored copy first (requireEvidence: stored)`);
}

/**
 * A pod created after the binary ran cannot be the one the finding is about: it is a
 * replacement reusing the name (StatefulSet), reached by a redelivered or late finding.
 * The API server serialises creationTimestamp in whole seconds (the pod was created at some
 * instant within that second) while eventTime has milliseconds: the pod surely existed only
 * if the event came after the end of its creation second. Within the same second we cannot
 * tell, and refuse: no clock-skew slack either, since a wrong refusal is safe, a wrong delete is not.
 */
function createdAfterEvent(pod: PodView, eventTime: string): string | undefined {
  const created = pod.creationTimestamp === undefined ? Number.NaN : Date.parse(pod.creationTimestamp);
  const event = Date.parse(eventTime);
  if (!Number.isFinite(created) || !Number.isFinite(event)) return undefined;
  const createdSecond = Math.floor(created / 1000) * 1000;
  const who = `pod ${pod.namespace}/${pod.name} (uid ${pod.uid})`;
  if (createdSecond > event) return `${who} was created at ${pod.creationTimestamp ?? '?'}, after the finding's event at ${eventTime}: it is a replacement, not the pod the finding is about`;
  if (createdSecond + 1000 > event) {
    return `${who} was created at ${pod.creationTimestamp ?? '?'}, in the same second as the finding's event at ${eventTime} (creation times have whole-second precision): cannot tell whether it existed when the binary ran, so it may be a replacement`;
  }
  return undefined;
}

/** "the pod was not read", with the read's own error when there was one (a timeout, a 5xx). */
function podNotRead(ctx: GuardContext): string {
  return `the pod was not read${ctx.podReadError === undefined ? '' : ` (${ctx.podReadError})`}`;
}

/**
 * The pod we would act on is the one the finding is about: it was read, it has the
 * finding's name and namespace, the finding's container exists in it, and it existed when
 * the binary ran. The finding carries no pod UID; deletePod's UID precondition covers the
 * time between this read and the delete.
 */
export function podIdentityGuard(ctx: GuardContext): GuardVerdict {
  const name = 'pod-identity';
  const { pod, incident } = ctx;
  if (pod === undefined && ctx.podNotFound === true) return fail(name, 'the pod no longer exists (404): nothing left to act on', 'skip');
  if (pod === undefined) return fail(name, `${podNotRead(ctx)}: no UID to act on safely`);
  if (incident.pod !== undefined && (pod.name !== incident.pod || pod.namespace !== incident.namespace)) {
    return fail(name, `read pod ${pod.namespace}/${pod.name} is not the finding's ${incident.namespace ?? '?'}/${incident.pod}`);
  }
  if (incident.container !== undefined && !pod.containers.some((c) => c.name === incident.container)) {
    return fail(name, `container ${incident.container} is not in pod ${pod.namespace}/${pod.name} (uid ${pod.uid}): a different pod has this name`);
  }
  const young = createdAfterEvent(pod, incident.eventTime);
  if (young !== undefined) return fail(name, young);
  return pass(name, `pod ${pod.namespace}/${pod.name} uid ${pod.uid}${incident.container === undefined ? '' : ` has container ${incident.container}`}`);
}

/** A pod already being deleted needs no delete or quarantine: reported as skipped, not refused. */
export function podNotTerminatingGuard(ctx: GuardContext): GuardVerdict {
  const name = 'pod-not-terminating';
  const ts = ctx.pod?.deletionTimestamp;
  if (ts !== undefined) return fail(name, `pod is already terminating (deletionTimestamp ${ts})`, 'skip');
  return pass(name, 'pod is not terminating');
}

/** The controlling owner reference, if any (`controller: true`). */
export function controllerOf(ctx: GuardContext): OwnerRef | undefined {
  return ctx.pod?.ownerReferences.find((r) => r.controller === true);
}

/**
 * Controllers that replace a deleted pod, by API group and kind: a pod "controlled by"
 * anything else (a ConfigMap, a custom resource, a kind that merely borrows the name in
 * another group) is treated as bare. Deployments and CronJobs never control pods directly:
 * they own the ReplicaSet or Job that does, and appear at the top of the owner chain.
 */
export const REPLACING_CONTROLLERS: readonly { group: string; kind: string; replaces: string }[] = [
  { group: 'apps', kind: 'ReplicaSet', replaces: 'a new pod, to keep the replica count (a Deployment owns its ReplicaSets)' },
  { group: 'apps', kind: 'StatefulSet', replaces: 'a pod with the same name and volumes' },
  { group: 'apps', kind: 'DaemonSet', replaces: 'a pod on the same node' },
  { group: 'batch', kind: 'Job', replaces: 'a new pod while the Job is incomplete and below its backoffLimit (a CronJob owns its Jobs)' },
  { group: '', kind: 'ReplicationController', replaces: 'a new pod, to keep the replica count' },
];

/** The API group of an ownerReference's apiVersion (`apps/v1` -> `apps`, `v1` -> core ''). */
function groupOf(apiVersion: string | undefined): string | undefined {
  if (apiVersion === undefined) return undefined;
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? '' : apiVersion.slice(0, slash);
}

/** The table row for a controller reference, or why it does not replace pods. */
export function replacingController(ref: OwnerRef): { ok: true; replaces: string } | { ok: false; reason: string } {
  const group = groupOf(ref.apiVersion);
  const row = REPLACING_CONTROLLERS.find((r) => r.kind === ref.kind && r.group === group);
  if (row !== undefined) return { ok: true, replaces: row.replaces };
  const known = REPLACING_CONTROLLERS.some((r) => r.kind === ref.kind);
  const what = `${ref.apiVersion ?? '(no apiVersion)'} ${ref.kind}/${ref.name}`;
  return { ok: false, reason: known ? `controller ${what} is not the built-in ${ref.kind} (API group differs)` : `controller ${what} is not a kind that replaces pods` };
}

/**
 * The owner chain as read (ctx.owners, controller first) agrees with the pod's controller
 * reference, and does not say the workload is scaled to zero. An empty chain (not read, or
 * the read failed) says nothing: the reference and the kinds table decide alone.
 */
function ownerChainProblem(ref: OwnerRef, owners: readonly OwnerView[]): string | undefined {
  const first = owners[0];
  if (first === undefined) return undefined;
  if (first.kind !== ref.kind || first.name !== ref.name || (ref.uid !== undefined && first.uid !== undefined && first.uid !== ref.uid)) {
    return `the owner chain read (${first.kind}/${first.name}) is not the pod's controller ${ref.kind}/${ref.name}: it may have been replaced`;
  }
  const scaledToZero = owners.find((o) => o.replicas === 0);
  if (scaledToZero !== undefined) return `${scaledToZero.kind}/${scaledToZero.name} is scaled to 0 replicas: nothing would replace the pod`;
  return undefined;
}

/** Why this controller will not replace the pod (kind, owner chain), or undefined when it will. */
function controllerProblem(ref: OwnerRef, owners: readonly OwnerView[]): string | undefined {
  const kind = replacingController(ref);
  return kind.ok ? ownerChainProblem(ref, owners) : kind.reason;
}

/**
 * A pod is deleted only when a controller will replace it (see REPLACING_CONTROLLERS), unless
 * the rule says requireController: false: deleting a pod nothing replaces is an outage, not a
 * restart.
 */
export function requireControllerGuard(ctx: GuardContext, requireController: boolean): GuardVerdict {
  const name = 'require-controller';
  if (ctx.pod === undefined && ctx.podNotFound === true) return fail(name, 'the pod no longer exists (404)', 'skip');
  if (ctx.pod === undefined) return fail(name, `${podNotRead(ctx)}: cannot tell whether a controller would replace it`);
  const ref = controllerOf(ctx);
  const problem = ref === undefined ? 'bare pod (no controller)' : controllerProblem(ref, ctx.owners);
  if (problem === undefined && ref !== undefined) {
    const chain = ctx.owners.map((o) => `${o.kind}/${o.name}`).join(' -> ');
    return pass(name, `controlled by ${ref.kind}/${ref.name}${ctx.owners.length > 1 ? ` (chain ${chain})` : ''}: it will be replaced`);
  }
  if (!requireController) return pass(name, `${problem ?? 'no replacing controller'}: deleted anyway because the rule says requireController: false`);
  return fail(name, `${problem ?? 'no replacing controller'}: nothing would replace it, so it is not deleted unless the rule says requireController: false`);
}

/** The pod's values the rule's pod matchers are judged on (the finding's container, else every container). */
function livePod(pod: PodView, container: string | undefined): LivePod {
  const judged = container === undefined ? pod.containers : pod.containers.filter((c) => c.name === container);
  return {
    namespace: pod.namespace,
    labels: pod.labels,
    containerImages: judged.map((c) => [c.image, c.imageID].filter((v): v is string => v !== undefined && v !== '')),
  };
}

/**
 * The rule's pod matchers and exclusions (namespace, labels, image) hold on the pod as read
 * just before acting, not only on the finding's copy: an exemption label added after the
 * detection, or an image outside the rule's scope, refuses the action.
 */
export function livePodScopeGuard(ctx: GuardContext): GuardVerdict {
  const name = 'live-pod-scope';
  const scope = ctx.plan.podScope;
  if (scope === undefined) return pass(name, `rule ${ctx.plan.rule} has no pod matchers or exclusions`);
  if (ctx.pod === undefined) {
    return ctx.podNotFound === true
      ? fail(name, 'the pod no longer exists (404): the rule\'s pod matchers cannot be judged on it', 'skip')
      : fail(name, `${podNotRead(ctx)}: the rule's pod matchers cannot be judged on the live pod`);
  }
  const why = livePodOutOfScope(scope, livePod(ctx.pod, ctx.incident.container));
  if (why !== undefined) return fail(name, `the live pod is outside rule ${ctx.plan.rule}: ${why}`);
  return pass(name, `the live pod ${ctx.pod.namespace}/${ctx.pod.name} is still in rule ${ctx.plan.rule}'s scope`);
}

/** The node to cordon is the one the finding names, and the pod we read runs on it. */
export function nodeIdentityGuard(ctx: GuardContext): GuardVerdict {
  const name = 'node-identity';
  const findingNode = ctx.incident.node;
  const podNode = ctx.pod?.nodeName;
  const nodeName = ctx.node?.name ?? podNode ?? findingNode;
  if (nodeName === undefined) return fail(name, 'no node is known for this finding');
  if (findingNode !== undefined && podNode !== undefined && findingNode !== podNode) {
    return fail(name, `the finding names node ${findingNode} but the pod now runs on ${podNode}`);
  }
  if (findingNode !== undefined && nodeName !== findingNode) {
    return fail(name, `the node read (${nodeName}) is not the finding's node ${findingNode}`);
  }
  return pass(name, `node ${nodeName}${findingNode === undefined ? ' (from the pod; the finding names none)' : ''}`);
}

/**
 * An approval names one pod (its UID, read when the actions were recorded as pending): the
 * live pod must be that pod, not a replacement with the same name. Absent outside approvals.
 * A pod that is gone is the pod-identity guard's skip, not a refusal here.
 */
export function approvedPodGuard(ctx: GuardContext): GuardVerdict | undefined {
  const expected = ctx.approvedPodUid;
  if (expected === undefined) return undefined;
  const name = 'approved-pod';
  if (ctx.pod === undefined) return ctx.podNotFound === true ? fail(name, 'the approved pod no longer exists (404)', 'skip') : fail(name, `${podNotRead(ctx)}: cannot tell whether it is the approved one`);
  if (ctx.pod.uid !== expected) return fail(name, `the live pod ${ctx.pod.namespace}/${ctx.pod.name} has uid ${ctx.pod.uid}, not the approved pod's ${expected}: it is a replacement, the approval does not cover it`);
  return pass(name, `the live pod is the approved pod (uid ${expected})`);
}

/** The guards every action shares, in report order. */
export function commonGuards(ctx: GuardContext, destructive: boolean): GuardVerdict[] {
  const approved = approvedPodGuard(ctx);
  return [protectedNamespaceGuard(ctx), livePodScopeGuard(ctx), evidenceGuard(ctx, destructive), ...(approved ? [approved] : [])];
}

/**
 * The effect of the first failing guard that skips, else refuses, else degrades. A skip
 * means there is nothing to do (the pod is gone, already terminating, the node already
 * cordoned): that is what happened, whatever else would have refused the action; reporting
 * it as a refusal would read as if a live pod had been spared. Both send no write.
 */
export function decisiveFailure(guards: GuardVerdict[]): GuardVerdict | undefined {
  const failing = guards.filter((g) => g.verdict === 'fail');
  return (
    failing.find((g) => g.effect === 'skip') ??
    failing.find((g) => (g.effect ?? 'refuse') === 'refuse') ??
    failing.find((g) => g.effect === 'degrade')
  );
}
