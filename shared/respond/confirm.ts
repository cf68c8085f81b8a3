// confirmFinding(): before anything touches a cluster, the finding the message names is read
// from SCC and the response acts on SCC's copy, re-decided by the policy. The function never
// proceeds unconfirmed; the CLI (a person triaging a file they chose) proceeds without SCC
// access and says so. Freshness: the function refuses an eventTime in the future or older
// than the policy's window; the CLI warns. The approval mark (approve mode) is read here, from
// SCC's copy: the message's marks are attacker-writable and never decide anything.
import { classifyError } from '../common/errors.js';
import { compareWithScc, eventTimeProblem } from '../finding/confirm.js';
import type { Incident } from '../finding/types.js';
import type { Decision, ResponsePlan } from '../policy/types.js';
import type { FindingReader, SccFindingCopy, SccSource } from '../ports.js';
import { approvalMarkOf, carriesApprovalDecision, isHandled, type ApprovalMark } from '../record/marks.js';

export type Confirmation =
  /** SCC confirms: act on its copy with the plan decided on it. */
  | { status: 'confirmed'; incident: Incident; plan: ResponsePlan; warnings: string[] }
  /** Not confirmed: no cluster call, acked with a WARNING entry. */
  | { status: 'refused'; reasons: string[] }
  /**
   * approve mode: SCC's copy is awaiting-approval and carries a person's approval mark. The
   * mark is read from SCC's copy only (the message's marks are attacker-writable).
   */
  | { status: 'approval'; incident: Incident; plan: ResponsePlan; mark: ApprovalMark; warnings: string[] }
  /** SCC's copy carries our marks: handled by an earlier run (loop safety). */
  | { status: 'already-handled' }
  /** SCC could not be asked right now: transient, the function asks for redelivery. */
  | { status: 'unavailable'; reason: string }
  /** CLI only: no SCC access; proceeds on the message's copy and says so everywhere. */
  | { status: 'unconfirmed'; reason: string; warnings: string[] };

export interface ConfirmDeps {
  surface: 'function' | 'cli';
  /** Absent: no SCC access configured (the function then refuses). */
  reader?: FindingReader;
  /** The policy's decision on SCC's copy. */
  decide(incident: Incident): Decision;
  maxEventAgeMs: number;
  acceptedSources: readonly string[];
  now?: () => Date;
}

/** What the report, the marks and the audit say about confirmation. */
export interface ConfirmationNote {
  confirmed: boolean;
  /** Why not (CLI without SCC access), or warnings (a stale eventTime in the CLI). */
  notes: string[];
}

export function confirmationNote(c: Confirmation): ConfirmationNote | undefined {
  if (c.status === 'confirmed' || c.status === 'approval') return { confirmed: true, notes: c.warnings };
  if (c.status === 'unconfirmed') return { confirmed: false, notes: [`finding NOT confirmed by SCC: ${c.reason}`, ...c.warnings] };
  return undefined;
}

/**
 * The finding and its source. An organization-level name says its source
 * (`organizations/O/sources/S/...`), so the source is read alongside the finding (one round
 * trip, not two, on a cold instance); SCC's copy's own parent decides which source counts.
 */
async function readScc(reader: FindingReader, findingName: string, signal?: AbortSignal): Promise<{ copy: SccFindingCopy | null; source: SccSource | null }> {
  const guessed = /^organizations\/[^/]+\/sources\/[^/]+/.exec(findingName)?.[0];
  const early = guessed ? reader.getSource(guessed, signal) : undefined;
  early?.catch(() => undefined);
  const copy = await reader.getFinding(findingName, signal);
  const parent = copy?.notification.finding['parent'];
  if (typeof parent !== 'string') return { copy, source: null };
  const source = await (parent === guessed && early ? early : reader.getSource(parent, signal));
  return { copy, source };
}

export async function confirmFinding(incident: Incident, deps: ConfirmDeps, signal?: AbortSignal): Promise<Confirmation> {
  const now = (deps.now ?? (() => new Date()))();
  const fn = deps.surface === 'function';
  const warnings: string[] = [];
  const stale = eventTimeProblem(incident.eventTime, now, deps.maxEventAgeMs);
  if (stale && fn) return { status: 'refused', reasons: [stale] };
  if (stale) warnings.push(stale);
  if (!deps.reader) {
    const reason = 'no SCC access configured to read the finding';
    return fn ? { status: 'refused', reasons: [reason] } : { status: 'unconfirmed', reason, warnings };
  }
  let read: { copy: SccFindingCopy | null; source: SccSource | null };
  try {
    read = await readScc(deps.reader, incident.findingName, signal);
  } catch (err) {
    const c = classifyError(err);
    if (!fn) return { status: 'unconfirmed', reason: `SCC could not be read: ${c.reason}`, warnings };
    return c.kind === 'transient' ? { status: 'unavailable', reason: c.reason } : { status: 'refused', reasons: [`SCC could not be read: ${c.reason}`] };
  }
  const compared = compareWithScc({ message: incident, copy: read.copy?.notification ?? null, source: read.source, acceptedSources: deps.acceptedSources });
  if (!compared.confirmed) return { status: 'refused', reasons: compared.reasons };
  const scc = compared.incident;
  if (isHandled(scc.securityMarks)) return { status: 'already-handled' };
  const mark = carriesApprovalDecision(scc.securityMarks) ? approvalMarkOf(scc.securityMarks) : undefined;
  const sccStale = eventTimeProblem(scc.eventTime, now, deps.maxEventAgeMs);
  if (sccStale && fn) return { status: 'refused', reasons: [`SCC's copy: ${sccStale}`] };
  if (sccStale && !warnings.includes(sccStale)) warnings.push(`SCC's copy: ${sccStale}`);
  const decision = deps.decide(scc);
  if (!decision.matched) return { status: 'refused', reasons: [`SCC's copy matches no rule: ${decision.reason}`] };
  if (mark !== undefined) return { status: 'approval', incident: scc, plan: decision, mark, warnings };
  return { status: 'confirmed', incident: scc, plan: decision, warnings };
}
