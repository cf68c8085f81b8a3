// How an action's target is named in reports: the pod as read, else the finding's names.
import type { ActionContext } from './types.js';

export function podTarget(ctx: ActionContext): string {
  return `${ctx.pod?.namespace ?? ctx.incident.namespace ?? '?'}/${ctx.pod?.name ?? ctx.incident.pod ?? '?'}`;
}
