// The TriageReport: the single record of one finding's response. Every side effect (evidence,
// containment, audit entries, marks, published result) is derived from the steps recorded
// here, and the report itself is stored beside the evidence and published (redacted).
import type { ActionOutcome } from '../contain/types.js';
import type { PlaybookArtefacts } from '../enrich/playbook.js';
import type { EnrichmentData } from '../enrich/types.js';
import type { EvidenceResult } from '../evidence/types.js';
import type { Envelope } from '../finding/decode.js';
import type { Incident } from '../finding/types.js';
import type { Decision } from '../policy/types.js';
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
}
