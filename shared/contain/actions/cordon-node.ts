// cordonNode: mark the node unschedulable, for rules that suspect the node itself (the
// binary was modified in the container, but the node may be compromised too). Running pods
// stay; nothing new lands there, including the replacement of a pod we delete.
import { fail, nodeIdentityGuard, pass } from '../guards.js';
import { defineAction, type GuardContext, type GuardVerdict } from '../types.js';

function nodeName(ctx: GuardContext): string | undefined {
  return ctx.node?.name ?? ctx.pod?.nodeName ?? ctx.incident.node;
}

function notCordonedGuard(ctx: GuardContext): GuardVerdict {
  if (ctx.node?.unschedulable === true) return fail('node-not-cordoned', `node ${ctx.node.name} is already cordoned`, 'skip');
  return pass('node-not-cordoned', ctx.node === undefined ? 'node not read: cordon is idempotent anyway' : `node ${ctx.node.name} is schedulable`);
}

export const cordonNode = defineAction({
  type: 'cordonNode',
  guardNames: ['node-identity', 'node-not-cordoned'],
  guards: (ctx) => [nodeIdentityGuard(ctx), notCordonedGuard(ctx)],
  writes(ctx) {
    const name = nodeName(ctx);
    return name === undefined ? [] : [{ call: 'cordonNode', name }];
  },
  report(ctx) {
    const name = nodeName(ctx) ?? '?';
    return { status: 'done', detail: `node ${name} cordoned (unschedulable); running pods stay, new pods go elsewhere`, data: { node: name } };
  },
});
