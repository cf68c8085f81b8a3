// `policy backtest`: what a policy would have done for findings already in SCC. Pure: one
// row per finding (the decision and the guards that can be judged from the finding alone,
// the same previewGuards/explainPlan as `policy check`), and a running summary whose memory
// is bounded by rules x hours x namespaces, never by the number of findings.
//
// Blast-radius replay: the limiter counts destructive actions per rule (and per namespace when
// the rule says so) in fixed UTC hours (limiter.ts hourWindow). Replayed over the findings'
// event times, every destructive action of a matched plan asks for one slot in its window; a
// window with more demand than the limit degrades the rest to dry-run. Counted as if the rule
// were in enforce mode (the question a backtest answers is "what if I enforce"), whatever
// its mode today. Workload budgets need the live owner chain and are not replayed.
import type { Incident } from '../finding/types.js';
import type { Decision, ResponsePlan } from '../policy/types.js';
import { ACTION_CATALOG } from '../policy/actions.js';
import { explainPlan, previewGuards, type PlanExplanation } from './explain.js';
import { hourWindow } from './limiter.js';

export interface BacktestRow {
  finding: string;
  category: string;
  severity: string;
  state: string;
  eventTime: string;
  namespace?: string;
  pod?: string;
  /** The finding carries our handled mark: the function would skip it (already handled). */
  handled: boolean;
  decision: Decision;
  plan: PlanExplanation;
}

export interface LimitReplay {
  rule: string;
  /** `rule` or `namespace <ns>`. */
  scope: string;
  limit: number;
  windows: number;
  demanded: number;
  degraded: number;
}

export interface BacktestSummary {
  findings: number;
  handled: number;
  /** Matched rule -> findings (not handled ones only: the function skips handled findings). */
  byRule: Record<string, number>;
  /** NoMatch code -> findings. */
  noMatch: Record<string, number>;
  /** Action type -> planned count, split by the rule's mode. */
  actions: Record<string, { enforce: number; dryRun: number }>;
  /** Guard -> actions it refuses (from the finding alone; withheld actions count as protected-namespace). */
  refusals: Record<string, number>;
  /** Guards only the live cluster, snapshot or shared store can judge -> actions. */
  undecided: Record<string, number>;
  limits: LimitReplay[];
}

export interface BacktestOptions {
  protectedNamespaces?: readonly string[];
}

/** The row for one finding. */
export function backtestRow(incident: Incident, decision: Decision, handled: boolean, options: BacktestOptions = {}): BacktestRow {
  const plan = explainPlan(decision, previewGuards(incident, decision, options.protectedNamespaces === undefined ? {} : { protectedNamespaces: options.protectedNamespaces }));
  return {
    finding: incident.findingName,
    category: incident.category,
    severity: incident.severity,
    state: incident.state,
    eventTime: incident.eventTime,
    ...(incident.namespace === undefined ? {} : { namespace: incident.namespace }),
    ...(incident.pod === undefined ? {} : { pod: incident.pod }),
    handled,
    decision,
    plan,
  };
}

const bump = (m: Record<string, number>, k: string, by = 1): void => {
  m[k] = (m[k] ?? 0) + by;
};

/** Accumulates rows into the summary; `summary()` can be called at any time. */
export class BacktestAccumulator {
  private readonly s: Omit<BacktestSummary, 'limits'> = { findings: 0, handled: 0, byRule: {}, noMatch: {}, actions: {}, refusals: {}, undecided: {} };
  /** scope key -> window -> demand; and the scope's limit. */
  private readonly demand = new Map<string, { rule: string; scope: string; limit: number; windows: Map<string, number> }>();

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
      const entry = (this.s.actions[a.type] ??= { enforce: 0, dryRun: 0 });
      if (d.mode === 'enforce') entry.enforce += 1;
      else entry.dryRun += 1;
    }
    if (d.withheldActions?.length) bump(this.s.refusals, 'protected-namespace', d.withheldActions.length);
    for (const a of row.plan.actions) {
      for (const g of a.guards) {
        if (g.verdict === 'fail') bump(this.s.refusals, g.name);
        else if (g.verdict === 'unknown') bump(this.s.undecided, `${g.name} (needs ${g.needs ?? 'cluster'})`);
      }
    }
    this.replay(d, row);
  }

  private replay(d: ResponsePlan, row: BacktestRow): void {
    // Actions a guard refuses from the finding alone never reach the limiter.
    const refused = new Set(row.plan.actions.filter((a) => a.guards.some((g) => g.verdict === 'fail')).map((a) => a.action));
    const destructive = d.actions.filter((a) => ACTION_CATALOG[a.type].destructive && !refused.has(a.type)).length;
    if (destructive === 0) return;
    const window = hourWindow(new Date(row.eventTime));
    const scopes: [string, string, number | undefined][] = [
      [`rule\u0000${d.rule}`, 'rule', d.maxActionsPerHour],
      [`ns\u0000${d.rule}\u0000${row.namespace ?? ''}`, `namespace ${row.namespace ?? ''}`, d.maxActionsPerHourPerNamespace],
    ];
    for (const [key, scope, limit] of scopes) {
      if (limit === undefined) continue;
      const entry = this.demand.get(key) ?? { rule: d.rule, scope, limit, windows: new Map<string, number>() };
      this.demand.set(key, entry);
      entry.windows.set(window, (entry.windows.get(window) ?? 0) + destructive);
    }
  }

  summary(): BacktestSummary {
    const limits: LimitReplay[] = [...this.demand.values()].map((e) => {
      let demanded = 0;
      let degraded = 0;
      for (const n of e.windows.values()) {
        demanded += n;
        degraded += Math.max(0, n - e.limit);
      }
      return { rule: e.rule, scope: e.scope, limit: e.limit, windows: e.windows.size, demanded, degraded };
    });
    limits.sort((a, b) => a.rule.localeCompare(b.rule) || a.scope.localeCompare(b.scope));
    return { ...structuredClone(this.s), limits };
  }
}
