// The audit trail: one structured Cloud Logging entry per event of a finding's handling,
// correlated by `logging.googleapis.com/operation` (id = finding name, first/last flags) and
// labelled for log-based metrics. pino writes, with options that give Cloud Logging's
// structured fields; every entry passes one function (`emit`) that scrubs the message and
// every field (scrub.ts). The logger is built on the first entry actually written.
import { randomUUID } from 'node:crypto';
import { writeSync } from 'node:fs';
import { pino } from 'pino';
import type { DestinationStream, Logger, LoggerOptions } from 'pino';
import type { StepResult } from '../common/step.js';
import { fdLineSink } from './fd-line-sink.js';
import { createScrubber, type Scrubber } from './scrub.js';

import { RESPONDER_NAME } from '../common/product.js';

export const OPERATION_KEY = 'logging.googleapis.com/operation';
export const LABELS_KEY = 'logging.googleapis.com/labels';

export type AuditSeverity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

/**
 * Labels for log-based metrics (string values only; Cloud Logging labels are strings).
 * Each entry carries the labels known so far; the summary carries the complete set.
 */
export interface AuditLabels {
  cluster?: string;
  namespace?: string;
  pod?: string;
  /** What was done: the marks vocabulary (`would-delete`, `deleted`, `none`, ...). */
  action?: string;
  rule?: string;
  verdict?: string;
  category?: string;
  /** `dry-run` | `enforce`. */
  mode?: string;
  project?: string;
}
const LABEL_KEYS: readonly (keyof AuditLabels)[] = ['cluster', 'namespace', 'pod', 'action', 'rule', 'verdict', 'category', 'mode', 'project'];
const MAX_LABEL_VALUE = 256;

export interface AuditLogOptions {
  /** Where lines go (default: stdout, which Cloud Functions forwards to Cloud Logging). */
  destination?: DestinationStream;
  /** pino level name: trace, debug, info, notice, warn, error, fatal (default info). */
  level?: string;
  serviceVersion: string;
  serviceName?: string;
  /**
   * Project for `logging.googleapis.com/trace`. Given (or '' for none) so that the GCP
   * config never asks the metadata server for it.
   */
  projectId?: string;
  /** Base redactor; per-finding secrets are added with `forFinding(..., { secrets })`. */
  scrubber?: Scrubber;
  /** Step data larger than this (serialised) is replaced by a preview (default 64 KiB). */
  maxDataBytes?: number;
}

export interface ReceivedEntry {
  category?: string;
  severity?: string;
  eventTime?: string;
  apiVersion?: string;
  messageId?: string;
  publishTime?: string;
  deliveryAttempt?: number;
  [field: string]: unknown;
}

export interface DecisionEntry {
  /** Whether a policy rule matched. */
  matched: boolean;
  rule?: string;
  /** Planned action(s), e.g. `delete-pod`; labels use `labels.action` for what was done. */
  actions?: string[];
  mode?: string;
  reason?: string;
  [field: string]: unknown;
}

/** What the caller knows at the end; only `verdict` and `action` are required. */
export interface AuditSummary {
  /** Short word for the result, e.g. `handled`, `dry-run`, `no-rule`, `failed`, `retry`, `duplicate`. */
  verdict: string;
  /** What was done (marks vocabulary): `would-delete`, `deleted`, `quarantined`, `none`, ... */
  action: string;
  /**
   * `completed`: acked after the work; `retry`: a transient failure, the function throws so
   * Pub/Sub redelivers; `failed`: a permanent failure, acked with this ERROR entry.
   */
  outcome?: 'completed' | 'retry' | 'failed';
  rule?: string;
  mode?: string;
  /** Step name -> duration in ms. */
  durations?: Record<string, number>;
  totalMs?: number;
  counts?: StepCounts;
  evidenceUri?: string;
  hashVerdict?: string;
  guards?: unknown;
  /** Free-form extra fields (scrubbed like everything else). */
  details?: Record<string, unknown>;
  /** Overrides the severity derived from outcome/counts/action. */
  severity?: AuditSeverity;
}

