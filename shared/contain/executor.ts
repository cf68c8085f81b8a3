// Runs the plan's containment actions. Every action goes through the same sequence, in both
// modes, so dry-run tells the truth about enforce:
//   1. parameters   (the action's parseParams; the policy schema should have caught errors)
//   2. guards       (shared + the action's own; all evaluated, none short-circuited)
//   3. blast radius (destructive actions of a rule with maxActionsPerHour; dry-run peeks,
//                    enforce reserves a slot; only when every other guard passed)
//   4. act          (enforce only) or report the writes enforce would make (dry-run)
//
// Order: the registry's `order` per action, not the order in the policy file:
//   labelPod, annotatePod  record the finding on the pod first: harmless, and it leaves a
//                          trace even when a later action fails;
//   quarantinePod          isolate the pod while keeping it for live forensics;
//   cordonNode             stop new scheduling before any delete, so the deleted pod's
//                          replacement lands on another node;
//   deletePod              last: irreversible, and it ends any quarantine.
// Quarantine and delete in one rule make little sense (the quarantine lasts until the
// delete); both run, and the quarantine outcome carries a warning saying so.
// Actions are independent: one failing does not stop the next (each is guarded on its own).
import type { ActionType, Mode } from '../policy/types.js';
import { classifyError } from '../common/errors.js';
import { runStep, type StepResult } from '../common/step.js';
import { commonGuards, decisiveFailure, fail, pass } from './guards.js';
import { NoSharedStoreLimiter, type ActionLimiter } from './limiter.js';
import { ACTIONS } from './registry.js';
import { ParamError, WriteLog, type ActionContext, type ActionOutcome, type GuardVerdict, type PlannedWrite, type RegisteredAction } from './types.js';

export interface ExecuteDeps {
  /** Shared counter for maxActionsPerHour; absent = no shared store (limited rules degrade to dry-run). */
  limiter?: ActionLimiter;
  now?: () => Date;
}

export interface ExecuteResult {
  outcomes: ActionOutcome[];
  steps: StepResult<ActionOutcome>[];
}

const DEFAULT_ACTION_TIMEOUT_MS = 20_000;

/** The plan's actions in execution order (stable for equal order; unknown types last). */
export function orderActions<T extends { type: ActionType }>(actions: readonly T[]): T[] {
  const rank = (t: ActionType): number => (ACTIONS as Partial<Record<string, RegisteredAction>>)[t]?.order ?? Number.MAX_SAFE_INTEGER;
  return actions
    .map((a, i) => ({ a, i }))
    .sort((x, y) => rank(x.a.type) - rank(y.a.type) || x.i - y.i)
    .map(({ a }) => a);
}

/** Subject of a blast-radius slot: the same action on the same target for the same finding counts once. */
function subjectOf(ctx: ActionContext, type: ActionType): string {
  const target = type === 'cordonNode' ? `node:${ctx.node?.name ?? ctx.pod?.nodeName ?? ctx.incident.node ?? '?'}` : `pod:${ctx.pod?.uid ?? '?'}`;
  return `${ctx.incident.findingName}\n${type}\n${target}`;
}

function describeWrites(writes: PlannedWrite[]): string {
  return writes.map((w) => `${w.call} ${w.target}${w.body === undefined ? '' : ` ${JSON.stringify(w.body)}`}`).join('; ');
}

function outcomeStatusToStep(outcome: ActionOutcome): StepResult['status'] {
  if (outcome.status === 'failed') return 'failed';
  if (outcome.status === 'refused' || outcome.status === 'skipped') return 'skipped';
  return 'ok';
}

/** Per-run state: slots this dry-run would already have taken (so later peeks count them). */
interface RunState {
  pendingSlots: number;
}

