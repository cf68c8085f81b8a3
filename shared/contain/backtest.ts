// `policy backtest`: what a policy would have done for findings already in SCC. Pure: one
// row per finding (the decision and the guards that can be judged from the finding alone,
// the same previewGuards/explainPlan as `policy check`; with --live, the guards judged on the
// live pod, backtest-live.ts), and a running summary whose memory is bounded by rules x hours
// x workloads, never by the number of findings.
//
// Blast-radius replay: the executor checks a destructive action against every budget of its
// rule, narrowest first (executor.ts budgetsFor): the workload (top controller), the
// namespace, the rule, each counted in fixed UTC hours (limiter.ts hourWindow); the first full
// budget degrades the action to dry-run and it takes no wider slot. Replayed over the
// findings' event times: in a window, a workload passes min(limit, demand) actions on to its
// namespace, a namespace passes min(limit, what reached it) on to the rule, and so on. These
// counts do not depend on the order the actions came in (the budgets nest), so the replay
// needs counts only. Counted as if the rule were in enforce mode (the question a backtest
// answers is "what if I enforce"), whatever its mode today. The budgets and their scopes are
// the executor's own (budget-scope.ts budgetsFor: namespace and workload of the finding's
// cluster, the rule organization-wide). The workload (`namespace/Kind/name`) comes from the
// live owner chain with --live, else from the finding's labels (workload-hint.ts), else the
// pod's own name; the summary says how many of each.
import type { Incident } from '../finding/types.js';
import type { Decision, ResponsePlan } from '../policy/types.js';
import { ACTION_CATALOG } from '../policy/actions.js';
import { explainPlan, previewGuards, type GuardPreview, type PlanExplanation } from './explain.js';
import { budgetCluster, budgetsFor, scopeLabel } from './budget-scope.js';
import type { ClusterParts } from '../ledger/layout.js';
import { hourWindow } from './limiter.js';
import { hasLiveGuards, liveGuards, liveWorkload, type LiveJudgement } from './backtest-live.js';
import { workloadFromFinding, type WorkloadGuess, type WorkloadSource } from './workload-hint.js';

export interface BacktestRow {
  finding: string;
  category: string;
  severity: string;
  state: string;
  eventTime: string;
  /** The cluster the namespace and workload budgets count in (budget-scope.ts budgetCluster). */
  cluster: ClusterParts;
  namespace?: string;
  pod?: string;
  /** The finding carries our handled mark: the function would skip it (already handled). */
  handled: boolean;
  decision: Decision;
  plan: PlanExplanation;
  /** With --live, for findings with guards to judge: judged on the live pod, or why not. */
  live?: { judged: true } | { judged: false; reason: string; cause?: string };
  /** The workload the per-workload budget counts by, and where that came from. */
  workload?: WorkloadGuess;
}

export interface LimitReplay {
  rule: string;
  /** `rule`, `namespace <ns> in <project/location/cluster>` or `workload <ns/Kind/name> in <project/location/cluster>`. */
  scope: string;
  limit: number;
  /** UTC hours in which the scope had destructive actions. */
  windows: number;
  /** Actions that reached this budget (not already degraded by a narrower one). */
  demanded: number;
  /** Actions this budget degraded to dry-run. */
  degraded: number;
}

export interface BacktestSummary {
  findings: number;
  handled: number;
  /** Matched rule -> findings (not handled ones only: the function skips handled findings). */
  byRule: Record<string, number>;
  /** NoMatch code -> findings. */
  noMatch: Record<string, number>;
  /** Action type -> planned count, split by the rule's mode (approve: runs at once or after a person's approval, as the rule's `approval` says). */
  actions: Record<string, { enforce: number; approve: number; dryRun: number }>;
  /** Guard -> actions it refuses (withheld actions count as protected-namespace; `<guard> (live)` when judged on the live pod). */
  refusals: Record<string, number>;
  /** `<guard> (live)` -> actions with nothing to do on the live cluster (the pod is gone, already terminating, the node cordoned). */
  skipped: Record<string, number>;
  /** Guards only the live cluster, snapshot or shared store can judge -> actions. */
  undecided: Record<string, number>;
  /** --live: reason (per cluster) -> findings whose live guards could not be judged (no context, unreachable, 403, ...). */
  notJudged: Record<string, number>;
  /** Findings whose rule has a per-workload budget, by where their workload came from. */
  workloadSources: Partial<Record<WorkloadSource, number>>;
  limits: LimitReplay[];
}

