// approve mode, expiry without a decision: a pending record nobody answers would stay
// awaiting-approval forever, because the function only notices expiry when a decision mark
// arrives. `scc-responder approvals` (functions/cli/approvals.ts) lists the pending records of
// the evidence store and, with --expire, closes each one past its expiry that is still open:
//  - SCC's copy first, when SCC access is configured: if it no longer says awaiting-approval
//    for that run, or carries a person's decision mark, the function decides it (left alone);
//  - then the decision under the same claim protocol an approval delivery uses
//    (<folder>/approval/, approval.ts decideUnderClaim): a delivery racing the sweep either
//    executes or expires the record, never both. A held claim is skipped and said so.
// Never touches a cluster: closing an expired record does nothing but report, mark and audit.
import type { Incident } from '../finding/types.js';
import { toIncident } from '../finding/incident.js';
import { keysIn } from '../ledger/layout.js';
import type { Decision, ResponsePlan } from '../policy/types.js';
import type { EvidenceStore, FindingReader } from '../ports.js';
import type { FindingAudit } from '../record/audit-log.js';
import { readLatestReport, type Idempotency } from '../record/idempotency.js';
import { approvalMarkOf, MARK_KEYS } from '../record/marks.js';
import { readReport } from '../record/report-object.js';
import { readRecord, storeKeys } from '../ledger/json.js';
import { classifyError } from '../common/errors.js';
import { decideUnderClaim } from './approval.js';
import { isPendingApproval, type PendingApproval } from './approval-record.js';
import type { RespondContext } from './context.js';
import type { ApprovalSection, TriageReport } from './report.js';

const PENDING_SUFFIX = '/pending-approval.json';
/** Records read at once: the store is read a few objects at a time, never all at once. */
const READ_CONCURRENCY = 4;

export type ApprovalState = 'pending' | 'expired-unclosed' | 'closed';

/** One pending record as listed: what it waits for and where it stands. */
export interface ApprovalRow {
  findingName: string;
  runId: string;
  rule: string;
  pod: { namespace: string; name: string; uid: string };
  actions: string[];
  createdAt: string;
  expiresAt: string;
  status: ApprovalState;
  /** closed: how (the decision report's approval.status). */
  closedAs?: ApprovalSection['status'] | 'decided';
  /** The finding's folder in the store. */
  folder: string;
}

export interface ApprovalListing {
  rows: ApprovalRow[];
  /** Keys of pending-approval objects that are not a readable record (reported, never guessed at). */
  unreadable: string[];
}

async function rowOf(store: EvidenceStore, key: string, now: Date, signal?: AbortSignal): Promise<ApprovalRow | null> {
  const record = await readRecord(store, key, isPendingApproval, signal);
  if (record === null) return null;
  const folder = key.slice(0, -PENDING_SUFFIX.length);
  const decided = (await readReport(store, keysIn(folder).approvalFolder, signal)) as Partial<TriageReport> | null;
  const expired = now.getTime() >= Date.parse(record.expiresAt);
  return {
    findingName: record.findingName, runId: record.runId, rule: record.rule, pod: { namespace: record.pod.namespace, name: record.pod.name, uid: record.pod.uid },
    actions: record.actions.map((a) => a.type), createdAt: record.createdAt, expiresAt: record.expiresAt, folder,
    ...(decided !== null ? { status: 'closed' as const, closedAs: decided.approval?.status ?? 'decided' } : { status: expired ? ('expired-unclosed' as const) : ('pending' as const) }),
  };
}

/**
 * Every pending-approval record of the store, newest first. The store is walked a page of
 * keys at a time (storeKeys: EvidenceStore.listPages where the backend has it) and a few
 * records are read at once; only the records' summaries are kept.
 */
export async function listApprovals(store: EvidenceStore, now: Date, signal?: AbortSignal): Promise<ApprovalListing> {
  const rows: ApprovalRow[] = [];
  const unreadable: string[] = [];
  const reading = new Set<Promise<void>>();
  // The first failed read ends the listing (a store that cannot be read is an error, not a row).
  let failure: { error: unknown } | undefined;
  for await (const key of storeKeys(store, '', signal)) {
    if (failure) break;
    if (!key.endsWith(PENDING_SUFFIX)) continue;
    const p: Promise<void> = rowOf(store, key, now, signal)
      .then((row) => void (row ? rows.push(row) : unreadable.push(key)), (error: unknown) => void (failure ??= { error }))
      .finally(() => reading.delete(p));
    reading.add(p);
    if (reading.size >= READ_CONCURRENCY) await Promise.race(reading);
  }
  await Promise.all(reading);
  if (failure) throw failure.error;
  rows.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.findingName.localeCompare(b.findingName));
  return { rows, unreadable: unreadable.sort() };
}

/** What the sweep did with one expired-unclosed record. */
export interface SweepOutcome {
  findingName: string;
  runId: string;
  result: 'closed' | 'skipped' | 'failed';
  detail: string;
  /** closed: the decision's report object. */
  report?: string;
}

export interface SweepDeps {
  store: EvidenceStore;
  /** SCC's copy of findings; absent: the record is closed unconfirmed (and the report says so). */
  reader?: FindingReader;
  idem: Idempotency;
  /** The respond context of one finding's closing (adapters, settings, clock), with its audit. */
  context(incident: Incident, confirmation: { confirmed: boolean; notes: string[] }): RespondContext;
  audit(findingName: string, incident?: Incident): FindingAudit;
}

