// The SCC finding filter built from a policy: ONE function for the notification config that
// Terraform deploys (infra/main.tf local.notification_filter) and for the reads of the
// backtest and backfill commands, so what the function is sent and what a backtest replays
// cannot drift apart. test/unit/scc-filter.test.ts evaluates the Terraform expression with
// `terraform console` and compares it with this function's output.
//
// The clause syntax is Terraform's, byte for byte: `category = "X"` joined with ` OR ` in
// parentheses, then ` AND ` clauses; inside a value only `"` is escaped (as Terraform's
// replace() does; policy categories are SCC category names, which carry no backslash).
import { policyCategories } from './decide.js';
import type { Policy } from './schema.js';

/** GKE cluster resources only (Cloud Run Threat Detection emits the same categories). */
export const GKE_RESOURCE_PREFIX = '//container.googleapis.com/';
export const DEFAULT_HANDLED_MARK_KEY = 'scc_responder_state';
// The final states only (shared/record/marks.ts FINAL_MARK_STATES): awaiting-approval must
// pass, so that a person's approval mark reaches the function.
export const DEFAULT_HANDLED_MARK_VALUES: readonly string[] = ['triaged', 'contained', 'failed', 'reverted', 'denied', 'expired'];

export interface FindingFilterOptions {
  /** Categories beyond the policy's (Terraform var.extra_finding_categories). */
  extraCategories?: readonly string[];
  /** `ACTIVE` (the notification config, backfill) or `any` (backtest: every state). Default ACTIVE. */
  state?: 'ACTIVE' | 'any';
  /** Drop findings carrying our handled mark (notification config, backfill). Default true. */
  excludeHandled?: boolean;
  handledMarkKey?: string;
  handledMarkValues?: readonly string[];
  /** Only findings whose event time is at or after this instant (not in the notification config). */
  since?: Date;
}

function quoted(value: string): string {
  return `"${value.replace(/"/g, '\\"')}"`;
}

/** The filter, e.g. `(category = "A" OR category = "B") AND state = "ACTIVE" AND resource_name : "//container.googleapis.com/" AND -security_marks.marks.k = "v"`. */
export function sccFindingFilter(policy: Pick<Policy, 'rules'>, options: FindingFilterOptions = {}): string {
  const categories = [...new Set([...policyCategories(policy), ...(options.extraCategories ?? [])])];
  const clauses = [`(${categories.map((c) => `category = ${quoted(c)}`).join(' OR ')})`];
  if ((options.state ?? 'ACTIVE') === 'ACTIVE') clauses.push('state = "ACTIVE"');
  clauses.push(`resource_name : ${quoted(GKE_RESOURCE_PREFIX)}`);
  if (options.excludeHandled ?? true) {
    const key = options.handledMarkKey ?? DEFAULT_HANDLED_MARK_KEY;
    for (const v of options.handledMarkValues ?? DEFAULT_HANDLED_MARK_VALUES) clauses.push(`-security_marks.marks.${key} = ${quoted(v)}`);
  }
  if (options.since) clauses.push(`event_time >= ${quoted(options.since.toISOString())}`);
  return clauses.join(' AND ');
}