export interface BacktestOptions {
  protectedNamespaces?: readonly string[];
  /** --live: what the cluster said for this finding (absent: not asked). */
  live?: LiveJudgement;
}

function guardsOf(incident: Incident, decision: Decision, handled: boolean, options: BacktestOptions): GuardPreview[] {
  const ns = options.protectedNamespaces === undefined ? {} : { protectedNamespaces: options.protectedNamespaces };
  const live = options.live;
  if (live?.judged === true && hasLiveGuards(incident, decision, handled)) return liveGuards(incident, decision, live.facts, options.protectedNamespaces);
  return previewGuards(incident, decision, ns);
}

function workloadOfRow(incident: Incident, live: LiveJudgement | undefined): WorkloadGuess | undefined {
  const fromLive = live?.judged === true ? liveWorkload(live.facts) : undefined;
  return fromLive === undefined ? workloadFromFinding(incident) : { key: fromLive, source: 'live owner chain' };
}

/** The row for one finding. */
export function backtestRow(incident: Incident, decision: Decision, handled: boolean, options: BacktestOptions = {}): BacktestRow {
  const plan = explainPlan(decision, guardsOf(incident, decision, handled, options));
  const workload = workloadOfRow(incident, options.live);
  const live = options.live;
  return {
    finding: incident.findingName,
    category: incident.category,
    severity: incident.severity,
    state: incident.state,
    eventTime: incident.eventTime,
    cluster: budgetCluster(incident),
    ...(incident.namespace === undefined ? {} : { namespace: incident.namespace }),
    ...(incident.pod === undefined ? {} : { pod: incident.pod }),
    handled,
    decision,
    plan,
    ...(live === undefined ? {} : { live: live.judged ? { judged: true as const } : { judged: false as const, reason: live.reason, ...(live.cause === undefined ? {} : { cause: live.cause }) } }),
    ...(workload === undefined ? {} : { workload }),
  };
}

const bump = (m: Record<string, number>, k: string, by = 1): void => {
  m[k] = (m[k] ?? 0) + by;
};

const labelOf = (g: { name: string; live?: true }): string => (g.live ? `${g.name} (live)` : g.name);

/** Destructive actions counted in the same budgets: their scopes' labels and limits, narrowest first. */
interface Chain {
  labels: string[];
  limits: number[];
  n: number;
}

/** One rule's demand: window -> budget chain (labels joined) -> destructive actions. */
interface RuleDemand {
  rule: string;
  windows: Map<string, Map<string, Chain>>;
}

/** Accumulates rows into the summary; `summary()` can be called at any time. */
export class BacktestAccumulator {
  private readonly s: Omit<BacktestSummary, 'limits'> = { findings: 0, handled: 0, byRule: {}, noMatch: {}, actions: {}, refusals: {}, skipped: {}, undecided: {}, notJudged: {}, workloadSources: {} };
  private readonly demand = new Map<string, RuleDemand>();

  add(row: BacktestRow): void {
    this.s.findings += 1;
    if (row.handled) {
      this.s.handled += 1;
      return;
    }
    const d = row.decision;
    if (!d.matched) {
      bump(this.s.noMatch, d.code ?? 'no-match');
      return;
    }
    bump(this.s.byRule, d.rule);
    for (const a of d.actions) {
      const entry = (this.s.actions[a.type] ??= { enforce: 0, approve: 0, dryRun: 0 });
      if (d.mode === 'dry-run') entry.dryRun += 1;
      else entry[d.mode] += 1;
    }
    if (d.withheldActions?.length) bump(this.s.refusals, 'protected-namespace', d.withheldActions.length);
    if (row.live?.judged === false) bump(this.s.notJudged, row.live.cause ?? row.live.reason);
    for (const a of row.plan.actions) this.countGuards(a);
    this.replay(d, row);
  }

