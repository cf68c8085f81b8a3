// cordonNode: mark the node unschedulable, for rules that suspect the node itself (the
// binary was modified in the container, but the node may be compromised too). Running pods
// stay; nothing new lands there, including the replacement of a pod we delete.
import { fail, nodeIdentityGuard, pass } from '../guards.js';
import { defineAction, ParamError, type ActionContext, type GuardVerdict, type PlannedWrite } from '../types.js';

export type CordonNodeParams = Record<string, never>;

function parseParams(raw: Record<string, unknown>): CordonNodeParams | ParamError {
  const unknown = Object.keys(raw);
  return unknown.length === 0 ? {} : new ParamError(`cordonNode takes no parameters, got ${unknown.join(', ')}`);
}

function nodeName(ctx: ActionContext): string | undefined {
  return ctx.node?.name ?? ctx.pod?.nodeName ?? ctx.incident.node;
}

function notCordonedGuard(ctx: ActionContext): GuardVerdict {
  if (ctx.node?.unschedulable === true) return fail('node-not-cordoned', `node ${ctx.node.name} is already cordoned`, 'skip');
  return pass('node-not-cordoned', ctx.node === undefined ? 'node not read: cordon is idempotent anyway' : `node ${ctx.node.name} is schedulable`);
}

function writes(ctx: ActionContext): PlannedWrite[] {
  return [{ call: 'cordonNode', target: `node/${nodeName(ctx) ?? '?'}`, body: { spec: { unschedulable: true } }, attempted: false }];
}

export const cordonNode = defineAction<CordonNodeParams>({
  type: 'cordonNode',
  destructive: true,
  order: 30,
  guardNames: ['node-identity', 'node-not-cordoned'],
  parseParams,
  guards(ctx) {
    return [nodeIdentityGuard(ctx), notCordonedGuard(ctx)];
  },
  plannedWrites: writes,
  async act(ctx, _params, signal, log) {
    const name = nodeName(ctx);
    if (name === undefined) throw new Error('cordonNode: guards passed without a node'); // unreachable: node-identity refuses
    const sent = writes(ctx).map((w) => log.send(w));
    await ctx.workloads.cordonNode(name, signal);
    sent.forEach((w) => w.answer('patched'));
    return {
      status: 'done',
      detail: `node ${name} cordoned (unschedulable); running pods stay, new pods go elsewhere`,
      data: { node: name },
    };
  },
});
