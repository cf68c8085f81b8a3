// approve mode, the pure part: which of a plan's actions run at once and which wait for a
// person. Metadata-only actions (label, annotate) never wait; a destructive action waits
// unless the rule lists it in approval.beforeApproval (never deletePod: the schema refuses).
// The pending record, the approval mark and the re-check on the live pod are in
// shared/respond/approval.ts.
import { ACTION_CATALOG, isActionType } from './actions.js';
import type { ApprovalSettings, PlannedAction, ResponsePlan } from './types.js';

export const DEFAULT_APPROVAL: ApprovalSettings = { expiresAfterHours: 4, beforeApproval: [] };

/** Whether an action of an approve-mode rule waits for approval. Unknown names never wait (the executor refuses them). */
export function waitsForApproval(type: string, settings: ApprovalSettings = DEFAULT_APPROVAL): boolean {
  if (!isActionType(type)) return false;
  return ACTION_CATALOG[type].destructive && !settings.beforeApproval.includes(type);
}

/** The plan's actions split: those that run now and those recorded as pending (empty unless mode approve). */
export function approvalSplit(plan: Pick<ResponsePlan, 'mode' | 'actions' | 'approval'>): { now: PlannedAction[]; pending: PlannedAction[] } {
  if (plan.mode !== 'approve') return { now: plan.actions, pending: [] };
  const settings = plan.approval ?? DEFAULT_APPROVAL;
  return {
    now: plan.actions.filter((a) => !waitsForApproval(a.type, settings)),
    pending: plan.actions.filter((a) => waitsForApproval(a.type, settings)),
  };
}

/**
 * The plan the executor runs now: approve mode becomes enforce over the immediate actions
 * only (the pending ones are recorded, not run). Other modes are returned as they are.
 */
export function immediatePlan(plan: ResponsePlan): ResponsePlan & { mode: 'dry-run' | 'enforce' } {
  if (plan.mode !== 'approve') return plan as ResponsePlan & { mode: 'dry-run' | 'enforce' };
  return { ...plan, mode: 'enforce', actions: approvalSplit(plan).now };
}

/** The plan that executes an approved pending record: enforce, exactly the recorded actions. */
export function approvedPlan(plan: ResponsePlan, pending: readonly PlannedAction[]): ResponsePlan & { mode: 'enforce' } {
  return { ...plan, mode: 'enforce', actions: pending.map((a) => ({ type: a.type, params: { ...a.params } })) };
}

/** What `policy check` shows per approve-mode rule: what runs at once, what waits, the expiry. */
export interface ApprovalFlow {
  rule: string;
  atOnce: string[];
  waits: string[];
  expiresAfterHours: number;
  text: string;
}

/** The approval flow of a plan-shaped rule (undefined unless mode approve). */
export function approvalFlow(rule: string, plan: Pick<ResponsePlan, 'mode' | 'actions' | 'approval'>): ApprovalFlow | undefined {
  if (plan.mode !== 'approve') return undefined;
  const { now, pending } = approvalSplit(plan);
  const hours = plan.approval?.expiresAfterHours ?? DEFAULT_APPROVAL.expiresAfterHours;
  const atOnce = now.map((a) => a.type);
  const waits = pending.map((a) => a.type);
  const text =
    `approval flow of rule ${rule}: at once ${atOnce.join(', ') || 'nothing but evidence and report'}; ` +
    `waits for approval ${waits.join(', ') || 'nothing'} (marks scc_responder_state=awaiting-approval; approve or deny with the gcloud command in the report, ` +
    `the results topic and the notification; expires ${hours} h after detection)`;
  return { rule, atOnce, waits, expiresAfterHours: hours, text };
}
