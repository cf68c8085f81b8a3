// `policy check` support: for one finding file, the matched rule, its actions in execution
// order and each guard's verdict as far as it can be known without a cluster. Pure: the
// guards that need the live pod, node, snapshot or shared store say so instead of guessing.
import type { Incident } from '../finding/types.js';
import type { ActionType, Decision } from '../policy/types.js';
import { orderActions } from './executor.js';
import { protectedNamespaceVerdict } from './guards.js';
import { DEFAULT_PROTECTED_NAMESPACES } from './protected.js';
import { ACTIONS } from './registry.js';
import { ACTION_CATALOG } from '../policy/actions.js';
import { approvalFlow } from '../policy/approval.js';
import { ParamError, type RegisteredAction } from './types.js';

export type PreviewVerdict = 'pass' | 'fail' | 'unknown';

export interface GuardPreviewEntry {
  name: string;
  verdict: PreviewVerdict;
  /** For unknown: what the verdict depends on. */
  needs?: 'cluster' | 'snapshot' | 'shared store';
  reason: string;
  /** Judged on the live pod (`policy backtest --live`), read-only: the executor's own guard, not a preview. */
  live?: true;
  /** A failing guard's effect when not a refusal: `skip` (nothing to do: the pod is gone, already terminating). */
  effect?: 'skip' | 'degrade';
}

export interface GuardPreview {
  action: ActionType;
  params: Record<string, unknown>;
  guards: GuardPreviewEntry[];
}

export interface PreviewOptions {
  /** The policy's protectedNamespaces (DEFAULT_PROTECTED_NAMESPACES when absent). */
  protectedNamespaces?: readonly string[];
}

function registered(type: ActionType): RegisteredAction | undefined {
  return (ACTIONS as Partial<Record<string, RegisteredAction>>)[type];
}

/** Guard verdicts for each planned action, from the incident and the plan alone. */
export function previewGuards(incident: Incident, decision: Decision, options: PreviewOptions = {}): GuardPreview[] {
  if (!decision.matched) return [];
  return orderActions(decision.actions).map((planned) => {
    const action = registered(planned.type);
    if (action === undefined) {
      return { action: planned.type, params: planned.params, guards: [{ name: 'params', verdict: 'fail', reason: `unknown action type ${planned.type}` }] };
    }
    const prepared = action.prepare(planned.params);
    if (prepared instanceof ParamError) {
      return { action: planned.type, params: planned.params, guards: [{ name: 'params', verdict: 'fail', reason: prepared.reason }] };
    }
    const guards: GuardPreviewEntry[] = [
      { name: 'params', verdict: 'pass', reason: JSON.stringify(prepared.params) === '{}' ? 'no parameters' : `parameters ${JSON.stringify(prepared.params)}` },
    ];
    const ns = protectedNamespaceVerdict([incident.namespace], options.protectedNamespaces ?? DEFAULT_PROTECTED_NAMESPACES);
    guards.push({ name: ns.name, verdict: ns.verdict, reason: ns.reason });
    const destructive = ACTION_CATALOG[planned.type].destructive;
    guards.push({ name: 'live-pod-scope', verdict: decision.podScope === undefined ? 'pass' : 'unknown', ...(decision.podScope === undefined ? {} : { needs: 'cluster' as const }), reason: decision.podScope === undefined ? `rule ${decision.rule} has no pod matchers or exclusions` : "the rule's pod matchers are judged again on the live pod" });
    if (!destructive) guards.push({ name: 'evidence', verdict: 'pass', reason: 'metadata only: evidence not required' });
    else if (!decision.requireEvidence) guards.push({ name: 'evidence', verdict: 'pass', reason: 'the rule waives it (requireEvidence: false)' });
    else if (!decision.snapshot) {
      guards.push({ name: 'evidence', verdict: 'fail', reason: 'the rule requires evidence but takes no snapshot: this action can never run' });
    } else if (decision.evidenceGate === 'stored') guards.push({ name: 'evidence', verdict: 'unknown', needs: 'snapshot', reason: 'passes only once a copy that counts is stored (requireEvidence: stored)' });
    else guards.push({ name: 'evidence', verdict: 'unknown', needs: 'snapshot', reason: 'passes once evidence collection has finished; what the target withholds does not hold it, failures on our side do (requireEvidence: attempted)' });
    for (const name of action.guardNames) {
      guards.push({ name, verdict: 'unknown', needs: 'cluster', reason: 'needs the live pod/node' });
    }
    if (!destructive) guards.push({ name: 'blast-radius', verdict: 'pass', reason: 'metadata only: not counted' });
    else if (decision.maxActionsPerHour === undefined) guards.push({ name: 'blast-radius', verdict: 'pass', reason: `no maxActionsPerHour set for rule ${decision.rule}` });
    else {
      const scoped = [
        decision.maxActionsPerHourPerNamespace === undefined ? '' : `, ${decision.maxActionsPerHourPerNamespace} per namespace of a cluster`,
        decision.maxActionsPerHourPerWorkload === undefined ? '' : `, ${decision.maxActionsPerHourPerWorkload} per workload of a cluster`,
      ].join('');
      guards.push({ name: 'blast-radius', verdict: 'unknown', needs: 'shared store', reason: `maxActionsPerHour ${decision.maxActionsPerHour}${scoped}: counted in the evidence store at run time` });
    }
    return { action: planned.type, params: prepared.params, guards };
  });
}

