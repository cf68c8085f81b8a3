// decide(): Incident + Policy -> ResponsePlan or NoMatch. Pure and total: no I/O, no throw.
//
// Order of evaluation (each step's failure is a NoMatch with a clear reason and code):
//   1. the category is covered by some rule        (else `category-not-covered`)
//   2. the finding is ACTIVE                          (else `not-active`)
//   3. the resource is a GKE cluster                  (else `not-gke`: Cloud Run Threat Detection)
//   4. the finding names a pod, with valid names      (else `no-pod` / `invalid-pod`)
//   5. rules in order, first match wins               (else `no-rule-matched`, with each rule's reason)
//
// Protected namespaces: a matching rule still yields a plan (enrichment and evidence are
// most valuable exactly when kube-system is compromised) but every action is withheld,
// listed in `withheldActions` with the reason. No rule can act in a protected namespace.
import { DEFAULT_APPROVAL } from './approval.js';
import type { Incident } from '../finding/types.js';
import { firstGlobMatch, globMatch } from './glob.js';
import { isActionType } from './actions.js';
import { podScopeOf } from './pod-scope.js';
import type { Policy, PolicyRule, RuleExclude, RuleMatch } from './schema.js';
import { evidenceGateOf, type Decision, type NoMatch, type PlannedAction, type ResponsePlan } from './types.js';

export interface RuleEvaluation {
  index: number;
  rule: string;
  matched: boolean;
  /** Why the rule did not match (or was excluded); empty when it matched. */
  reasons: string[];
}

export interface Explanation {
  decision: Decision;
  /** Every rule evaluated, in order, up to and including the one that matched. Empty when a pre-check decided. */
  rules: RuleEvaluation[];
}

const MAX_REASON_RULES = 5;

function ruleName(rule: PolicyRule, index: number): string {
  return rule.name ?? `rules[${index}]`;
}

function list(values: readonly string[]): string {
  const shown = values.slice(0, 6).map((v) => JSON.stringify(v));
  return `[${shown.join(', ')}${values.length > 6 ? ', ...' : ''}]`;
}

/** The SCC categories a policy covers, in order of first appearance (for the notification filter). */
export function policyCategories(policy: Pick<Policy, 'rules'>): string[] {
  return [...new Set(policy.rules.flatMap((r) => r.match.categories))];
}

/** True when some rule of the policy names `category` (exact string). Allocates nothing. */
export function coversCategory(policy: Pick<Policy, 'rules'>, category: string): boolean {
  for (const rule of policy.rules) if (rule.match.categories.includes(category)) return true;
  return false;
}

/** The NoMatch for a category no rule names (shared by explain() and the screening fast path). */
export function categoryNotCovered(category: string, policy: Pick<Policy, 'rules'>): NoMatch {
  return noMatch('category-not-covered', `category ${JSON.stringify(category)} is not covered by the policy (covers ${list(policyCategories(policy))})`);
}