export interface StepCounts {
  ok: number;
  skipped: number;
  failed: number;
  transient: number;
  permanent: number;
}

export interface FindingAudit {
  readonly operationId: string;
  /** Id of this attempt (a redelivery gets a new one); also written into every entry as `run`. */
  readonly runId: string;
  /** Adds or replaces labels for this and every later entry. */
  setLabels(labels: AuditLabels): void;
  /** The message was decoded and is ours: INFO, `first: true`. */
  received(entry: ReceivedEntry, message?: string): void;
  /** One entry per step: ok/skipped INFO, failed transient WARNING, failed permanent ERROR. */
  step(result: StepResult): void;
  /** The policy decision and its rule: NOTICE when a rule matched, INFO otherwise. */
  decision(entry: DecisionEntry, message?: string): void;
  warning(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  /** The last entry: `last: true`, complete labels (action, verdict, rule, mode). */
  summary(summary: AuditSummary, message?: string): void;
}

export interface EventOptions {
  severity?: AuditSeverity;
  /** Correlate with an operation (e.g. the Pub/Sub message id for a rejected message). */
  operationId?: string;
  labels?: AuditLabels;
}

export interface AuditLog {
  forFinding(findingName: string, labels?: AuditLabels, options?: { secrets?: Iterable<string>; runId?: string }): FindingAudit;
  /** A standalone entry (message rejected, not ours, start-up). With an operationId it is a one-entry operation (first and last). */
  event(message: string, fields?: Record<string, unknown>, options?: EventOptions): void;
  /** Whether entries of this severity are written at the configured level. */
  enabled(severity: AuditSeverity): boolean;
  flush(): Promise<void>;
}

// pino has no NOTICE; a custom level between info (30) and warn (40) gives Cloud Logging's.
const PINO_LEVEL: Record<AuditSeverity, { name: string; value: number }> = {
  DEBUG: { name: 'debug', value: 20 },
  INFO: { name: 'info', value: 30 },
  NOTICE: { name: 'notice', value: 35 },
  WARNING: { name: 'warn', value: 40 },
  ERROR: { name: 'error', value: 50 },
  CRITICAL: { name: 'fatal', value: 60 },
};
const LEVEL_VALUES: Record<string, number> = { trace: 10, debug: 20, info: 30, notice: 35, warn: 40, error: 50, fatal: 60, silent: Infinity };

// Keys the GCP formatter or Cloud Logging treat specially: caller fields never overwrite them.
const RESERVED = new Set([
  'severity', 'message', 'msg', 'level', 'time', 'timestamp', 'serviceContext', 'stack_trace', 'err',
  'trace_id', 'span_id', 'trace_flags', 'httpRequest', OPERATION_KEY, LABELS_KEY,
  'logging.googleapis.com/insertId', 'logging.googleapis.com/trace', 'logging.googleapis.com/spanId',
  'logging.googleapis.com/sourceLocation', 'logging.googleapis.com/trace_sampled', 'run',
]);

/** pino level label -> Cloud Logging severity. */
const SEVERITY_OF: Record<string, string> = {
  trace: 'DEBUG', debug: 'DEBUG', info: 'INFO', notice: 'NOTICE', warn: 'WARNING', error: 'ERROR', fatal: 'CRITICAL',
};


export function cleanLabels(labels: AuditLabels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of LABEL_KEYS) {
    const v = labels[key];
    if (typeof v === 'string' && v.length > 0) out[key] = v.length > MAX_LABEL_VALUE ? v.slice(0, MAX_LABEL_VALUE) : v;
  }
  return out;
}

