// The TriageReport: the single record of one finding's response. Every side effect (evidence,
// containment, audit entries, marks, published result) is derived from the steps recorded
// here, and the report itself is stored beside the evidence and published (redacted).
import type { ActionOutcome } from '../contain/types.js';
import type { PlaybookArtefacts } from '../enrich/playbook.js';
import type { EnrichmentData } from '../enrich/types.js';
import type { EvidenceResult } from '../evidence/types.js';
import type { Envelope } from '../finding/decode.js';
import type { Incident } from '../finding/types.js';
import type { Decision, PlannedAction } from '../policy/types.js';
import type { EffectRecord } from './prior-effects.js';
import type { StepResult } from '../common/step.js';
import type { ConfirmationNote } from './confirm.js';

export const REPORT_SCHEMA_VERSION = 1;

/**
 * handled: every planned step ran (ok or deliberately skipped);
 * partial: some steps failed permanently, the rest ran (acked, ERROR entries explain);
 * retry:   a transient failure left work undone: the function throws so Pub/Sub redelivers;
 * failed:  nothing useful could be done (permanent);
 * ignored: no policy rule covers the finding (nothing was run; CLI reports only).
 */
export type Verdict = 'handled' | 'partial' | 'retry' | 'failed' | 'ignored';

export interface ReportOutcome {
  verdict: Verdict;
  /** Marks vocabulary: `would-delete`, `deleted`, `none`, ... (comma-separated per action). */
  action: string;
  /** Whether the message must be redelivered (the function throws). */
  retry: boolean;
  /** One line for a human. */
  summary: string;
  failedSteps: string[];
}

/**
 * approve mode: the pending actions and their decision. On the run that recorded them
 * (status pending) and on the run that decided (approved, denied, expired, refused).
 */
export interface ApprovalSection {
  status: 'pending' | 'approved' | 'denied' | 'expired' | 'refused';
  /** The run that recorded the pending actions: the approval mark must name it. */
  pendingRunId: string;
  /** The actions waiting (or, once approved, executed) in execution order, with their parameters. */
  actions: PlannedAction[];
  /** The pod the approval covers, as read when the actions were recorded. */
  pod?: { uid: string; namespace: string; name: string };
  createdAt?: string;
  expiresAt: string;
  /** The exact commands that approve or deny (gcloud scc findings update-marks ...). */
  commands?: { approve: string; deny: string };
  /** Where the pending record is stored. */
  record?: string;
  /** Why it was refused, denied or expired, in one line. */
  reason?: string;
  /**
   * Who set the approval mark. `principal` is filled when the Cloud Audit Logs lookup
   * (shared/gcp findMarkAuthor, wired by the composition root) finds the UpdateSecurityMarks
   * call; until then `lookup` says where the audit log holds it.
   */
  approvedBy?: { principal?: string; lookup: string };
}

export interface TriageReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  responder: { name: string; version: string };
  /** Id of this attempt (a redelivery gets a new one). */
  runId: string;
  findingName: string;
  receivedAt: string;
  completedAt: string;
  envelope?: Envelope;
  /** Whether SCC's copy confirmed the message (absent: the caller did not confirm). */
  confirmation?: ConfirmationNote;
  incident: Incident;
  decision: Decision;
  playbook: PlaybookArtefacts;
  enrichment?: EnrichmentData;
  evidence?: EvidenceResult;
  actions: ActionOutcome[];
  /** Cluster changes made by earlier attempts at this finding (a redelivery after a transient failure). */
  priorEffects?: EffectRecord[];
  steps: StepResult[];
  outcome: ReportOutcome;
  /** approve mode: what waits for a person, or what a person decided. */
  approval?: ApprovalSection;
}
