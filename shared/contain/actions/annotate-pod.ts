// annotatePod: record the full finding name on the pod (annotations have no label syntax
// limits), so whoever looks at the pod can find the finding in Security Command Center.
// Metadata only (catalog): not gated by evidence, not counted by the blast-radius limit.
import { ANNOTATION_FINDING } from '../labels.js';
import { fail, pass, podIdentityGuard } from '../guards.js';
import { defineAction, podGoneResult, type GuardContext, type GuardVerdict } from '../types.js';
import { podTarget } from '../targets.js';

function notAnnotatedGuard(ctx: GuardContext): GuardVerdict {
  if (ctx.pod?.annotations[ANNOTATION_FINDING] === ctx.incident.findingName) {
    return fail('not-yet-annotated', `pod already carries annotation ${ANNOTATION_FINDING} with this finding`, 'skip');
  }
  return pass('not-yet-annotated', `pod lacks annotation ${ANNOTATION_FINDING} for this finding`);
}

export const annotatePod = defineAction({
  type: 'annotatePod',
  guardNames: ['pod-identity', 'not-yet-annotated'],
  guards: (ctx) => [podIdentityGuard(ctx), notAnnotatedGuard(ctx)],
  writes: (ctx) =>
    ctx.pod === undefined ? [] : [{ call: 'patchPodMetadata', namespace: ctx.pod.namespace, name: ctx.pod.name, uid: ctx.pod.uid, annotations: { [ANNOTATION_FINDING]: ctx.incident.findingName } }],
  report: (ctx, _params, sent) =>
    podGoneResult(ctx, sent.results) ?? { status: 'done', detail: `pod ${podTarget(ctx)} annotated ${ANNOTATION_FINDING}=${ctx.incident.findingName}` },
});
