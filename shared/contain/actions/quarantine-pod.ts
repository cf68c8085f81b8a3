// quarantinePod: cut the pod off the network but keep it running for live forensics.
// The pod gets a label with a value unique to this finding and pod instance, and a deny-all
// (ingress and egress) NetworkPolicy selects exactly that label, so sibling pods that share
// the workload's labels are never isolated by mistake. A NetworkPolicy does nothing where the
// cluster does not enforce NetworkPolicy: the outcome says so plainly.
import { LABEL_FINDING, LABEL_MANAGED_BY, LABEL_QUARANTINE, MANAGED_BY, quarantinePolicyName, quarantineValue, toLabelValue } from '../labels.js';
import { podIdentityGuard, podNotTerminatingGuard } from '../guards.js';
import { defineAction, ParamError, type ActionContext, type PlannedWrite } from '../types.js';

export type QuarantinePodParams = Record<string, never>;

function parseParams(raw: Record<string, unknown>): QuarantinePodParams | ParamError {
  const unknown = Object.keys(raw);
  return unknown.length === 0 ? {} : new ParamError(`quarantinePod takes no parameters, got ${unknown.join(', ')}`);
}

function names(ctx: ActionContext): { namespace: string; pod: string; value: string; policy: string } {
  const namespace = ctx.pod?.namespace ?? ctx.incident.namespace ?? '?';
  const pod = ctx.pod?.name ?? ctx.incident.pod ?? '?';
  const value = quarantineValue(ctx.incident.findingName, ctx.pod?.uid ?? '');
  return { namespace, pod, value, policy: quarantinePolicyName(value) };
}

function enforcementNote(ctx: ActionContext): string | undefined {
  if (ctx.clusterEnforcesNetworkPolicy === true) return undefined;
  if (ctx.clusterEnforcesNetworkPolicy === false) {
    return 'the cluster does NOT enforce NetworkPolicy (no Dataplane V2 or Calico): the pod is labelled but NOT isolated';
  }
  return 'unknown whether the cluster enforces NetworkPolicy: isolation is not confirmed';
}

function writes(ctx: ActionContext): PlannedWrite[] {
  const n = names(ctx);
  // Policy first, then the label: the pod becomes isolated at the moment it is labelled, and a
  // failure between the two leaves a policy that selects nothing rather than a label that lies.
  return [
    {
      call: 'createNetworkPolicy',
      target: `networkpolicy/${n.namespace}/${n.policy}`,
      body: { podSelector: { [LABEL_QUARANTINE]: n.value }, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] },
      attempted: false,
    },
    { call: 'patchPodMetadata', target: `${n.namespace}/${n.pod}`, body: { labels: { [LABEL_QUARANTINE]: n.value } }, attempted: false },
  ];
}

export const quarantinePod = defineAction<QuarantinePodParams>({
  type: 'quarantinePod',
  destructive: true,
  order: 20,
  guardNames: ['pod-identity', 'pod-not-terminating'],
  parseParams,
  guards(ctx) {
    return [podIdentityGuard(ctx), podNotTerminatingGuard(ctx)];
  },
  plannedWrites: writes,
  warnings(ctx) {
    const note = enforcementNote(ctx);
    return note === undefined ? [] : [note];
  },
  async act(ctx, _params, signal, log) {
    const n = names(ctx);
    const [policyWrite, labelWrite] = writes(ctx);
    if (policyWrite === undefined || labelWrite === undefined) throw new Error('quarantinePod: missing planned writes');
    const policySent = log.send(policyWrite);
    const created = await ctx.workloads.createNetworkPolicy(
      {
        name: n.policy,
        namespace: n.namespace,
        podSelector: { [LABEL_QUARANTINE]: n.value },
        labels: { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_QUARANTINE]: n.value, [LABEL_FINDING]: toLabelValue(ctx.incident.findingId) },
      },
      signal,
    );
    policySent.answer(created);
    const labelSent = log.send(labelWrite);
    await ctx.workloads.patchPodMetadata(n.namespace, n.pod, { labels: { [LABEL_QUARANTINE]: n.value } }, signal);
    labelSent.answer('patched');
    const note = enforcementNote(ctx);
    return {
      status: 'done',
      detail: `pod ${n.namespace}/${n.pod} labelled ${LABEL_QUARANTINE}=${n.value}; deny-all NetworkPolicy ${n.policy} ${created === 'created' ? 'created' : 'already existed'}${note === undefined ? '' : `; ${note}`}`,
      data: {
        label: `${LABEL_QUARANTINE}=${n.value}`,
        networkPolicy: `${n.namespace}/${n.policy}`,
        networkPolicyResult: created,
        networkPolicyEnforced: ctx.clusterEnforcesNetworkPolicy ?? 'unknown',
      },
    };
  },
});
