// deletePod: delete the compromised pod so its controller replaces it with a clean one
// (playbook step 7). The delete carries the pod's UID as a precondition, so a same-named
// replacement (StatefulSet) is never deleted by a stale or redelivered finding; 404 means
// someone (or our earlier delivery) already did it.
import { classifyError } from '../../common/errors.js';
import { controllerOf, podIdentityGuard, podNotTerminatingGuard, requireControllerGuard } from '../guards.js';
import { observeReplacement, podsBefore } from '../replacement.js';
import { defineAction, ParamError, type ActionContext, type PlannedWrite } from '../types.js';

export interface DeletePodParams {
  /** Omitted: the pod's own terminationGracePeriodSeconds. 0 kills at once (the attacker gets no time). */
  gracePeriodSeconds?: number;
  /** Default true: a pod without a controller is not deleted (nothing would replace it). */
  requireController: boolean;
}

const DEFAULT_OBSERVE_MS = 3000;

function parseParams(raw: Record<string, unknown>): DeletePodParams | ParamError {
  const grace = raw['gracePeriodSeconds'];
  const requireController = raw['requireController'] ?? true;
  if (grace !== undefined && (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0)) {
    return new ParamError(`gracePeriodSeconds must be a whole number >= 0, got ${JSON.stringify(grace)}`);
  }
  if (typeof requireController !== 'boolean') return new ParamError(`requireController must be true or false, got ${JSON.stringify(requireController)}`);
  return grace === undefined ? { requireController } : { gracePeriodSeconds: grace, requireController };
}

function target(ctx: ActionContext): string {
  return `${ctx.pod?.namespace ?? ctx.incident.namespace ?? '?'}/${ctx.pod?.name ?? ctx.incident.pod ?? '?'}`;
}

function writes(ctx: ActionContext, params: DeletePodParams): PlannedWrite[] {
  const body: Record<string, unknown> = { preconditions: { uid: ctx.pod?.uid ?? '(unknown: pod not read)' } };
  if (params.gracePeriodSeconds !== undefined) body['gracePeriodSeconds'] = params.gracePeriodSeconds;
  return [{ call: 'deletePod', target: target(ctx), body, attempted: false }];
}

export const deletePod = defineAction<DeletePodParams>({
  type: 'deletePod',
  destructive: true,
  order: 40,
  guardNames: ['pod-identity', 'pod-not-terminating', 'require-controller'],
  parseParams,
  guards(ctx, params) {
    return [podIdentityGuard(ctx), podNotTerminatingGuard(ctx), requireControllerGuard(ctx, params.requireController)];
  },
  plannedWrites: writes,
  warnings(ctx) {
    return ctx.pod !== undefined && controllerOf(ctx) === undefined ? [`bare pod ${target(ctx)}: nothing replaces it once deleted (requireController: false)`] : [];
  },
  async act(ctx, params, signal, log) {
    const pod = ctx.pod;
    if (pod === undefined) throw new Error('deletePod: guards passed without a pod'); // unreachable: pod-identity refuses
    const controller = controllerOf(ctx);
    const before = controller === undefined ? undefined : await podsBefore(ctx.workloads, pod, { ...controller }, signal);
    const deletedAt = Date.now();
    const sent = writes(ctx, params).map((w) => log.send(w));
    const result = await ctx.workloads.deletePod(
      pod.namespace,
      pod.name,
      params.gracePeriodSeconds === undefined ? { uid: pod.uid } : { uid: pod.uid, gracePeriodSeconds: params.gracePeriodSeconds },
      signal,
    );
    sent.forEach((w) => w.answer(result));
    if (result === 'not-found') {
      return { status: 'done', detail: `pod ${target(ctx)} was already gone (404): nothing left to delete`, data: { result } };
    }
    const grace = params.gracePeriodSeconds === undefined ? 'its own grace period' : `grace period ${params.gracePeriodSeconds} s`;
    if (controller === undefined) {
      return { status: 'done', detail: `deleted bare pod ${target(ctx)} (uid ${pod.uid}, ${grace}); no controller will replace it`, data: { result, uid: pod.uid } };
    }
    const budgetMs = ctx.observeReplacementMs ?? DEFAULT_OBSERVE_MS;
    const replacement =
      budgetMs > 0
        ? await observeReplacement(ctx.workloads, pod, { ...controller }, before, deletedAt, { budgetMs, signal })
        : { observed: false, lookedMs: 0, reason: 'not looked for (observeReplacementMs: 0)' };
    const top = ctx.owners.at(-1);
    return {
      status: 'done',
      detail: `deleted pod ${target(ctx)} (uid ${pod.uid}, ${grace}); ${replacement.reason}`,
      data: {
        result,
        uid: pod.uid,
        controller: `${controller.kind}/${controller.name}`,
        ...(top === undefined ? {} : { topController: `${top.kind}/${top.name}` }),
        replacement,
      },
    };
  },
  refusalFor(err) {
    // 409 Conflict on a delete with preconditions: the name now belongs to another pod
    // (a StatefulSet replacement). Refusing is the precondition doing its job, not a failure.
    return classifyError(err).code === 409 ? 'a different pod now has this name (UID precondition): not deleted' : undefined;
  },
});