/** Why SCC's copy leaves the record to the function, or null when it still waits for this run. */
export function sccLeavesItToTheFunction(marks: Record<string, string> | undefined, runId: string): string | null {
  const get = (key: string): string | undefined => Object.entries(marks ?? {}).find(([k]) => k.toLowerCase() === key)?.[1]?.trim().toLowerCase();
  const state = get(MARK_KEYS.state);
  if (state !== 'awaiting-approval') return `SCC's copy says ${MARK_KEYS.state}=${state ?? '(none)'}, not awaiting-approval: left to the function`;
  const run = get(MARK_KEYS.run);
  if (run !== runId.toLowerCase()) return `SCC's copy awaits run ${run ?? '(none)'}, not ${runId}: left to the function`;
  const mark = approvalMarkOf(marks);
  if (mark !== undefined) return `SCC's copy carries a decision mark (${'verb' in mark ? `${mark.verb}:${mark.runId}` : 'invalid'}): the function decides it`;
  return null;
}

type Confirmed = { incident: Incident; confirmation: { confirmed: boolean; notes: string[] } } | { skip: string } | { fail: string };

/** SCC's copy, when SCC access is configured: it must still await this run, with no decision on it. */
async function confirmWithScc(reader: FindingReader | undefined, stored: Incident, runId: string): Promise<Confirmed> {
  if (!reader) return { incident: stored, confirmation: { confirmed: false, notes: ['not confirmed with SCC: no SCC access is configured, the stored finding was closed'] } };
  let copy;
  try {
    copy = await reader.getFinding(stored.findingName);
  } catch (err) {
    return { fail: `SCC could not be read: ${classifyError(err).reason}` };
  }
  if (copy === null) return { skip: `SCC has no finding named ${stored.findingName}: left alone` };
  const parsed = toIncident(copy.notification);
  if (!parsed.ok) return { fail: `SCC's copy of the finding cannot be read: ${parsed.error.message}` };
  const leave = sccLeavesItToTheFunction(parsed.incident.securityMarks, runId);
  if (leave !== null) return { skip: leave };
  return { incident: parsed.incident, confirmation: { confirmed: true, notes: [] } };
}

/** The first delivery's finding and plan, from its newest stored report in the folder. */
async function storedPlan(store: EvidenceStore, folder: string, record: PendingApproval): Promise<{ incident: Incident; plan: ResponsePlan } | string> {
  const latest = await readLatestReport(store, folder);
  const report = latest?.report as Partial<TriageReport> | undefined;
  const decision = report?.decision as Decision | undefined;
  if (!report?.incident || report.incident.findingName !== record.findingName || !decision?.matched) return `no stored report of ${record.findingName} with its plan in ${folder}: not closed`;
  return { incident: report.incident, plan: decision };
}

/** Closes one expired-unclosed record (see the top of this file), or says why not. */
export async function expireOne(row: ApprovalRow, deps: SweepDeps): Promise<SweepOutcome> {
  const base = { findingName: row.findingName, runId: row.runId };
  const key = `${row.folder}${PENDING_SUFFIX}`;
  try {
    const record = await readRecord(deps.store, key, isPendingApproval);
    if (record === null) return { ...base, result: 'failed', detail: `the pending record ${key} is no longer readable` };
    const stored = await storedPlan(deps.store, row.folder, record);
    if (typeof stored === 'string') return { ...base, result: 'failed', detail: stored };
    const confirmed = await confirmWithScc(deps.reader, stored.incident, record.runId);
    if ('skip' in confirmed || 'fail' in confirmed) {
      const detail = 'skip' in confirmed ? confirmed.skip : confirmed.fail;
      deps.audit(row.findingName, stored.incident).summary({ verdict: 'skipped', action: 'none', outcome: 'completed', severity: 'fail' in confirmed ? 'WARNING' : 'INFO', details: { reason: detail, pendingRun: record.runId, closedBy: 'sweep' } }, `expiry sweep: not closed: ${detail}`);
      return { ...base, result: 'skip' in confirmed ? 'skipped' : 'failed', detail };
    }
    const ctx = deps.context(confirmed.incident, confirmed.confirmation);
    const run = await decideUnderClaim({ incident: confirmed.incident, plan: stored.plan, record, decided: 'expired', by: 'sweep', folder: keysIn(row.folder).approvalFolder, idem: deps.idem, ctx });
    if (run.status === 'already-completed') return { ...base, result: 'skipped', detail: 'already closed by an earlier decision (its report exists)' };
    if (run.status === 'in-progress') return { ...base, result: 'skipped', detail: `an approval decision holds the claim (run ${run.holder.runId}, generation ${run.holder.generation}, until ${run.holder.expiresAt}): left to it` };
    if (run.report.outcome.retry) return { ...base, result: 'failed', detail: `not closed, the claim is released for the next sweep: ${run.report.outcome.summary}` };
    return { ...base, result: 'closed', detail: run.report.outcome.summary, ...(run.stored ? { report: run.stored.json } : {}) };
  } catch (err) {
    return { ...base, result: 'failed', detail: err instanceof Error ? err.message : String(err) };
  }
}
