// Who may publish findings, against the code: the IAM deny policy of infra/iam.tf must deny
// topics.publish to every principal except exactly the identities declared in
// shared/gcp-permissions.ts PUBLISH_DENY, and the notification filter must be able to name
// the Container Threat Detection source. Pure functions over the parsed Terraform, like
// scripts/check-infra.ts (which calls them from checkInfra).
import type { PUBLISH_DENY } from '../shared/gcp-permissions.js';
import { at, memberKind, references, resolveLocals, text, type TfConfig } from './check-infra.js';

export type PublishDeny = typeof PUBLISH_DENY;

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(text) : v === undefined ? [] : [text(v)]);

/** `principal://iam.googleapis.com/projects/-/serviceAccounts/EMAIL` -> who EMAIL is. */
function exceptionKind(principal: string, locals: Record<string, unknown>): string {
  const m = /^principal:\/\/iam\.googleapis\.com\/projects\/-\/serviceAccounts\/(.+)$/.exec(principal);
  if (!m) return `unknown(${principal})`;
  return memberKind(resolveLocals(m[1] as string, locals));
}

export function checkPublishDeny(config: TfConfig, want: PublishDeny): string[] {
  const problems: string[] = [];
  const policies = Object.entries(config.resource['google_iam_deny_policy'] ?? {});
  if (policies.length === 0) return ['missing google_iam_deny_policy: anyone with publish rights on the findings topic (Owner, Editor, roles/pubsub.*) could forge findings'];
  const denying = policies.filter(([, body]) => list(at(body, 'rules', 'deny_rule', 'denied_permissions')).includes(want.permission));
  if (denying.length === 0) return [`google_iam_deny_policy: no rule denies ${want.permission}`];
  for (const [name, body] of denying) {
    const A = `google_iam_deny_policy.${name}`;
    if (!references(text(body['parent']), 'var.project_id') || !text(body['parent']).includes('cloudresourcemanager.googleapis.com/projects/')) {
      problems.push(`${A}: parent must be the responder's project (cloudresourcemanager.googleapis.com/projects/\${var.project_id})`);
    }
    if (typeof body['count'] === 'string') problems.push(`${A}: must not be conditional (count)`);
    const rule = at(body, 'rules', 'deny_rule');
    const denied = list(at(rule, 'denied_principals'));
    if (JSON.stringify(denied) !== JSON.stringify(want.deniedPrincipals)) problems.push(`${A}: denied_principals must be ${JSON.stringify(want.deniedPrincipals)} (got ${JSON.stringify(denied)})`);
    if (at(rule, 'denial_condition') !== undefined) problems.push(`${A}: a denial_condition would let publishes through; the rule must be unconditional`);
    const exceptions = list(at(rule, 'exception_principals')).map((p) => exceptionKind(p, config.locals));
    const wantSet = new Set<string>(want.exceptions);
    for (const e of exceptions) if (!wantSet.has(e)) problems.push(`${A}: exception ${e} may publish but is not declared in PUBLISH_DENY.exceptions`);
    for (const e of wantSet) if (!exceptions.includes(e)) problems.push(`${A}: declared exception ${e} is missing (it could not publish)`);
    if (list(at(rule, 'exception_permissions')).length > 0) problems.push(`${A}: exception_permissions would exempt publishes`);
  }
  return problems;
}

/** The notification filter names the CTD source when var.ctd_source is set (`parent = "..."`). */
export function checkSourceFilter(config: TfConfig): string[] {
  const problems: string[] = [];
  const filter = text(config.locals['notification_filter']);
  if (!references(filter, 'local.ctd_source_clauses')) problems.push('local.notification_filter: must include local.ctd_source_clauses (the CTD source, when var.ctd_source is set)');
  const clauses = text(config.locals['ctd_source_clauses']);
  if (!(references(clauses, 'var.ctd_source') && clauses.includes('parent = '))) problems.push('local.ctd_source_clauses: must be parent = "${var.ctd_source}" when var.ctd_source is set');
  if (config.variable['ctd_source'] === undefined) problems.push('variable ctd_source: missing (the CTD source the notification filter names)');
  return problems;
}
