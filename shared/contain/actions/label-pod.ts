// labelPod: record the finding id on the pod (`scc-responder/finding=<id>`), so
// `kubectl get pods -l scc-responder/finding` lists every pod a finding was raised on.
// Metadata only (catalog): not gated by evidence, not counted by the blast-radius limit.
import { LABEL_FINDING, toLabelValue } from '../labels.js';
import { fail, pass, podIdentityGuard } from '../guards.js';
import { defineAction, podGoneResult, type GuardContext, type GuardVerdict } from '../types.js';
import { podTarget } from '../targets.js';

function value(ctx: GuardContext): string {
  return toLabelValue(ctx.incident.findingId);
}

function notLabelledGuard(ctx: GuardContext): GuardVerdict {
  const v = value(ctx);
  if (ctx.pod?.labels[LABEL_FINDING] === v) return fail('not-yet-labelled', `pod already has ${LABEL_FINDING}=${v}`, 'skip');
  return pass('not-yet-labelled', `pod lacks ${LABEL_FINDING}=${v}`);
}

export const labelPod = defineAction({
  type: 'labelPod',
  guardNames: ['pod-identity', 'not-yet-labelled'],
  guards: (ctx) => [podIdentityGuard(ctx), notLabelledGuard(ctx)],
  writes: (ctx) => (ctx.pod === undefined ? [] : [{ call: 'patchPodMetadata', namespace: ctx.pod.namespace, name: ctx.pod.name, uid: ctx.pod.uid, labels: { [LABEL_FINDING]: value(ctx) } }]),
  report(ctx, _params, sent) {
    const label = `${LABEL_FINDING}=${value(ctx)}`;
    return podGoneResult(ctx, sent.results) ?? { status: 'done', detail: `pod ${podTarget(ctx)} labelled ${label}`, data: { label } };
  },
});