export interface PlanExplanation {
  matched: boolean;
  rule?: string;
  mode?: string;
  reason?: string;
  actions: GuardPreview[];
  /** Human-readable rendering, one line per guard. */
  text: string;
}

function verdictText(g: GuardPreviewEntry): string {
  if (g.verdict === 'unknown') return `unknown (needs ${g.needs ?? 'cluster'})`;
  return `${g.verdict}${g.effect === 'skip' ? ' (skip)' : ''}${g.live ? ' (live)' : ''}`;
}

/** The explanation `policy check` prints for one finding file. */
export function explainPlan(decision: Decision, guardsPreview: GuardPreview[]): PlanExplanation {
  if (!decision.matched) {
    return { matched: false, reason: decision.reason, actions: [], text: `no rule matches: ${decision.reason}` };
  }
  const lines = [
    `rule: ${decision.rule}`,
    `mode: ${decision.mode}${decision.mode === 'dry-run' ? ' (nothing is written)' : decision.mode === 'approve' ? ' (destructive actions wait for a person)' : ''}`,
    `enrich: ${decision.enrich ? 'yes' : 'no'}, snapshot: ${decision.snapshot ? 'yes' : 'no'}, requireEvidence: ${decision.requireEvidence ? decision.evidenceGate : 'no'}` +
      (decision.maxActionsPerHour === undefined ? '' : `, maxActionsPerHour: ${decision.maxActionsPerHour}`),
  ];
  const flow = approvalFlow(decision.rule, decision);
  if (flow) lines.push(`approval: at once ${flow.atOnce.join(', ') || 'nothing'}; waits ${flow.waits.join(', ') || 'nothing'}; expires after ${flow.expiresAfterHours} h`);
  for (const note of decision.notes ?? []) lines.push(`note: ${note}`);
  for (const w of decision.withheldActions ?? []) lines.push(`withheld: ${w.type} (${w.reason})`);
  if (guardsPreview.length === 0) lines.push('actions: none (evidence and report only)');
  const width = Math.max(0, ...guardsPreview.flatMap((a) => a.guards.map((g) => g.name.length)));
  const vwidth = Math.max(0, ...guardsPreview.flatMap((a) => a.guards.map((g) => verdictText(g).length)));
  guardsPreview.forEach((a, i) => {
    lines.push(`action ${i + 1}: ${a.action}${Object.keys(a.params).length === 0 ? '' : ` ${JSON.stringify(a.params)}`}`);
    for (const g of a.guards) lines.push(`    ${g.name.padEnd(width)}  ${verdictText(g).padEnd(vwidth)}  ${g.reason}`);
  });
  return { matched: true, rule: decision.rule, mode: decision.mode, actions: guardsPreview, text: lines.join('\n') };
}
