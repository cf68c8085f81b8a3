// Guards shared by the containment actions. Each is a pure function of the ActionContext
// returning a verdict with its reason, so dry-run and enforce evaluate exactly the same
// checks and a reviewer sees why an action was or was not taken. Every guard is evaluated
// (no short-circuit), so the report always shows the full picture.
import type { PodView } from '../ports.js';
import type { ActionContext, GuardVerdict } from './types.js';
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
export function protectedNamespaceGuard(ctx: ActionContext): GuardVerdict {
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
 * Evidence first: an action that changes the workload waits until the evidence object is
 * durably stored, unless the rule waives it (`requireEvidence: false`).
 */
export function evidenceGuard(ctx: ActionContext, destructive: boolean): GuardVerdict {
  const name = 'evidence';
  if (!destructive) return pass(name, 'metadata only: evidence not required');
  if (ctx.evidence.stored) return pass(name, `evidence stored${ctx.evidence.uri === undefined ? '' : ` at ${ctx.evidence.uri}`}`);
  if (!ctx.plan.requireEvidence) {
    return pass(name, `evidence not stored (${ctx.evidence.reason ?? 'no reason given'}), and the rule waives it (requireEvidence: false)`);
  }
  return fail(name, `evidence not stored (${ctx.evidence.reason ?? 'no reason given'}) and the rule requires it first`);
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

/**
 * The pod we would act on is the one the finding is about: it was read, it has the
 * finding's name and namespace, the finding's container exists in it, and it existed when
 * the binary ran. The finding carries no pod UID; deletePod's UID precondition covers the
 * time between this read and the delete.
 */
export function podIdentityGuard(ctx: ActionContext): GuardVerdict {
  const name = 'pod-identity';
  const { pod, incident } = ctx;
  if (pod === undefined && ctx.podNotFound === true) return fail(name, 'the pod no longer exists (404): nothing left to act on', 'skip');
  if (pod === undefined) return fail(name, 'the pod was not read (enrichment failed): no UID to act on safely');
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
export function podNotTerminatingGuard(ctx: ActionContext): GuardVerdict {
  const name = 'pod-not-terminating';
  const ts = ctx.pod?.deletionTimestamp;
  if (ts !== undefined) return fail(name, `pod is already terminating (deletionTimestamp ${ts})`, 'skip');
  return pass(name, 'pod is not terminating');
}

/** The controlling owner reference, if any (`controller: true`). */
export function controllerOf(ctx: ActionContext): { kind: string; name: string; uid?: string } | undefined {
  return ctx.pod?.ownerReferences.find((r) => r.controller === true);
}

/**
 * A bare pod is not deleted unless the rule says so: nothing would replace it, so deleting
 * it is an outage, not a restart.
 */
export function requireControllerGuard(ctx: ActionContext, requireController: boolean): GuardVerdict {
  const name = 'require-controller';
  const ref = controllerOf(ctx);
  const top = ctx.owners.at(-1);
  const chain = ctx.owners.map((o) => `${o.kind}/${o.name}`).join(' -> ');
  if (ref !== undefined) {
    return pass(name, `controlled by ${ref.kind}/${ref.name}${chain !== '' && top !== undefined && top.name !== ref.name ? ` (chain ${chain})` : ''}: it will be replaced`);
  }
  if (ctx.pod === undefined && ctx.podNotFound === true) return fail(name, 'the pod no longer exists (404)', 'skip');
  if (ctx.pod === undefined) return fail(name, 'the pod was not read: cannot tell whether a controller would replace it');
  if (!requireController) return pass(name, 'bare pod (no controller): deleted anyway because the rule says requireController: false');
  return fail(name, 'bare pod (no controller would replace it): not deleted unless the rule says requireController: false');
}

/** The node to cordon is the one the finding names, and the pod we read runs on it. */
export function nodeIdentityGuard(ctx: ActionContext): GuardVerdict {
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

/** The guards every action shares, in report order. */
export function commonGuards(ctx: ActionContext, destructive: boolean): GuardVerdict[] {
  return [protectedNamespaceGuard(ctx), evidenceGuard(ctx, destructive)];
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
