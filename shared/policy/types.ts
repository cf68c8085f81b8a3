// What the policy decides for one incident. decide() is pure; the pipeline executes the plan.

/**
 * dry-run: nothing written; enforce: every action at once; approve: non-destructive actions
 * (and those the rule lists in approval.beforeApproval) at once, the rest recorded as pending
 * until a person approves through the finding's security marks (shared/respond/approval.ts).
 */
export type Mode = 'dry-run' | 'enforce' | 'approve';

/** How an action actually runs: approve mode runs its immediate actions as enforce. */
export type ExecutionMode = Exclude<Mode, 'approve'>;

/** The rule's approval settings (approve mode), defaults filled in. */
export interface ApprovalSettings {
  /** A pending decision is refused (closed as expired) this many hours after it was recorded. */
  expiresAfterHours: number;
  /** Destructive actions that run at once anyway (never deletePod). */
  beforeApproval: ActionType[];
}

import type { ActionType } from './actions.js';
import type { PodScope } from './pod-scope.js';

export type { ActionType };

export type EvidenceGate = 'attempted' | 'stored';

/** The policy's requireEvidence value in plan terms. */
export function evidenceGateOf(v: boolean | EvidenceGate): { requireEvidence: boolean; evidenceGate: EvidenceGate } {
  if (v === false) return { requireEvidence: false, evidenceGate: 'attempted' };
  return { requireEvidence: true, evidenceGate: v === true ? 'attempted' : v };
}


export interface PlannedAction {
  type: ActionType;
  /** Action parameters after schema defaults, e.g. { gracePeriodSeconds: 0, requireController: true }. */
  params: Record<string, unknown>;
}

export interface ResponsePlan {
  matched: true;
  /** Rule name (or `rules[i]` when unnamed). */
  rule: string;
  mode: Mode;
  enrich: boolean;
  snapshot: boolean;
  /** Destructive actions wait for the evidence (false: they do not). */
  requireEvidence: boolean;
  /**
   * What they wait for: `attempted` = the collection attempt finished (target-caused failures
   * do not hold them), `stored` = a copy that counts is stored.
   */
  evidenceGate: EvidenceGate;
  actions: PlannedAction[];
  /** approve mode only: which actions wait for a person and for how long. */
  approval?: ApprovalSettings;
  /** Notification targets (channel + secret name) the rule lists; sent in the record stage. */
  notify?: { channel: 'slack' | 'googleChat' | 'pagerduty'; secret: string }[];
  maxActionsPerHour?: number;
  /** Optional narrower budgets: per namespace of a cluster and per workload of a cluster (top controller, or the bare pod; budget-scope.ts). */
  maxActionsPerHourPerNamespace?: number;
  maxActionsPerHourPerWorkload?: number;
  /** The rule's pod matchers (namespace, labels, image), judged again on the live pod before acting. */
  podScope?: PodScope;
  /** Index of the rule in the policy's `rules`. */
  ruleIndex?: number;
  /**
   * Actions the rule lists but this plan does not carry, and why (protected namespace).
   * Reported so a dry-run says exactly what enforce would and would not do.
   */
  withheldActions?: (PlannedAction & { reason: string })[];
  /** Where and why the plan differs from the rule as written (snapshot off for an unusable path, ...). */
  notes?: string[];
}

export interface NoMatch {
  matched: false;
  /** Why nothing applies: category not covered, excluded, protected namespace, not GKE, ... */
  reason: string;
  /** Stable classification of `reason`, for audit labels and metrics. */
  code?: NoMatchCode;
}

export type NoMatchCode =
  | 'category-not-covered'
  | 'not-active'
  | 'not-gke'
  | 'no-pod'
  | 'invalid-pod'
  | 'no-rule-matched';

export type Decision = ResponsePlan | NoMatch;
