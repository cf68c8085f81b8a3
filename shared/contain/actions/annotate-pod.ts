// annotatePod: record the full finding name on the pod (annotations have no label syntax
// limits), so whoever looks at the pod can find the finding in Security Command Center.
// Metadata only: not gated by evidence, not counted by the blast-radius limit.
import { ANNOTATION_FINDING } from '../labels.js';
import { fail, pass, podIdentityGuard } from '../guards.js';
import { defineAction, ParamError, type ActionContext, type GuardVerdict, type PlannedWrite } from '../types.js';

export type AnnotatePodParams = Record<string, never>;

function parseParams(raw: Record<string, unknown>): AnnotatePodParams | ParamError {
  const unknown = Object.keys(raw);
  return unknown.length === 0 ? {} : new ParamError(`annotatePod takes no parameters, got ${unknown.join(', ')}`);
}

function target(ctx: ActionContext): string {
  return `${ctx.pod?.namespace ?? ctx.incident.namespace ?? '?'}/${ctx.pod?.name ?? ctx.incident.pod ?? '?'}`;
}

function notAnnotatedGuard(ctx: ActionContext): GuardVerdict {
  if (ctx.pod?.annotations[ANNOTATION_FINDING] === ctx.incident.findingName) {
    return fail('not-yet-annotated', `pod already carries annotation ${ANNOTATION_FINDING} with this finding`, 'skip');
  }
  return pass('not-yet-annotated', `pod lacks annotation ${ANNOTATION_FINDING} for this finding`);
}

function writes(ctx: ActionContext): PlannedWrite[] {
  return [{ call: 'patchPodMetadata', target: target(ctx), body: { annotations: { [ANNOTATION_FINDING]: ctx.incident.findingName } }, attempted: false }];
}

export const annotatePod = defineAction<AnnotatePodParams>({
  type: 'annotatePod',
  destructive: false,
  order: 11,
  guardNames: ['pod-identity', 'not-yet-annotated'],
  parseParams,
  guards(ctx) {
    return [podIdentityGuard(ctx), notAnnotatedGuard(ctx)];
  },
  plannedWrites: writes,
  async act(ctx, _params, signal, log) {
    const sent = writes(ctx).map((w) => log.send(w));
    await ctx.workloads.patchPodMetadata(ctx.pod?.namespace ?? '', ctx.pod?.name ?? '', { annotations: { [ANNOTATION_FINDING]: ctx.incident.findingName } }, signal);
    sent.forEach((w) => w.answer('patched'));
    return {
      status: 'done',
      detail: `pod ${target(ctx)} annotated ${ANNOTATION_FINDING}=${ctx.incident.findingName}`,
    };
  },
});
