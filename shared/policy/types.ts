// What the policy decides for one incident. decide() is pure; the pipeline executes the plan.

export type Mode = 'dry-run' | 'enforce';

export type ActionType = 'deletePod' | 'quarantinePod' | 'cordonNode' | 'labelPod' | 'annotatePod';

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
  /** No destructive action before the evidence object is durably stored. */
  requireEvidence: boolean;
  actions: PlannedAction[];
  maxActionsPerHour?: number;
}

export interface NoMatch {
  matched: false;
  /** Why nothing applies: category not covered, excluded, protected namespace, not GKE, ... */
  reason: string;
}

export type Decision = ResponsePlan | NoMatch;