async function runOne(ctx: ActionContext, type: ActionType, rawParams: Record<string, unknown>, deps: ExecuteDeps, extraWarnings: string[], state: RunState): Promise<ActionOutcome> {
  const requestedMode: Mode = ctx.mode;
  const base = { type, requestedMode };
  const action = (ACTIONS as Partial<Record<string, RegisteredAction>>)[type];
  if (action === undefined) {
    const g = fail('params', `unknown action type ${JSON.stringify(type)}: no such action is registered`);
    return { ...base, mode: 'dry-run', status: 'refused', guards: [g], detail: g.reason, writes: [], warnings: [] };
  }
  const prepared = action.prepare(rawParams);
  if (prepared instanceof ParamError) {
    const g = fail('params', prepared.reason);
    return { ...base, mode: 'dry-run', status: 'refused', guards: [g], detail: `invalid parameters: ${prepared.reason}`, writes: [], warnings: [] };
  }

  const guards: GuardVerdict[] = [
    pass('params', JSON.stringify(prepared.params) === '{}' ? 'no parameters' : `parameters ${JSON.stringify(prepared.params)}`),
    ...commonGuards(ctx, action.destructive),
    ...prepared.guards(ctx),
  ];
  const planned = prepared.plannedWrites(ctx);
  const warnings = [...extraWarnings];

  const blocking = decisiveFailure(guards);
  if (blocking !== undefined) {
    const status = blocking.effect === 'skip' ? 'skipped' : 'refused';
    return { ...base, mode: requestedMode, status, guards, detail: `${status === 'skipped' ? 'nothing to do' : 'refused'}: ${blocking.reason}`, writes: [], warnings: [] };
  }

  // Blast radius, only for destructive actions that passed every other guard (a refused
  // action must not use up the rule's budget). Same check in both modes: dry-run peeks.
  let mode: Mode = requestedMode;
  const limit = ctx.plan.maxActionsPerHour;
  if (!action.destructive) {
    guards.push(pass('blast-radius', 'metadata only: not counted'));
  } else if (limit === undefined) {
    guards.push(pass('blast-radius', `no maxActionsPerHour set for rule ${ctx.plan.rule}`));
  } else {
    const limiter = deps.limiter ?? new NoSharedStoreLimiter();
    const now = (deps.now ?? (() => new Date()))();
    const subject = subjectOf(ctx, type);
    try {
      const verdict =
        requestedMode === 'enforce'
          ? await limiter.reserve(ctx.plan.rule, limit, subject, now, ctx.signal)
          : await limiter.peek(ctx.plan.rule, limit, subject, now, ctx.signal, state.pendingSlots);
      if (verdict.allowed) {
        if (requestedMode === 'dry-run' && verdict.reused !== true) state.pendingSlots += 1;
        guards.push(pass('blast-radius', verdict.reason));
      } else {
        guards.push(fail('blast-radius', verdict.reason, 'degrade'));
        warnings.push(`${type}: ${verdict.reason}`);
        mode = 'dry-run';
      }
    } catch (err) {
      // Cannot count = cannot act: fail (transient errors make Pub/Sub retry), never act uncounted.
      const c = classifyError(err);
      guards.push(fail('blast-radius', `could not count actions in the shared store: ${c.reason}`));
      return {
        ...base, mode: requestedMode, status: 'failed', guards,
        detail: `not done: the blast-radius limit could not be checked (${c.reason})`,
        error: { kind: c.kind, ...(c.code === undefined ? {} : { code: c.code }), reason: c.reason },
        writes: [], warnings,
      };
    }
  }

  warnings.push(...prepared.warnings(ctx));
  if (mode === 'dry-run') {
    const why = requestedMode === 'enforce' ? ' (degraded from enforce by the blast-radius limit)' : '';
    return { ...base, mode, status: 'would-do', guards, detail: `would ${describeWrites(planned)}${why}`, writes: planned, warnings };
  }

  let thrown: unknown;
  const log = new WriteLog();
  const step = await runStep(
    `contain.${type}`,
    async (signal) => {
      try {
        return await prepared.act(ctx, signal, log);
      } catch (err) {
        thrown = err;
        throw err;
      }
    },
    { timeoutMs: ctx.actionTimeoutMs ?? DEFAULT_ACTION_TIMEOUT_MS, ...(ctx.signal === undefined ? {} : { signal: ctx.signal }) },
  );
  if (step.status === 'ok' && step.data !== undefined) {
    const r = step.data;
    return { ...base, mode, status: r.status, guards, detail: r.detail, ...(r.data === undefined ? {} : { data: r.data }), writes: log.writes, warnings };
  }
  // A timeout abandons the body without it throwing: runStep's classification is then all we have.
  const c = thrown === undefined ? { kind: step.failure ?? 'transient', code: step.code, reason: step.reason ?? 'unknown failure' } : classifyError(thrown);
  const error = { kind: c.kind, ...(c.code === undefined ? {} : { code: c.code }), reason: c.reason };
  const writes = log.writes.map((w) => (w.result === undefined ? { ...w, result: 'error' } : w));
  const refusal = thrown === undefined ? undefined : prepared.refusalFor(thrown);
  if (refusal !== undefined) {
    return { ...base, mode, status: 'refused', guards, detail: `refused by the API server: ${refusal}`, error, writes, warnings };
  }
  return { ...base, mode, status: 'failed', guards, detail: `failed: ${c.reason}`, error, writes, warnings };
}

/** Runs the plan's actions in order; one outcome and one `contain.<type>` step per action. */
export async function executeActions(ctx: ActionContext, deps: ExecuteDeps = {}): Promise<ExecuteResult> {
  const outcomes: ActionOutcome[] = [];
  const steps: StepResult<ActionOutcome>[] = [];
  const types = new Set(ctx.plan.actions.map((a) => a.type));
  const state: RunState = { pendingSlots: 0 };
  for (const planned of orderActions(ctx.plan.actions)) {
    const started = Date.now();
    const extra =
      planned.type === 'quarantinePod' && types.has('deletePod')
        ? ['the rule also deletes the pod: the quarantine lasts only until the delete']
        : [];
    const outcome = await runOne(ctx, planned.type, planned.params, deps, extra, state);
    outcomes.push(outcome);
    steps.push({
      name: `contain.${planned.type}`,
      status: outcomeStatusToStep(outcome),
      // The detail already says refused / nothing to do / would ...; a failure's own reason suffices.
      reason: outcome.status === 'failed' && outcome.error !== undefined ? outcome.error.reason : outcome.detail,
      ...(outcome.status === 'failed' && outcome.error !== undefined
        ? { failure: outcome.error.kind, ...(outcome.error.code === undefined ? {} : { code: outcome.error.code }) }
        : {}),
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      data: outcome,
    });
  }
  return { outcomes, steps };
}

/**
 * True when some action failed transiently (5xx, 429, timeout, store unavailable): the
 * function should throw after recording, so Pub/Sub redelivers. Every action is idempotent
 * (UID precondition, 404 = done, create-only policy, set-to-value labels, reused limiter
 * slot), so the retry redoes only what is missing.
 */
export function needsRetry(result: Pick<ExecuteResult, 'outcomes'>): boolean {
  return result.outcomes.some((o) => o.status === 'failed' && o.error?.kind === 'transient');
}
