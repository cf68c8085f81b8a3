// Every step of the pipeline returns a StepResult that is appended to the TriageReport and
// logged as one audit entry. runStep() gives each step the same timeout, timing and error
// classification, so no step repeats that boilerplate.
import { classifyError, type FailureKind } from './errors.js';
import { withTimeout } from './time.js';

export type StepStatus = 'ok' | 'skipped' | 'failed';

export interface StepResult<D = unknown> {
  /** Dotted step name: `locate`, `enrich.pod`, `snapshot`, `contain.deletePod`, `record.marks`, ... */
  name: string;
  status: StepStatus;
  /** Why it was skipped or failed, in words a reviewer understands (and for ok, optional detail). */
  reason?: string;
  /** For failed steps: transient (worth a retry) or permanent. */
  failure?: FailureKind;
  /** HTTP status, gRPC status name or errno of the failure, when known. */
  code?: number | string;
  startedAt: string;
  durationMs: number;
  /**
   * Set by a stage whose work is best effort (logs, events, node): its transient failure is
   * recorded but does not ask for a redelivery of the whole finding.
   */
  bestEffort?: boolean;
  data?: D;
}

/** Returned by a step body to say "not done, and why" without it being a failure. */
export class Skip {
  constructor(readonly reason: string, readonly data?: unknown) {}
}

/**
 * Thrown from below a step to say it does not apply here (not a failure): e.g. the kubeconfig
 * context is not provably the finding's cluster. runStep() records the step as skipped.
 */
export class StepNotApplicable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StepNotApplicable';
  }
}

export function skipped(name: string, reason: string, data?: unknown): StepResult {
  return { name, status: 'skipped', reason, startedAt: new Date().toISOString(), durationMs: 0, ...(data === undefined ? {} : { data }) };
}

export interface StepOptions {
  timeoutMs: number;
  /** Outer cancellation (the whole finding's deadline). */
  signal?: AbortSignal;
}

/**
 * Runs one step with a timeout. The body receives an AbortSignal that fires on timeout; a
 * body that ignores it is still abandoned (its result discarded) when the timeout passes.
 */
export async function runStep<D>(
  name: string,
  body: (signal: AbortSignal) => Promise<D | Skip>,
  options: StepOptions,
): Promise<StepResult<D>> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  try {
    const value = await withTimeout(`step ${name}`, options.timeoutMs, options.signal, body);
    const durationMs = Date.now() - started;
    if (value instanceof Skip) {
      return { name, status: 'skipped', reason: value.reason, startedAt, durationMs, ...(value.data === undefined ? {} : { data: value.data as D }) };
    }
    return { name, status: 'ok', startedAt, durationMs, data: value };
  } catch (err) {
    if (err instanceof StepNotApplicable) return { name, status: 'skipped', reason: err.message, startedAt, durationMs: Date.now() - started };
    const c = classifyError(err);
    return {
      name,
      status: 'failed',
      reason: c.reason,
      failure: c.kind,
      ...(c.code === undefined ? {} : { code: c.code }),
      startedAt,
      durationMs: Date.now() - started,
    };
  }
}
