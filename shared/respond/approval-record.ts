// approve mode, first delivery: the pending record. What a person is asked to approve is
// written once, create-only, beside the evidence (<folder>/pending-approval.json,
// shared/ledger/layout.ts): the planned actions with their parameters, the pod's UID, name
// and namespace as read, the evidence gate's status (the approval reuses it: nothing is
// collected again), created and expiry times and the commands. Objects never change: the
// record's status is derived from <folder>/approval/report.json (shared/respond/approval.ts).
import { ResponderError } from '../common/errors.js';
import { runStep, skipped, type StepResult } from '../common/step.js';
import type { EvidenceStatus } from '../contain/types.js';
import { approvalCommands } from '../finding/approval-commands.js';
import type { Incident } from '../finding/types.js';
import { putJson, readRecord } from '../ledger/json.js';
import { findingKeys, META } from '../ledger/layout.js';
import { approvalSplit } from '../policy/approval.js';
import type { PlannedAction, ResponsePlan } from '../policy/types.js';
import type { EvidenceStore } from '../ports.js';
import { signalOf, type RespondContext } from './context.js';
import type { ApprovalSection } from './report.js';
import type { TargetPod } from './stages/target-pod.js';

export interface PendingApproval {
  status: 'pending';
  findingName: string;
  runId: string;
  rule: string;
  actions: PlannedAction[];
  pod: { uid: string; namespace: string; name: string };
  evidence: EvidenceStatus;
  createdAt: string;
  expiresAt: string;
  commands: { approve: string; deny: string };
}

export function isPendingApproval(v: unknown): v is PendingApproval {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  const pod = r['pod'] as Record<string, unknown> | undefined;
  const evidence = r['evidence'] as Record<string, unknown> | undefined;
  return (
    r['status'] === 'pending' && typeof r['runId'] === 'string' && typeof r['findingName'] === 'string' && typeof r['rule'] === 'string' &&
    Array.isArray(r['actions']) && (r['actions'] as unknown[]).every((a) => typeof a === 'object' && a !== null && typeof (a as Record<string, unknown>)['type'] === 'string') &&
    typeof pod?.['uid'] === 'string' && typeof pod['namespace'] === 'string' && typeof pod['name'] === 'string' &&
    typeof evidence?.['stored'] === 'boolean' && typeof r['expiresAt'] === 'string' && !Number.isNaN(Date.parse(r['expiresAt']))
  );
}

/** The report's view of a pending record. */
export function approvalSection(p: PendingApproval, status: ApprovalSection['status'], extra: Partial<ApprovalSection> = {}): ApprovalSection {
  return { status, pendingRunId: p.runId, actions: p.actions, pod: p.pod, createdAt: p.createdAt, expiresAt: p.expiresAt, commands: p.commands, ...extra };
}

export function readPendingApproval(store: EvidenceStore, incident: Incident, signal?: AbortSignal): Promise<PendingApproval | null> {
  return readRecord(store, findingKeys(incident).pendingApproval, isPendingApproval, signal);
}

interface PendingInput {
  incident: Incident;
  plan: ResponsePlan;
  target: TargetPod;
  evidence: EvidenceStatus;
  now: Date;
}

/**
 * Records the plan's pending actions (approve mode), after admit(): one step,
 * `approval.pending`. Nothing pending (other modes, dry-run forced, nothing waits): no step.
 * The pod gone: nothing to approve (skipped). No pod UID or no store: the pending actions
 * cannot be approved safely later (permanent failure, so the marks say failed).
 */
export async function recordPending(input: PendingInput, ctx: RespondContext): Promise<{ step?: StepResult; section?: ApprovalSection }> {
  const { incident, plan, target } = input;
  const { pending } = approvalSplit(plan);
  if (plan.mode !== 'approve' || ctx.forceDryRun || pending.length === 0) return {};
  const name = 'approval.pending';
  if (target.notFound) return { step: skipped(name, 'the pod is gone: nothing left to approve') };
  const store = ctx.adapters.evidence;
  // The approval arrives as a security mark on the finding: without our awaiting-approval marks it never can.
  if (!ctx.adapters.marks) ctx.audit.warning('approve mode with SCC marks off (SCC_RESPONDER_MARKS): the pending actions are recorded, but no approval mark can reach them', { rule: plan.rule });
  const hours = plan.approval?.expiresAfterHours ?? 4;
  const record = (pod: NonNullable<TargetPod['pod']>): PendingApproval => ({
    status: 'pending', findingName: incident.findingName, runId: ctx.audit.runId, rule: plan.rule, actions: pending,
    pod: { uid: pod.uid, namespace: pod.namespace, name: pod.name }, evidence: input.evidence,
    createdAt: input.now.toISOString(), expiresAt: new Date(input.now.getTime() + hours * 3_600_000).toISOString(),
    commands: (({ approve, deny }) => ({ approve, deny }))(approvalCommands(incident.findingName, ctx.audit.runId)),
  });
  let section: ApprovalSection | undefined;
  const step = await runStep(name, async (signal) => {
    if (!store) throw new ResponderError('no evidence store configured (SCC_RESPONDER_EVIDENCE): the pending actions cannot be recorded', 'permanent', { code: 'NO_STORE' });
    // The read failed (not a 404): a redelivery reads it again; a person cannot approve without a UID.
    if (!target.pod) throw new ResponderError('the pod was not read: no UID to approve acting on', 'transient', { code: 'POD_NOT_READ' });
    await ctx.admit?.();
    const value = record(target.pod);
    const key = findingKeys(incident).pendingApproval;
    const put = await putJson(store, key, 'pending-approval', value, { [META.finding]: incident.findingName, [META.run]: value.runId }, { ...signalOf(ctx), ...(signal ? { signal } : {}) });
    // A retry of this run's finding finds the first attempt's record: that one stands.
    const stored = put.created ? value : ((await readPendingApproval(store, incident, signal)) ?? value);
    section = approvalSection(stored, 'pending', { record: put.object.uri });
    return { key, created: put.created, runId: stored.runId, expiresAt: stored.expiresAt, actions: stored.actions.map((a) => a.type) };
  }, { timeoutMs: ctx.settings.recordTimeoutMs, ...signalOf(ctx) });
  return section ? { step, section } : { step };
}
