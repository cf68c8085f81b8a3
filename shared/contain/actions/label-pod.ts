// labelPod: record the finding id on the pod (`scc-responder/finding=<id>`), so
// `kubectl get pods -l scc-responder/finding` lists every pod a finding was raised on.
// Metadata only: not gated by evidence, not counted by the blast-radius limit.
import { LABEL_FINDING, toLabelValue } from '../labels.js';
import { fail, pass, podIdentityGuard } from '../guards.js';
import { defineAction, ParamError, type ActionContext, type GuardVerdict, type PlannedWrite } from '../types.js';

export type LabelPodParams = Record<string, never>;

function parseParams(raw: Record<string, unknown>): LabelPodParams | ParamError {
  const unknown = Object.keys(raw);
  return unknown.length === 0 ? {} : new ParamError(`labelPod takes no parameters, got ${unknown.join(', ')}`);
}

function value(ctx: ActionContext): string {
  return toLabelValue(ctx.incident.findingId);
}

function target(ctx: ActionContext): string {
  return `${ctx.pod?.namespace ?? ctx.incident.namespace ?? '?'}/${ctx.pod?.name ?? ctx.incident.pod ?? '?'}`;
}

function notLabelledGuard(ctx: ActionContext): GuardVerdict {
  const v = value(ctx);
  if (ctx.pod?.labels[LABEL_FINDING] === v) return fail('not-yet-labelled', `pod already has ${LABEL_FINDING}=${v}`, 'skip');
  return pass('not-yet-labelled', `pod lacks ${LABEL_FINDING}=${v}`);
}

function writes(ctx: ActionContext): PlannedWrite[] {
  return [{ call: 'patchPodMetadata', target: target(ctx), body: { labels: { [LABEL_FINDING]: value(ctx) } }, attempted: false }];
}

export const labelPod = defineAction<LabelPodParams>({
  type: 'labelPod',
  destructive: false,
  order: 10,
  guardNames: ['pod-identity', 'not-yet-labelled'],
  parseParams,
  guards(ctx) {
    return [podIdentityGuard(ctx), notLabelledGuard(ctx)];
  },
  plannedWrites: writes,
  async act(ctx, _params, signal, log) {
    const v = value(ctx);
    const [ns, name] = [ctx.pod?.namespace ?? '', ctx.pod?.name ?? ''];
    const sent = writes(ctx).map((w) => log.send(w));
    await ctx.workloads.patchPodMetadata(ns, name, { labels: { [LABEL_FINDING]: v } }, signal);
    sent.forEach((w) => w.answer('patched'));
    return {
      status: 'done',
      detail: `pod ${target(ctx)} labelled ${LABEL_FINDING}=${v}`,
      data: { label: `${LABEL_FINDING}=${v}` },
    };
  },
});
