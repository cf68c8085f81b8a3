// What respond() is given: the adapters (ports), the policy's settings and the per-finding
// context. Its own module so the stages can share these types without importing the pipeline.
import type { ActionLimiter } from '../contain/limiter.js';
import type { CollectorInfo, SnapshotPolicy } from '../evidence/types.js';
import type { Envelope } from '../finding/decode.js';
import type { ClusterDirectory, EvidenceStore, FindingMarks, FindingReader, LogSearch, MarkAuthorLookup, NotifySecrets, ResultPublisher, WebhookPoster } from '../ports.js';
import type { ConfirmationNote } from './confirm.js';
import type { ResultSummaryOptions } from './result-summary.js';
import type { FindingAudit } from '../record/audit-log.js';
import type { ClaimView } from '../record/idempotency.js';

export interface PipelineAdapters {
  directory?: ClusterDirectory;
  /** Why there is no directory (shown as the reason the cluster steps are skipped). */
  noClusterAccessReason?: string;
  logs?: LogSearch;
  /** Approval mode: who set the approval mark (Cloud Audit Logs); never rejects. */
  markAuthors?: MarkAuthorLookup;
  evidence?: EvidenceStore;
  marks?: FindingMarks;
  publisher?: ResultPublisher;
  limiter?: ActionLimiter;
  /** SCC's copy of findings, for confirmation before any cluster call (shared/respond/confirm.ts). */
  findings?: FindingReader;
  /** Notifications: where secrets come from, the sender, and a loopback PagerDuty endpoint for tests. */
  notify?: { secrets: NotifySecrets; poster: WebhookPoster; pagerDutyUrl?: string };
}

/** Settings that come from the policy file (with its defaults). */
export interface PipelineSettings {
  snapshot: SnapshotPolicy;
  enrich: { callTimeoutMs: number; logWindowMinutes: number; maxLogEntries: number; maxLogBytes: number };
  protectedNamespaces: readonly string[];
  /** Timeout for each record step (marks, publish, report object). */
  recordTimeoutMs: number;
  /** What the results topic carries (policy `results`; default: a summary without arguments). */
  results?: ResultSummaryOptions;
}

export interface RespondContext {
  adapters: PipelineAdapters;
  audit: FindingAudit;
  settings: PipelineSettings;
  collector: CollectorInfo;
  version: string;
  envelope?: Envelope;
  /** CLI `--dry-run`: run every action in dry-run whatever the rule says. */
  forceDryRun?: boolean;
  now?: () => Date;
  /** The whole finding's deadline (SCC_RESPONDER_DEADLINE_SECONDS): every step and call is linked to it. */
  signal?: AbortSignal;
  /**
   * Waits until this run may take effects (cluster writes, marks, publishing); throws when
   * another delivery owns the finding. Reads and create-only evidence happen before it, so the
   * duplicate check costs no time on the critical path (shared/record/idempotency.ts).
   */
  admit?: () => Promise<void>;
  /**
   * Whether this delivery is the finding's first (it created claim-0): then no earlier attempt
   * recorded effects, and the pipeline does not list them. Absent: look as before.
   */
  claim?: ClaimView;
  /** What SCC said about the finding (handle.ts confirms before respond() runs); shown in the report and the marks. */
  confirmation?: ConfirmationNote;
}

/** `{ signal }` when there is one: spread into step and call options. */
export function signalOf(ctx: Pick<RespondContext, 'signal'>): { signal?: AbortSignal } {
  return ctx.signal ? { signal: ctx.signal } : {};
}
