// SCC security marks: what the responder did, written onto the finding itself so a reviewer
// sees it in the SCC console and the next notification for the same finding (SCC re-notifies
// on every update, our own mark write included) can be recognised and skipped.
//
// Marks are set-to-value with an update mask of `marks.<key>` paths only: an empty mask (or
// `marks`) would replace every mark on the finding, including other teams' marks. Every run
// writes every key of ours (unknown values as `none`), so nothing stale from an earlier run
// survives next to fresh values.
//
// Pure (the key table, marksFor, isHandled): the request shape and finding names are in
// shared/finding/security-marks.ts, the adapter that writes them is shared/gcp/scc-marks.ts.
import { markValue } from '../finding/security-marks.js';
import { ACTION_CATALOG, ACTION_TYPES, actionEntry } from '../policy/actions.js';

/**
 * The marks this responder writes: one table, the documentation and the code at once.
 * SCC constraints (securitycenter v1/v2 security_marks.proto): keys 1-256 characters of
 * letters, digits, underscores or dashes; values trimmed, 1-4096 characters; keys and
 * values compared case-insensitively. Ours are lower case and prefixed `scc_responder_`.
 */
export const MARK_KEYS = {
  state: 'scc_responder_state',
  action: 'scc_responder_action',
  evidence: 'scc_responder_evidence',
  hash: 'scc_responder_hash',
  rule: 'scc_responder_rule',
  mode: 'scc_responder_mode',
  run: 'scc_responder_run',
  time: 'scc_responder_time',
  confirmed: 'scc_responder_confirmed',
} as const;

export type MarkKey = (typeof MARK_KEYS)[keyof typeof MARK_KEYS];

/** Every action's words for the table, e.g. `deleted | would-delete | pod-gone | delete-refused | delete-failed | ...`. */
function actionWordList(): string {
  return ACTION_TYPES.map((t) => {
    const w = ACTION_CATALOG[t].words;
    return [w.done, w.would, w.skipped, `${w.noun}-refused`, `${w.noun}-failed`].join(' | ');
  }).join(' | ');
}

export const MARKS_TABLE: readonly { key: MarkKey; meaning: string; values: string }[] = [
  { key: MARK_KEYS.state, meaning: 'Where the response ended. Any of these values means "handled: do not act again".', values: 'triaged (read, evidence/report recorded, nothing changed in the cluster) | contained (a containment action took effect) | failed (a permanent failure ended the response; see the audit log) | reverted (`scc-responder undo` reverted what could be reverted; the action mark says what)' },
  { key: MARK_KEYS.action, meaning: 'What was done, per planned action, comma-separated in execution order. Dry-run never says deleted.', values: `${actionWordList()} | none (rule planned no action) | no-rule` },
  { key: MARK_KEYS.evidence, meaning: 'URI of the stored evidence object (the modified binary).', values: 'gs://bucket/... | file:///... | none' },
  { key: MARK_KEYS.hash, meaning: "The evidence copy's SHA-256 against the finding's.", values: 'matches | differs | partial-match | partial-differs | not-compared | no-evidence | withheld-by-target (the target deleted, faked or held back its binary: no copy that counts; containment went on)' },
  { key: MARK_KEYS.rule, meaning: 'The policy rule that decided.', values: 'rule name | none' },
  { key: MARK_KEYS.mode, meaning: 'Mode the rule ran in.', values: 'dry-run | enforce' },
  { key: MARK_KEYS.run, meaning: 'Run id of the attempt that wrote the marks (the `run` field of its audit entries).', values: 'uuid' },
  { key: MARK_KEYS.confirmed, meaning: "Whether SCC's copy of the finding confirmed the message before anything was done (the function never acts unconfirmed; the CLI may, without SCC access).", values: 'scc | not-confirmed | unknown' },
  { key: MARK_KEYS.time, meaning: 'When the marks were written (UTC).', values: 'RFC 3339 timestamp' },
];

export const MARK_STATES = ['triaged', 'contained', 'failed', 'reverted'] as const;
export type MarkState = (typeof MARK_STATES)[number];

/** The status words of a containment action's outcome (shared/contain ActionOutcome.status). */
export type ActionStatusWord = 'done' | 'would-do' | 'refused' | 'skipped' | 'failed';