  /**
   * A skip (nothing to do) counts once per action, by pod-identity when it skips (the pod is
   * gone: every pod guard then skips) else by the first skipping guard; otherwise every
   * failing guard counts.
   */
  private countGuards(a: GuardPreview): void {
    const skips = a.guards.filter((g) => g.verdict === 'fail' && g.effect === 'skip');
    const skip = skips.find((g) => g.name === 'pod-identity') ?? skips[0];
    if (skip !== undefined) {
      bump(this.s.skipped, labelOf(skip));
      return;
    }
    for (const g of a.guards) {
      if (g.verdict === 'fail') bump(this.s.refusals, labelOf(g));
      else if (g.verdict === 'unknown') bump(this.s.undecided, `${g.name} (needs ${g.needs ?? 'cluster'})`);
    }
  }

  private replay(d: ResponsePlan, row: BacktestRow): void {
    // Actions a guard refuses (or skips) never reach the limiter.
    const refused = new Set(row.plan.actions.filter((a) => a.guards.some((g) => g.verdict === 'fail')).map((a) => a.action));
    const destructive = d.actions.filter((a) => ACTION_CATALOG[a.type].destructive && !refused.has(a.type)).length;
    if (destructive === 0) return;
    if (d.maxActionsPerHour === undefined && d.maxActionsPerHourPerNamespace === undefined && d.maxActionsPerHourPerWorkload === undefined) return;
    const ns = row.namespace ?? '';
    const workload = row.workload ?? { key: `${ns}/Pod/${row.pod ?? ''}`, source: 'pod name' as const };
    if (d.maxActionsPerHourPerWorkload !== undefined) this.s.workloadSources[workload.source] = (this.s.workloadSources[workload.source] ?? 0) + 1;
    const budgets = budgetsFor(d, { cluster: row.cluster, namespace: ns, workload: workload.key });
    const chain = { labels: budgets.map((b) => scopeLabel(b.scope)), limits: budgets.map((b) => b.limit) };
    const entry = this.demand.get(d.rule) ?? { rule: d.rule, windows: new Map() };
    this.demand.set(d.rule, entry);
    const window = hourWindow(new Date(row.eventTime));
    const chains = entry.windows.get(window) ?? new Map<string, Chain>();
    entry.windows.set(window, chains);
    const key = chain.labels.join('\n');
    const seen = chains.get(key) ?? { ...chain, n: 0 };
    seen.n += destructive;
    chains.set(key, seen);
  }

  summary(): BacktestSummary {
    const limits = [...this.demand.values()].flatMap(replayRule);
    limits.sort((a, b) => a.rule.localeCompare(b.rule) || a.scope.localeCompare(b.scope));
    return { ...structuredClone(this.s), limits };
  }
}

/** Passes min(limit, n) on; the rest is degraded by this budget. */
function through(row: LimitReplay, n: number): number {
  const passed = Math.min(row.limit, n);
  row.windows += n > 0 ? 1 : 0;
  row.demanded += n;
  row.degraded += n - passed;
  return passed;
}

/**
 * The rule's budgets replayed window by window, narrowest first (see the header): at each
 * level, the actions that reached a budget are summed by its label and passed on. The budgets
 * nest (a workload is in one namespace of one cluster; every chain of a rule has the same
 * levels), so chains that share a label share every wider one too.
 */
function replayRule(e: RuleDemand): LimitReplay[] {
  const rows = new Map<string, LimitReplay>();
  const rowFor = (scope: string, limit: number): LimitReplay => {
    const r = rows.get(scope) ?? { rule: e.rule, scope, limit, windows: 0, demanded: 0, degraded: 0 };
    rows.set(scope, r);
    return r;
  };
  for (const chains of e.windows.values()) {
    let flow = [...chains.values()];
    for (let level = 0; flow.some((c) => level < c.labels.length); level += 1) {
      const reached = new Map<string, Chain>();
      for (const c of flow) {
        const label = c.labels[level] ?? '';
        const sum = reached.get(label) ?? { ...c, n: 0 };
        sum.n += c.n;
        reached.set(label, sum);
      }
      flow = [...reached].map(([label, c]) => ({ ...c, n: through(rowFor(label, c.limits[level] ?? 0), c.n) }));
    }
  }
  return [...rows.values()];
}
