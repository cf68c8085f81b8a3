// deletePod: delete the compromised pod so its controller replaces it with a clean one
// (playbook step 7). The delete carries the pod's UID as a precondition, so a same-named
// replacement (StatefulSet) is never deleted by a stale or redelivered finding; 404 means
// someone (or our earlier delivery) already did it. Only pods whose controller replaces
// them are deleted unless the rule says requireController: false (guards.ts, the kinds table).
import { controllerOf, podIdentityGuard, podNotTerminatingGuard, requireControllerGuard } from '../guards.js';
import { observeReplacement, podsBefore } from '../replacement.js';
import { podTarget } from '../targets.js';
import { defineAction, type ActionContext, type ActResult } from '../types.js';
import type { ActionParams } from '../../policy/actions.js';

const DEFAULT_OBSERVE_MS = 3000;

type Params = ActionParams<'deletePod'>;

async function reportDelete(ctx: ActionContext, params: Params, result: string | undefined, before: Set<string> | undefined, deletedAt: number, signal: AbortSignal): Promise<ActResult> {
  const pod = ctx.pod;
  if (pod === undefined) throw new Error('deletePod: reported without a pod'); // unreachable: pod-identity refuses
  if (result === 'not-found') {
    return { status: 'done', detail: `pod ${podTarget(ctx)} was already gone (404): nothing left to delete`, data: { result } };
  }
  const grace = params.gracePeriodSeconds === undefined ? 'its own grace period' : `grace period ${params.gracePeriodSeconds} s`;
  const controller = controllerOf(ctx);
  if (controller === undefined) {
    return { status: 'done', detail: `deleted bare pod ${podTarget(ctx)} (uid ${pod.uid}, ${grace}); no controller will replace it`, data: { result, uid: pod.uid } };
  }
  const budgetMs = ctx.observeReplacementMs ?? DEFAULT_OBSERVE_MS;
  const replacement =
    budgetMs > 0
      ? await observeReplacement(ctx.workloads, pod, { ...controller }, before, deletedAt, { budgetMs, signal })
      : { observed: false, lookedMs: 0, reason: 'not looked for (observeReplacementMs: 0)' };
  const top = ctx.owners.at(-1);
  return {
    status: 'done',
    detail: `deleted pod ${podTarget(ctx)} (uid ${pod.uid}, ${grace}); ${replacement.reason}`,
    data: {
      result,
      uid: pod.uid,
      controller: `${controller.kind}/${controller.name}`,
      ...(top === undefined ? {} : { topController: `${top.kind}/${top.name}` }),
      replacement,
    },
  };
}

export const deletePod = defineAction<'deletePod', { pods?: Set<string>; at: number }>({
  type: 'deletePod',
  guardNames: ['pod-identity', 'pod-not-terminating', 'require-controller'],
  guards: (ctx, params) => [podIdentityGuard(ctx), podNotTerminatingGuard(ctx), requireControllerGuard(ctx, params.requireController)],
  writes: (ctx, params) =>
    ctx.pod === undefined
      ? []
      : [{ call: 'deletePod', namespace: ctx.pod.namespace, name: ctx.pod.name, uid: ctx.pod.uid, ...(params.gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds: params.gracePeriodSeconds }) }],
  warnings: (ctx) => (ctx.pod !== undefined && controllerOf(ctx) === undefined ? [`bare pod ${podTarget(ctx)}: nothing replaces it once deleted (requireController: false)`] : []),
  // The controller's pods, to tell its replacement from existing siblings after the delete.
  // Started early by the pipeline (while the snapshot streams); `before` repeats the same
  // list through the response's shared reads, which answer it from the prefetch.
  async prefetch({ pod, workloads, signal }) {
    const controller = pod.ownerReferences.find((r) => r.controller === true);
    return controller === undefined ? undefined : podsBefore(workloads, pod, controller, signal);
  },
  async before(ctx, _params, signal) {
    const controller = controllerOf(ctx);
    const pods = ctx.pod === undefined || controller === undefined ? undefined : await podsBefore(ctx.workloads, ctx.pod, { ...controller }, signal);
    return { ...(pods === undefined ? {} : { pods }), at: Date.now() };
  },
  report: (ctx, params, sent, signal) => reportDelete(ctx, params, sent.results[0], sent.before?.pods, sent.before?.at ?? Date.now(), signal),
});
