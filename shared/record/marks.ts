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

/**
 * The one mark a person writes (approve mode): `approve:<run id>` or `deny:<run id>`, the run
 * id of the pending record. Never written by the responder, so not in MARK_KEYS (marksFor
 * writes every key of MARK_KEYS). Read only from SCC's copy of the finding, never the message.
 */
export const APPROVAL_MARK_KEY = 'scc_responder_approval';

/** Every action's words for the table, e.g. `deleted | would-delete | pod-gone | delete-refused | delete-failed | ...`. */
function actionWordList(): string {
  return ACTION_TYPES.map((t) => {
    const w = ACTION_CATALOG[t].words;
    return [w.done, w.would, w.skipped, `${w.noun}-refused`, `${w.noun}-failed`].join(' | ');
  }).join(' | ');
}

export const MARKS_TABLE: readonly { key: MarkKey | typeof APPROVAL_MARK_KEY; meaning: string; values: string }[] = [
  { key: MARK_KEYS.state, meaning: 'Where the response ended. Any of these values means "handled: do not act again" (awaiting-approval: until a person sets the approval mark).', values: 'triaged (read, evidence/report recorded, nothing changed in the cluster) | contained (a containment action took effect) | failed (a permanent failure ended the response; see the audit log) | reverted (`scc-responder undo` reverted what could be reverted; the action mark says what) | awaiting-approval (approve mode: destructive actions recorded as pending) | denied (a person denied the pending actions: nothing more was done) | expired (no decision within the rule\'s approval.expiresAfterHours: closed by a late decision or by `scc-responder approvals --expire`; nothing more was done). After an approval the state says what the executed actions did (contained, triaged or failed) and the mode mark says approve.' },
  { key: MARK_KEYS.action, meaning: 'What was done, per planned action, comma-separated in execution order. Dry-run never says deleted.', values: `${actionWordList()} | none (rule planned no action) | no-rule` },
  { key: MARK_KEYS.evidence, meaning: 'URI of the stored evidence object (the modified binary).', values: 'gs://bucket/... | file:///... | none' },
  { key: MARK_KEYS.hash, meaning: "The evidence copy's SHA-256 against the finding's.", values: 'matches | differs | partial-match | partial-differs | not-compared | no-evidence | withheld-by-target (the target deleted, faked or held back its binary: no copy that counts; containment went on)' },
  { key: MARK_KEYS.rule, meaning: 'The policy rule that decided.', values: 'rule name | none' },
  { key: MARK_KEYS.mode, meaning: 'Mode the rule ran in.', values: 'dry-run | enforce | approve' },
  { key: MARK_KEYS.run, meaning: 'Run id of the attempt that wrote the marks (the `run` field of its audit entries).', values: 'uuid' },
  { key: MARK_KEYS.confirmed, meaning: "Whether SCC's copy of the finding confirmed the message before anything was done (the function never acts unconfirmed; the CLI may, without SCC access).", values: 'scc | not-confirmed | unknown' },
  { key: MARK_KEYS.time, meaning: 'When the marks were written (UTC).', values: 'RFC 3339 timestamp' },
  { key: APPROVAL_MARK_KEY, meaning: 'Written by a PERSON, never by the responder: approves or denies the pending actions of an awaiting-approval finding (read from SCC\'s copy only; the report and the notification carry the exact gcloud command).', values: 'approve:<run id> | deny:<run id> (the run mark of the awaiting-approval run)' },
];

/**
 * States after which nothing more happens to a finding: the notification filter drops them
 * (shared/policy/scc-filter.ts, infra/variables.tf handled_mark_values). awaiting-approval is
 * not among them: SCC must still deliver the update that carries a person's approval mark.
 */
export const FINAL_MARK_STATES = ['triaged', 'contained', 'failed', 'reverted', 'denied', 'expired'] as const;
export const MARK_STATES = [...FINAL_MARK_STATES, 'awaiting-approval'] as const;
export type MarkState = (typeof MARK_STATES)[number];

/** A person's decision as the approval mark says it, or why the mark cannot be one. */
export type ApprovalMark = { verb: 'approve' | 'deny'; runId: string } | { invalid: string };

/** Reads the approval mark (case-insensitive key, as SCC compares them); undefined when absent. */
export function approvalMarkOf(marks: Record<string, string> | undefined | null): ApprovalMark | undefined {
  const entry = Object.entries(marks ?? {}).find(([k]) => k.toLowerCase() === APPROVAL_MARK_KEY);
  if (entry === undefined) return undefined;
  const value = String(entry[1]).trim();
  const m = /^(approve|deny):([A-Za-z0-9-]{1,100})$/i.exec(value);
  if (!m?.[1] || !m[2]) return { invalid: `the ${APPROVAL_MARK_KEY} mark ${JSON.stringify(value.slice(0, 120))} is not approve:<run id> or deny:<run id>` };
  return { verb: m[1].toLowerCase() as 'approve' | 'deny', runId: m[2].toLowerCase() };
}

function stateOf(marks: Record<string, string>): string | undefined {
  const entry = Object.entries(marks).find(([k]) => k.toLowerCase() === MARK_KEYS.state);
  return entry === undefined ? undefined : String(entry[1]).trim().toLowerCase();
}

/** The finding waits for a person's decision (our awaiting-approval state), and carries one. */
export function carriesApprovalDecision(marks: Record<string, string> | undefined | null): boolean {
  return !!marks && stateOf(marks) === 'awaiting-approval' && approvalMarkOf(marks) !== undefined;
}

/**
 * The marks that close or execute an approval (shared/respond/approval.ts): state, action,
 * mode, run and time only; the evidence, hash, rule and confirmation marks of the run that
 * collected the evidence stay as they are (the update mask names only these keys).
 */
export function approvalMarks(runId: string, state: MarkState, action: string, at: Date = new Date()): Record<string, string> {
  return {
    [MARK_KEYS.state]: state,
    [MARK_KEYS.action]: markValue(action),
    [MARK_KEYS.mode]: 'approve',
    [MARK_KEYS.run]: markValue(runId),
    [MARK_KEYS.time]: at.toISOString(),
  };
}

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
  mode?: 'dry-run' | 'enforce' | 'approve';
  /** Containment outcomes in execution order; empty or absent when the rule planned none. */
  actions?: readonly { type: string; status: ActionStatusWord }[];
  /** approve mode: actions recorded as pending (state awaiting-approval, action word `<noun>-pending`). */
  pending?: readonly string[];
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
  else if (actions.length === 0 && (outcome.pending ?? []).length === 0) action = 'none';
  else action = [...actions.map(actionWord), ...(outcome.pending ?? []).map((t) => `${actionEntry(t)?.words.noun ?? t}-pending`)].join(',');
  const contained = actions.some((a) => a.status === 'done' && actionEntry(a.type)?.destructive === true);
  const waiting = (outcome.pending ?? []).length > 0;
  const state: MarkState = outcome.failed ? 'failed' : waiting ? 'awaiting-approval' : contained ? 'contained' : 'triaged';
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
  const state = stateOf(existing);
  if (state === undefined || !(MARK_STATES as readonly string[]).includes(state)) return false;
  // Waiting for a person: handled (our own marks' echo) until a decision mark is on it; the
  // decision is then read from SCC's copy, never from the message (shared/respond/confirm.ts).
  return !carriesApprovalDecision(existing);
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