/** SCC notification-config filter for a policy: ACTIVE findings of the covered categories. */
export function notificationFilter(policy: Pick<Policy, 'rules'>): string {
  const cats = policyCategories(policy).map((c) => `category="${c.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
  return cats.length === 0 ? 'state="ACTIVE" AND category="__none__"' : `state="ACTIVE" AND (${cats.join(' OR ')})`;
}

/** The protected pattern a namespace falls under, or undefined. */
export function protectedNamespaceMatch(namespace: string, policy: Pick<Policy, 'protectedNamespaces'>): string | undefined {
  return firstGlobMatch(policy.protectedNamespaces, namespace);
}

// ------------------------------------------------------------------ matchers
// Each returns undefined when the field matches, or a sentence saying why not.
// Every comparison is on the whole value (anchored globs, exact strings).

function projectCandidates(i: Incident): string[] {
  return [...new Set([i.projectId, i.projectNumber, i.cluster?.project].filter((v): v is string => v !== undefined && v !== ''))];
}

function stripProjects(pattern: string): string {
  return pattern.startsWith('projects/') ? pattern.slice('projects/'.length) : pattern;
}

function clusterValueFor(pattern: string, i: Incident): string | undefined {
  const c = i.cluster;
  if (!c) return undefined;
  if (pattern.startsWith('//')) return c.resourceName;
  if (pattern.includes('/')) return `projects/${c.project}/locations/${c.location}/clusters/${c.name}`;
  return c.name;
}

interface FieldCheck {
  field: string;
  /** True when any of `patterns` matches the incident's value(s). */
  test: (pattern: string) => boolean;
  /** The incident's value, for messages. */
  shown: string;
}

function checks(spec: RuleMatch | RuleExclude, i: Incident): { field: string; patterns: string[]; check: FieldCheck }[] {
  const out: { field: string; patterns: string[]; check: FieldCheck }[] = [];
  if (spec.categories) {
    out.push({ field: 'categories', patterns: spec.categories, check: { field: 'category', test: (p) => p === i.category, shown: JSON.stringify(i.category) } });
  }
  if (spec.severities) {
    out.push({ field: 'severities', patterns: spec.severities, check: { field: 'severity', test: (p) => p === i.severity, shown: i.severity } });
  }
  if (spec.projects) {
    const values = projectCandidates(i);
    out.push({
      field: 'projects',
      patterns: spec.projects,
      check: { field: 'project', test: (p) => values.some((v) => globMatch(stripProjects(p), v)), shown: values.map((v) => JSON.stringify(v)).join('/') || '(none)' },
    });
  }
  if (spec.clusters) {
    out.push({
      field: 'clusters',
      patterns: spec.clusters,
      check: {
        field: 'cluster',
        test: (p) => {
          const v = clusterValueFor(p, i);
          return v !== undefined && globMatch(p, v);
        },
        shown: i.cluster ? JSON.stringify(i.cluster.name) : '(none)',
      },
    });
  }
  if (spec.namespaces) {
    out.push({
      field: 'namespaces',
      patterns: spec.namespaces,
      check: { field: 'namespace', test: (p) => i.namespace !== undefined && globMatch(p, i.namespace), shown: JSON.stringify(i.namespace ?? '') },
    });
  }
  if (spec.images) {
    const values = [i.imageUri, i.imageId].filter((v): v is string => v !== undefined && v !== '');
    out.push({
      field: 'images',
      patterns: spec.images,
      check: { field: 'image', test: (p) => values.some((v) => globMatch(p, v)), shown: values.length > 0 ? JSON.stringify(values[0]) : '(none)' },
    });
  }
  return out;
}

function labelMatches(i: Incident, key: string, pattern: string): boolean {
  const v = Object.hasOwn(i.podLabels, key) ? i.podLabels[key] : undefined;
  return v !== undefined && globMatch(pattern, v);
}

/** Why the incident fails `match` (every given field must match), or [] when it matches. */
function matchFailures(match: RuleMatch, i: Incident): string[] {
  const reasons: string[] = [];
  for (const { field, patterns, check } of checks(match, i)) {
    if (!patterns.some(check.test)) reasons.push(`${check.field} ${check.shown} matches none of match.${field} ${list(patterns)}`);
  }
  for (const [key, pattern] of Object.entries(match.podLabels ?? {})) {
    if (!labelMatches(i, key, pattern)) {
      const actual = Object.hasOwn(i.podLabels, key) ? JSON.stringify(i.podLabels[key]) : 'absent';
      reasons.push(`pod label ${key} (${actual}) does not match match.podLabels ${JSON.stringify(pattern)}`);
    }
  }
  return reasons;
}

/** The first exclusion that applies (any field, any value), or undefined. */
function exclusion(exclude: RuleExclude | undefined, i: Incident): string | undefined {
  if (!exclude) return undefined;
  for (const { field, patterns, check } of checks(exclude, i)) {
    const hit = patterns.find(check.test);
    if (hit !== undefined) return `excluded: ${check.field} ${check.shown} matches exclude.${field} ${JSON.stringify(hit)}`;
  }
  for (const [key, pattern] of Object.entries(exclude.podLabels ?? {})) {
    if (labelMatches(i, key, pattern)) return `excluded: pod label ${key}=${JSON.stringify(i.podLabels[key])} matches exclude.podLabels ${JSON.stringify(pattern)}`;
  }
  return undefined;
}

export function evaluateRule(rule: PolicyRule, index: number, i: Incident): RuleEvaluation {
  const name = ruleName(rule, index);
  const failures = matchFailures(rule.match, i);
  if (failures.length > 0) return { index, rule: name, matched: false, reasons: failures };
  const excluded = exclusion(rule.exclude, i);
  if (excluded) return { index, rule: name, matched: false, reasons: [excluded] };
  return { index, rule: name, matched: true, reasons: [] };
}

// ------------------------------------------------------------------ plan

/** The rule's action as planned: `{ type, params }`. The schema admitted only catalog types. */
function planned(action: PolicyRule['actions'][number]): PlannedAction[] {
  const { type, ...params } = action;
  return typeof type === 'string' && isActionType(type) ? [{ type, params }] : [];
}

function buildPlan(rule: PolicyRule, index: number, i: Incident, policy: Policy): ResponsePlan {
  const notes: string[] = [];
  let actions = rule.actions.flatMap(planned);
  const withheld: (PlannedAction & { reason: string })[] = [];
  const ns = i.namespace ?? '';
  const protectedBy = protectedNamespaceMatch(ns, policy);
  if (protectedBy !== undefined && actions.length > 0) {
    const reason = `namespace ${JSON.stringify(ns)} is protected (${JSON.stringify(protectedBy)}): no rule can act in it`;
    for (const a of actions) withheld.push({ ...a, reason });
    actions = [];
    notes.push(`${reason}; enrichment and evidence still run`);
  }
  let snapshot = rule.snapshot;
  if (snapshot) {
    const unusable = !i.binary
      ? 'the finding names no binary'
      : i.binary.pathProblem
        ? `binary path ${i.binary.pathProblem}`
        : !i.container
          ? 'the finding names no container'
          : (i.problems ?? []).find((p) => p.kind === 'invalid' && p.field === 'container')?.message;
    if (unusable !== undefined) {
      snapshot = false;
      notes.push(`snapshot off: ${unusable}`);
    }
  }
  const plan: ResponsePlan = {
    matched: true,
    rule: ruleName(rule, index),
    ruleIndex: index,
    mode: rule.mode,
    enrich: rule.enrich,
    snapshot,
    ...evidenceGateOf(rule.requireEvidence ?? policy.requireEvidence),
    actions,
    maxActionsPerHour: rule.maxActionsPerHour,
    ...(rule.maxActionsPerHourPerNamespace === undefined ? {} : { maxActionsPerHourPerNamespace: rule.maxActionsPerHourPerNamespace }),
    ...(rule.maxActionsPerHourPerWorkload === undefined ? {} : { maxActionsPerHourPerWorkload: rule.maxActionsPerHourPerWorkload }),
  };
  const podScope = podScopeOf(rule);
  if (podScope !== undefined) plan.podScope = podScope;
  if (withheld.length > 0) plan.withheldActions = withheld;
  if (notes.length > 0) plan.notes = notes;
  if (rule.notify !== undefined) plan.notify = rule.notify.map((t) => ({ ...t }));
  if (rule.mode === 'approve') plan.approval = { expiresAfterHours: rule.approval?.expiresAfterHours ?? DEFAULT_APPROVAL.expiresAfterHours, beforeApproval: [...(rule.approval?.beforeApproval ?? [])] };
  return plan;
}

function noMatch(code: NonNullable<NoMatch['code']>, reason: string): NoMatch {
  return { matched: false, code, reason };
}

/** decide() with the per-rule trace (for `policy check` and debug logs). */
export function explain(incident: Incident, policy: Policy): Explanation {
  if (!coversCategory(policy, incident.category)) return { decision: categoryNotCovered(incident.category, policy), rules: [] };
  if (incident.state !== 'ACTIVE') {
    return { decision: noMatch('not-active', `finding state is ${incident.state}: only ACTIVE findings are handled`), rules: [] };
  }
  if (incident.cluster === null) {
    return {
      decision: noMatch('not-gke', `resource ${incident.resourceName} is not a GKE cluster (e.g. Cloud Run Threat Detection): no pod to act on`),
      rules: [],
    };
  }
  if (!incident.namespace || !incident.pod) {
    return { decision: noMatch('no-pod', `the finding names no ${!incident.namespace ? 'namespace' : 'pod'}: nothing to enrich or act on`), rules: [] };
  }
  const invalid = (incident.problems ?? []).filter((p) => p.kind === 'invalid' && (p.field === 'namespace' || p.field === 'pod'));
  if (invalid.length > 0) {
    return { decision: noMatch('invalid-pod', `the finding's pod cannot be acted on: ${invalid.map((p) => p.message).join('; ')}`), rules: [] };
  }
  const rules: RuleEvaluation[] = [];
  for (const [index, rule] of policy.rules.entries()) {
    const evaluation = evaluateRule(rule, index, incident);
    rules.push(evaluation);
    if (evaluation.matched) return { decision: buildPlan(rule, index, incident, policy), rules };
  }
  const summary = rules
    .slice(0, MAX_REASON_RULES)
    .map((r) => `${r.rule}: ${r.reasons[0] ?? 'no match'}`)
    .join('; ');
  const more = rules.length > MAX_REASON_RULES ? `; and ${rules.length - MAX_REASON_RULES} more rules` : '';
  return { decision: noMatch('no-rule-matched', `no rule matched (${summary}${more})`), rules };
}

/** The policy's decision for one incident: a plan from the first matching rule, or why none applies. */
export function decide(incident: Incident, policy: Policy): Decision {
  return explain(incident, policy).decision;
}