/** Counts and per-step durations of a list of step results (for the summary). */
export function summarizeSteps(steps: readonly StepResult[]): { counts: StepCounts; durations: Record<string, number>; totalMs: number } {
  const counts: StepCounts = { ok: 0, skipped: 0, failed: 0, transient: 0, permanent: 0 };
  const durations: Record<string, number> = {};
  let totalMs = 0;
  for (const s of steps) {
    counts[s.status] += 1;
    if (s.status === 'failed') counts[s.failure === 'transient' ? 'transient' : 'permanent'] += 1;
    durations[s.name] = (durations[s.name] ?? 0) + s.durationMs;
    totalMs += s.durationMs;
  }
  return { counts, durations, totalMs };
}

export function stepSeverity(result: Pick<StepResult, 'status' | 'failure'>): AuditSeverity {
  if (result.status !== 'failed') return 'INFO';
  return result.failure === 'transient' ? 'WARNING' : 'ERROR';
}

/** Actions that changed something in the cluster: worth NOTICE in the summary. */
const EFFECTFUL = /^(deleted|quarantined|cordoned|labelled|isolated|killed)/;

export function summarySeverity(s: AuditSummary): AuditSeverity {
  if (s.severity) return s.severity;
  if (s.outcome === 'failed') return 'ERROR';
  if (s.outcome === 'retry') return 'WARNING';
  if (s.counts && s.counts.permanent > 0) return 'ERROR';
  if (s.counts && s.counts.failed > 0) return 'WARNING';
  if (EFFECTFUL.test(s.action)) return 'NOTICE';
  return 'INFO';
}

// Cloud Logging refuses entries over 256 KB (a finding's 900 KB category once made a 1.8 MB
// line): every string is cut at MAX_LOGGED_STRING, every list at MAX_LOGGED_ITEMS, and when
// the fields together still exceed MAX_ENTRY_FIELDS_BYTES the largest are replaced by a
// preview, so an entry (with message, labels and operation) stays well under the limit.
export const MAX_LOGGED_STRING = 8 * 1024;
const MAX_LOGGED_ITEMS = 200;
export const MAX_ENTRY_FIELDS_BYTES = 128 * 1024;

export function boundString(s: string, max = MAX_LOGGED_STRING): string {
  return s.length <= max ? s : `${s.slice(0, max)}...[truncated ${s.length - max} characters]`;
}

