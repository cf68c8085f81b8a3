// quarantinePod: cut the pod off the network but keep it running for live forensics.
// The pod gets a label with a value unique to this finding and pod instance, and a deny-all
// (ingress and egress) NetworkPolicy selects exactly that label, so sibling pods that share
// the workload's labels are never isolated by mistake. A NetworkPolicy does nothing where the
// cluster does not enforce NetworkPolicy: the outcome says so plainly.
import { LABEL_FINDING, LABEL_MANAGED_BY, LABEL_QUARANTINE, MANAGED_BY, quarantinePolicyName, quarantineValue, toLabelValue } from '../labels.js';
import { podIdentityGuard, podNotTerminatingGuard } from '../guards.js';
import { defineAction, podGoneResult, type ActionContext } from '../types.js';
import type { KubeWrite } from '../writes.js';

function enforcementNote(ctx: ActionContext): string | undefined {
  if (ctx.clusterEnforcesNetworkPolicy === true) return undefined;
  if (ctx.clusterEnforcesNetworkPolicy === false) {
    return 'the cluster does NOT enforce NetworkPolicy (no Dataplane V2 or Calico): the pod is labelled but NOT isolated';
  }
  return 'unknown whether the cluster enforces NetworkPolicy: isolation is not confirmed';
}

function writes(ctx: ActionContext): KubeWrite[] {
  const pod = ctx.pod;
  if (pod === undefined) return [];
  const value = quarantineValue(ctx.incident.findingName, pod.uid);
  const policy = {
    name: quarantinePolicyName(value),
    namespace: pod.namespace,
    podSelector: { [LABEL_QUARANTINE]: value },
    labels: { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_QUARANTINE]: value, [LABEL_FINDING]: toLabelValue(ctx.incident.findingId) },
  };
  // Policy first, then the label: the pod becomes isolated at the moment it is labelled, and a
  // failure between the two leaves a policy that selects nothing rather than a label that lies.
  return [
    { call: 'createNetworkPolicy', policy },
    { call: 'patchPodMetadata', namespace: pod.namespace, name: pod.name, uid: pod.uid, labels: { [LABEL_QUARANTINE]: value } },
  ];
}

export const quarantinePod = defineAction({
  type: 'quarantinePod',
  guardNames: ['pod-identity', 'pod-not-terminating'],
  guards: (ctx) => [podIdentityGuard(ctx), podNotTerminatingGuard(ctx)],
  writes,
  warnings(ctx) {
    const note = enforcementNote(ctx);
    return [
      ...(ctx.plan.actions.some((a) => a.type === 'deletePod') ? ['the rule also deletes the pod: the quarantine lasts only until the delete'] : []),
      ...(note === undefined ? [] : [note]),
    ];
  },
  report(ctx, _params, sent) {
    const gone = podGoneResult(ctx, sent.results);
    if (gone !== undefined) return gone;
    const [policyWrite, labelWrite] = writes(ctx);
    if (policyWrite?.call !== 'createNetworkPolicy' || labelWrite?.call !== 'patchPodMetadata') throw new Error('quarantinePod: reported without its writes');
    const { namespace, name } = policyWrite.policy;
    const label = `${LABEL_QUARANTINE}=${labelWrite.labels?.[LABEL_QUARANTINE] ?? '?'}`;
    const created = sent.results[0] ?? 'exists';
    const note = enforcementNote(ctx);
    return {
      status: 'done',
      detail: `pod ${labelWrite.namespace}/${labelWrite.name} labelled ${label}; deny-all NetworkPolicy ${name} ${created === 'created' ? 'created' : 'already existed'}${note === undefined ? '' : `; ${note}`}`,
      data: { label, networkPolicy: `${namespace}/${name}`, networkPolicyResult: created, networkPolicyEnforced: ctx.clusterEnforcesNetworkPolicy ?? 'unknown' },
    };
  },
});