/** One word for one action's outcome, e.g. `would-delete`, `deleted`, `delete-refused` (words from the action catalog). */
export function actionWord(action: { type: string; status: ActionStatusWord }): string {
  const w = actionEntry(action.type)?.words ?? { done: `${action.type}-done`, would: `would-${action.type}`, noun: action.type, skipped: `${action.type}-skipped` };
  switch (action.status) {
    case 'done':
      return w.done;
    case 'would-do':
      return w.would;
    case 'skipped':
      // `act` reports skipped when the API said there was nothing left to do (pod already gone).
      return w.skipped;
    case 'refused':
      return `${w.noun}-refused`;
    case 'failed':
      return `${w.noun}-failed`;
  }
}

export type HashVerdict = 'matches' | 'differs' | 'partial-match' | 'partial-differs' | 'not-compared' | 'no-evidence' | 'withheld-by-target';

/** What happened to one finding, in the terms the marks need (no dependency on the report type). */
export interface MarkOutcome {
  /** Id of this attempt (the audit log's `run`). */
  runId: string;
  /** The rule that matched; undefined when none did. */
  rule?: string;
  mode?: 'dry-run' | 'enforce';
  /** Containment outcomes in execution order; empty or absent when the rule planned none. */
  actions?: readonly { type: string; status: ActionStatusWord }[];
  evidenceUri?: string;
  hash?: HashVerdict;
  /** A permanent failure ended the response (the message is acked with an ERROR entry). */
  failed?: boolean;
  /** Defaults to now. */
  at?: Date | string;
  /** Whether SCC confirmed the finding (undefined: not known to the caller). */
  confirmed?: boolean;
}

/**
 * Exactly what happened, as marks. Throws when asked to record an effect in dry-run: a
 * finding marked "deleted" after a dry-run is the anchor bug this layout exists to avoid.
 */
export function marksFor(outcome: MarkOutcome): Record<MarkKey, string> {
  const actions = outcome.actions ?? [];
  if (outcome.mode === 'dry-run') {
    const done = actions.find((a) => a.status === 'done');
    if (done) throw new Error(`marksFor: ${done.type} reported done in dry-run mode; refusing to record an effect that dry-run cannot have`);
  }
  let action: string;
  if (outcome.rule === undefined) action = 'no-rule';
  else if (actions.length === 0) action = 'none';
  else action = actions.map(actionWord).join(',');
  const contained = actions.some((a) => a.status === 'done' && actionEntry(a.type)?.destructive === true);
  const state: MarkState = outcome.failed ? 'failed' : contained ? 'contained' : 'triaged';
  const at = outcome.at === undefined ? new Date() : new Date(outcome.at);
  return {
    [MARK_KEYS.state]: state,
    [MARK_KEYS.action]: markValue(action),
    [MARK_KEYS.evidence]: markValue(outcome.evidenceUri ?? 'none'),
    [MARK_KEYS.hash]: outcome.hash ?? (outcome.evidenceUri ? 'not-compared' : 'no-evidence'),
    [MARK_KEYS.rule]: markValue(outcome.rule ?? 'none'),
    [MARK_KEYS.mode]: outcome.mode ?? 'none',
    [MARK_KEYS.run]: markValue(outcome.runId),
    [MARK_KEYS.time]: Number.isNaN(at.getTime()) ? 'none' : at.toISOString(),
    [MARK_KEYS.confirmed]: outcome.confirmed === undefined ? 'unknown' : outcome.confirmed ? 'scc' : 'not-confirmed',
  } as Record<MarkKey, string>;
}

/**
 * Whether a finding already carries our "handled" marks. SCC compares mark keys and values
 * case-insensitively, so this does too.
 */
export function isHandled(existing: Record<string, string> | undefined | null): boolean {
  if (!existing) return false;
  for (const [k, v] of Object.entries(existing)) {
    if (k.toLowerCase() === MARK_KEYS.state && (MARK_STATES as readonly string[]).includes(String(v).trim().toLowerCase())) return true;
  }
  return false;
}

/**
 * The marks `scc-responder undo` writes: state `reverted` (still "handled": SCC's
 * re-notification after this write must not start a new response), the action mark as
 * `<action>-<undo status>` per reverted item, run and time. Evidence, hash, rule and mode
 * keep the response's values (the update mask names only these keys).
 */
export function undoMarks(runId: string, results: readonly { action: string; status: string }[], at: Date = new Date()): Record<string, string> {
  const words = results.map((r) => `${r.action}-${r.status}`);
  return {
    [MARK_KEYS.state]: 'reverted',
    [MARK_KEYS.action]: markValue(words.length > 0 ? [...new Set(words)].join(',') : 'none'),
    [MARK_KEYS.run]: markValue(runId),
    [MARK_KEYS.time]: at.toISOString(),
  };
}