/** Deep copy with every string and list bounded (the input is plain, scrubbed JSON data). */
export function boundValue(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return boundString(v);
  if (typeof v !== 'object' || v === null || depth > 32) return v;
  if (Array.isArray(v)) {
    const items = v.slice(0, MAX_LOGGED_ITEMS).map((x) => boundValue(x, depth + 1));
    if (v.length > MAX_LOGGED_ITEMS) items.push(`[${v.length - MAX_LOGGED_ITEMS} more items]`);
    return items;
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[boundString(k, 256)] = boundValue(x, depth + 1);
  return out;
}

/** Replaces the largest fields by a preview until the fields fit MAX_ENTRY_FIELDS_BYTES. */
export function boundEntry(fields: Record<string, unknown>): Record<string, unknown> {
  const size = (x: unknown): number => Buffer.byteLength(JSON.stringify(x) ?? '');
  if (size(fields) <= MAX_ENTRY_FIELDS_BYTES) return fields;
  const out = { ...fields };
  const bySize = Object.keys(out).map((k) => [k, size(out[k])] as const).sort((a, b) => b[1] - a[1]);
  for (const [k, bytes] of bySize) {
    out[k] = { truncated: true, bytes, preview: (JSON.stringify(out[k]) ?? '').slice(0, 2048) };
    if (size(out) <= MAX_ENTRY_FIELDS_BYTES) break;
  }
  return out;
}

interface Operation {
  id: string;
  first?: boolean;
  last?: boolean;
}

/** Says once on stderr that stdout no longer takes lines (its reader is gone), with the reason. */
function reportLostOnce(): (err: NodeJS.ErrnoException) => void {
  let said = false;
  return (err) => {
    if (said) return;
    said = true;
    try {
      writeSync(2, `${RESPONDER_NAME}: audit lines cannot be written to stdout (${err.code ?? err.message}); later ones are lost too\n`);
    } catch {
      // stderr is gone as well: nothing is left to tell.
    }
  };
}

/** Writes scrubbed, bounded entries through one pino logger, built on the first entry written. */
class AuditWriter {
  private logger: Logger<'notice'> | undefined;
  readonly baseScrubber: Scrubber;

  constructor(
    private readonly options: AuditLogOptions,
    private readonly levelName: string,
    private readonly threshold: number,
  ) {
    this.baseScrubber = options.scrubber ?? createScrubber();
  }

  // pino's own options give the Cloud Logging structured shape (`severity`, `message`, RFC 3339
  // `timestamp`, serviceContext; operation and labels are added per entry). Google's
  // @google-cloud/pino-logging-gcp-config gives the same fields but requires
  // @google-cloud/logging and google-gax at load (~470 ms of CPU), which every cold instance
  // would pay before its first pod read: seconds of attacker time on a 1 vCPU function.
  private build(): Logger<'notice'> {
    const config: LoggerOptions<'notice'> = {
      level: this.levelName,
      base: { serviceContext: { service: this.options.serviceName ?? RESPONDER_NAME, version: this.options.serviceVersion } },
      customLevels: { notice: 35 },
      messageKey: 'message',
      timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
      formatters: {
        level: (label: string, value: number) => ({ severity: SEVERITY_OF[label] ?? 'DEFAULT', level: value }),
      },
    };
    return pino<'notice'>(config, this.options.destination ?? fdLineSink(1, { onLost: reportLostOnce() }));
  }

  enabled(severity: AuditSeverity): boolean {
    return PINO_LEVEL[severity].value >= this.threshold;
  }

  emit(severity: AuditSeverity, message: string, scrub: Scrubber, fields: Record<string, unknown>, operation?: Operation, labels?: Record<string, string>, run?: string): void {
    if (!this.enabled(severity)) return;
    const target = (this.logger ??= this.build());
    const entry: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      entry[RESERVED.has(k) ? `field_${k}` : k] = v;
    }
    const scrubbed = boundEntry(boundValue(scrub.value(entry)) as Record<string, unknown>);
    if (run !== undefined) scrubbed['run'] = run;
    if (operation) {
      const op: Record<string, unknown> = { id: boundString(scrub.text(operation.id)), producer: RESPONDER_NAME };
      if (operation.first) op['first'] = true;
      if (operation.last) op['last'] = true;
      scrubbed[OPERATION_KEY] = op;
    }
    if (labels && Object.keys(labels).length > 0) scrubbed[LABELS_KEY] = scrub.value(labels);
    const method = target[PINO_LEVEL[severity].name as 'info'];
    method.call(target, scrubbed, boundString(scrub.text(message)));
  }

  /** Step data, scrubbed; larger than maxDataBytes serialised, a preview instead. */
  boundData(data: unknown, scrub: Scrubber): unknown {
    if (data === undefined) return undefined;
    const clean = scrub.value(data);
    let text: string;
    try {
      text = JSON.stringify(clean) ?? '';
    } catch {
      return '[unserialisable]';
    }
    const max = this.options.maxDataBytes ?? 64 * 1024;
    if (Buffer.byteLength(text) <= max) return clean;
    return { truncated: true, bytes: Buffer.byteLength(text), preview: text.slice(0, 2048) };
  }

  flush(): Promise<void> {
    const l = this.logger;
    if (!l) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // A destination without flush support (a plain Writable) makes pino throw or call back
      // with an error; either way there is nothing buffered in pino itself.
      try {
        l.flush(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

/** One finding's operation: `first` on its first written entry, `last` on the summary, its labels on all. */
class FindingAuditLog implements FindingAudit {
  private labels: AuditLabels;
  private written = 0;

  constructor(
    private readonly w: AuditWriter,
    readonly operationId: string,
    readonly runId: string,
    private readonly scrub: Scrubber,
    labels: AuditLabels,
  ) {
    this.labels = { ...labels };
  }

  private write(severity: AuditSeverity, message: string, fields: Record<string, unknown>, last = false): void {
    if (!this.w.enabled(severity)) return;
    // `first` goes on the first entry actually written, whichever it is.
    const first = this.written === 0;
    this.written += 1;
    this.w.emit(severity, message, this.scrub, fields, { id: this.operationId, first, last }, cleanLabels(this.labels), this.runId);
  }

  setLabels(more: AuditLabels): void {
    this.labels = { ...this.labels, ...more };
  }

  received(entry: ReceivedEntry, message?: string): void {
    this.write('INFO', message ?? `finding received: ${entry.category ?? 'unknown category'}`, { received: entry });
  }

  step(result: StepResult): void {
    const { data, ...step } = result;
    const detail = result.reason ? `: ${result.reason}` : '';
    const kind = result.status === 'failed' && result.failure ? ` (${result.failure})` : '';
    this.write(stepSeverity(result), `step ${result.name} ${result.status}${kind}${detail}`, { step, data: this.w.boundData(data, this.scrub) });
  }

  decision(entry: DecisionEntry, message?: string): void {
    if (entry.rule !== undefined) this.labels = { ...this.labels, rule: entry.rule };
    if (entry.mode !== undefined) this.labels = { ...this.labels, mode: entry.mode };
    const text = message ?? (entry.matched ? `policy: rule ${entry.rule ?? '?'} matched (${entry.mode ?? 'mode unknown'})` : `policy: no rule matched${entry.reason ? `: ${entry.reason}` : ''}`);
    this.write(entry.matched ? 'NOTICE' : 'INFO', text, { decision: entry });
  }

  warning(message: string, fields: Record<string, unknown> = {}): void {
    this.write('WARNING', message, fields);
  }

  error(message: string, fields: Record<string, unknown> = {}): void {
    this.write('ERROR', message, fields);
  }

  info(message: string, fields: Record<string, unknown> = {}): void {
    this.write('INFO', message, fields);
  }

  summary(summary: AuditSummary, message?: string): void {
    this.labels = {
      ...this.labels,
      action: summary.action,
      verdict: summary.verdict,
      ...(summary.rule === undefined ? {} : { rule: summary.rule }),
      ...(summary.mode === undefined ? {} : { mode: summary.mode }),
    };
    const { severity: _override, ...body } = summary;
    const text = message ?? `finding ${summary.verdict}: action ${summary.action}${summary.outcome ? ` (${summary.outcome})` : ''}`;
    this.write(summarySeverity(summary), text, { summary: body }, true);
  }
}

export function createAuditLog(options: AuditLogOptions): AuditLog {
  const levelName = options.level ?? 'info';
  const threshold = LEVEL_VALUES[levelName];
  if (threshold === undefined) throw new Error(`audit log: unknown level "${levelName}" (use one of ${Object.keys(LEVEL_VALUES).join(', ')})`);
  const w = new AuditWriter(options, levelName, threshold);
  return {
    enabled: (severity) => w.enabled(severity),
    event(message, fields = {}, eventOptions = {}) {
      const op = eventOptions.operationId === undefined ? undefined : { id: eventOptions.operationId, first: true, last: true };
      w.emit(eventOptions.severity ?? 'INFO', message, w.baseScrubber, fields, op, eventOptions.labels ? cleanLabels(eventOptions.labels) : undefined);
    },
    flush: () => w.flush(),
    forFinding(findingName, initialLabels = {}, findingOptions = {}) {
      const scrub = findingOptions.secrets ? w.baseScrubber.with(findingOptions.secrets) : w.baseScrubber;
      return new FindingAuditLog(w, findingName, findingOptions.runId ?? randomUUID(), scrub, initialLabels);
    },
  };
}
