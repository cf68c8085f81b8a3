// Which blast-radius budgets an action counts in: the one derivation, used by the executor
// (enforce and dry-run), its prefetch, and `policy backtest`'s replay, so the three can never
// count by different keys. The limiter turns a scope into store keys (ledger/layout.ts
// rateLimitKeys).
//
// The narrower budgets are per namespace *of a cluster* and per workload *of a cluster*
// (policy schema: maxActionsPerHourPerNamespace / PerWorkload): `payments/Deployment/web` in
// two clusters, or in two projects, are two workloads with a budget each. The cluster is the
// finding's resource (`projects/P/locations/L/clusters/C`): project, location and name, since a
// cluster name is only unique within a project and location. The rule's own budget
// (maxActionsPerHour) stays organization-wide: it bounds what one rule can do anywhere.
import type { Incident } from '../finding/types.js';
import type { ResponsePlan } from '../policy/types.js';
import { MISSING, type ClusterParts } from '../ledger/layout.js';
import type { LimitScope } from './limiter.js';

/** The budgets' cluster for a finding; a finding on no GKE cluster counts under its project's `no-cluster`. */
export function budgetCluster(incident: Pick<Incident, 'cluster' | 'projectId'>): ClusterParts {
  const c = incident.cluster;
  return c === null ? { project: incident.projectId, location: '-', name: MISSING.cluster } : { project: c.project, location: c.location, name: c.name };
}

/** `project/location/name`, for people. */
export function clusterText(c: ClusterParts): string {
  return `${c.project}/${c.location}/${c.name}`;
}

/** What an action is counted against: its cluster, and the namespace and workload when known. */
export interface BudgetTarget {
  cluster: ClusterParts;
  namespace?: string;
  /** `namespace/Kind/name` of the top controller (executor.ts workloadOf, workload-hint.ts). */
  workload?: string;
}

export interface BudgetScopes {
  rule: LimitScope;
  namespace?: LimitScope;
  workload?: LimitScope;
}

/** Every scope an action on `target` belongs to under `rule`, whether or not the rule limits it. */
export function budgetScopes(rule: string, target: BudgetTarget): BudgetScopes {
  const { cluster, namespace, workload } = target;
  return {
    rule: { rule },
    ...(namespace === undefined ? {} : { namespace: { rule, cluster, namespace } }),
    ...(workload === undefined ? {} : { workload: { rule, cluster, workload } }),
  };
}

export type BudgetLimits = Pick<ResponsePlan, 'rule' | 'maxActionsPerHour' | 'maxActionsPerHourPerNamespace' | 'maxActionsPerHourPerWorkload'>;

/**
 * The budgets a destructive action must fit in, narrowest first: a full narrow budget spends
 * no wider slot. A wider budget found full after a narrower slot was taken leaves that slot
 * spent: over-counting, the safe direction (as for a crash between slot and claim).
 */
export function budgetsFor(plan: BudgetLimits, target: BudgetTarget): { scope: LimitScope; limit: number }[] {
  const scopes = budgetScopes(plan.rule, target);
  const out: { scope: LimitScope; limit: number }[] = [];
  if (plan.maxActionsPerHourPerWorkload !== undefined && scopes.workload !== undefined) out.push({ scope: scopes.workload, limit: plan.maxActionsPerHourPerWorkload });
  if (plan.maxActionsPerHourPerNamespace !== undefined && scopes.namespace !== undefined) out.push({ scope: scopes.namespace, limit: plan.maxActionsPerHourPerNamespace });
  if (plan.maxActionsPerHour !== undefined) out.push({ scope: scopes.rule, limit: plan.maxActionsPerHour });
  return out;
}

/** The backtest's name for a scope: `rule`, `namespace <ns> in <cluster>`, `workload <ns/Kind/name> in <cluster>`. */
export function scopeLabel(scope: LimitScope): string {
  if (!('cluster' in scope)) return 'rule';
  const where = clusterText(scope.cluster);
  return 'workload' in scope ? `workload ${scope.workload} in ${where}` : `namespace ${scope.namespace} in ${where}`;
}
