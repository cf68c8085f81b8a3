// Runs the plan's containment actions. Every action goes through the same sequence, in both
// modes, so dry-run tells the truth about enforce (the same guards, the same planned writes):
//   1. parameters   (the catalog's schema; the policy schema should have caught errors)
//   2. guards       (shared + the action's own; all evaluated, none short-circuited)
//   3. blast radius (destructive actions: every budget of the rule, narrowest first;
//                    dry-run peeks, enforce reserves; only when every other guard passed)
//   4. writes       (enforce: sent through applyWrite) or the same writes described (dry-run)
// While the verified binary is still being committed (ActionContext.evidenceFinal), enforce
// runs 2 and 3 on the copy's verdict beside the commit, then judges 2 again on the committed
// evidence before 4 (runAhead): the writes never go out before the evidence is durable.
//
// Order: the catalog's `order` per action, not the order in the policy file:
//   labelPod, annotatePod  record the finding on the pod first: harmless, and it leaves a
//                          trace even when a later action fails;
//   quarantinePod          isolate the pod while keeping it for live forensics;
//   cordonNode             stop new scheduling before any delete, so the deleted pod's
//                          replacement lands on another node;
//   deletePod              last: irreversible, and it ends any quarantine.
// Quarantine and delete in one rule make little sense (the quarantine lasts until the
// delete); both run, and the quarantine outcome carries a warning saying so (quarantine-pod.ts).
// Actions are independent: one failing does not stop the next (each is guarded on its own).
import type { Mode } from '../policy/types.js';
import { actionEntry, ACTION_CATALOG, isActionType, type ActionType } from '../policy/actions.js';
import { classifyError } from '../common/errors.js';
import { runStep, type StepResult } from '../common/step.js';
import { commonGuards, decisiveFailure, fail, pass } from './guards.js';
import { budgetCluster, budgetsFor } from './budget-scope.js';
import { NoSharedStoreLimiter, scopeText, type ActionLimiter, type LimitScope } from './limiter.js';
import { ACTIONS } from './registry.js';
import { describeWrite } from './writes.js';
import { ParamError, WriteLog, type ActionContext, type ActionOutcome, type EvidenceStatus, type GuardVerdict, type PlannedWrite, type PreparedAction } from './types.js';

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

/** The plan's actions in execution order (the catalog's `order`; stable for equal order; unknown types last). */
export function orderActions<T extends { type: string }>(actions: readonly T[]): T[] {
  const rank = (t: string): number => actionEntry(t)?.order ?? Number.MAX_SAFE_INTEGER;
  return actions
    .map((a, i) => ({ a, i }))
    .sort((x, y) => rank(x.a.type) - rank(y.a.type) || x.i - y.i)
    .map(({ a }) => a);
}

/** Subject of a blast-radius slot: the same action on the same target for the same finding counts once. */
function subjectOf(ctx: ActionContext, type: ActionType): string {
  const target = ACTION_CATALOG[type].target === 'node' ? `node:${ctx.node?.name ?? ctx.pod?.nodeName ?? ctx.incident.node ?? '?'}` : `pod:${ctx.pod?.uid ?? '?'}`;
  return `${ctx.incident.findingName}\n${type}\n${target}`;
}

/**
 * The workload a pod belongs to, for the per-workload budget: the top of the owner chain
 * when it was read; else the Deployment a ReplicaSet's name and pod-template-hash give away;
 * else the controller; a bare pod is its own workload.
 */
export function workloadOf(ctx: Pick<ActionContext, 'pod' | 'owners'>): string | undefined {
  const pod = ctx.pod;
  if (pod === undefined) return undefined;
  const top = ctx.owners.at(-1);
  if (top !== undefined) return `${pod.namespace}/${top.kind}/${top.name}`;
  const ref = pod.ownerReferences.find((r) => r.controller === true);
  if (ref === undefined) return `${pod.namespace}/Pod/${pod.name}`;
  const hash = pod.labels['pod-template-hash'];
  if (ref.kind === 'ReplicaSet' && hash !== undefined && ref.name.endsWith(`-${hash}`)) return `${pod.namespace}/Deployment/${ref.name.slice(0, -hash.length - 1)}`;
  return `${pod.namespace}/${ref.kind}/${ref.name}`;
}

/** The executor's budgets for this action (budget-scope.ts: the same derivation as the backtest's replay). */
function budgetsOf(ctx: ActionContext): { scope: LimitScope; limit: number }[] {
  const workload = workloadOf(ctx);
  const namespace = ctx.pod?.namespace ?? ctx.incident.namespace;
  const target = { cluster: budgetCluster(ctx.incident), ...(namespace === undefined ? {} : { namespace }), ...(workload === undefined ? {} : { workload }) };
  return budgetsFor(ctx.plan, target);
}

function outcomeStatusToStep(outcome: ActionOutcome): StepResult['status'] {
  if (outcome.status === 'failed') return 'failed';
  if (outcome.status === 'refused' || outcome.status === 'skipped') return 'skipped';
  return 'ok';
}

function describeWrites(writes: PlannedWrite[]): string {
  return writes.map((w) => `${w.call} ${w.target}${w.body === undefined ? '' : ` ${JSON.stringify(w.body)}`}`).join('; ');
}

/** Per-run state: slots this dry-run would already have taken, per budget (so later peeks count them). */
interface RunState {
  pendingSlots: Map<string, number>;
}

/** `taken`: the slots this call newly reserved (their reasons), so a hold after them can say they stay counted. */
type BlastRadius = { verdict: GuardVerdict; degrade: boolean; taken: string[] } | { verdict: GuardVerdict; error: NonNullable<ActionOutcome['error']> };

/**
 * Blast radius, only for destructive actions that passed every other guard (a refused action
 * must not use up a budget). Same check in both modes: enforce reserves a slot in each
 * budget, dry-run peeks. Cannot count = cannot act: a store error fails the action.
 */
async function blastRadius(ctx: ActionContext, type: ActionType, deps: ExecuteDeps, state: RunState): Promise<BlastRadius> {
  const name = 'blast-radius';
  if (!ACTION_CATALOG[type].destructive) return { verdict: pass(name, 'metadata only: not counted'), degrade: false, taken: [] };
  const budgets = budgetsOf(ctx);
  if (budgets.length === 0) return { verdict: pass(name, `no maxActionsPerHour set for rule ${ctx.plan.rule}`), degrade: false, taken: [] };
  const limiter = deps.limiter ?? new NoSharedStoreLimiter();
  const now = (deps.now ?? (() => new Date()))();
  const subject = subjectOf(ctx, type);
  const reasons: string[] = [];
  const taken: string[] = [];
  try {
    for (const { scope, limit } of budgets) {
      const key = scopeText(scope);
      const verdict =
        ctx.mode === 'enforce'
          ? await limiter.reserve(scope, limit, subject, now, ctx.signal)
          : await limiter.peek(scope, limit, subject, now, ctx.signal, state.pendingSlots.get(key) ?? 0);
      if (!verdict.allowed) return { verdict: fail(name, verdict.reason, 'degrade'), degrade: true, taken };
      if (ctx.mode === 'dry-run' && verdict.reused !== true) state.pendingSlots.set(key, (state.pendingSlots.get(key) ?? 0) + 1);
      if (ctx.mode === 'enforce' && verdict.reused !== true && verdict.slot !== undefined) taken.push(`slot ${verdict.slot} of ${key} in ${verdict.window}Z`);
      reasons.push(verdict.reason);
    }
  } catch (err) {
    const c = classifyError(err);
    const reason = `could not count actions in the shared store: ${c.reason}`;
    return { verdict: fail(name, reason), error: { kind: c.kind, ...(c.code === undefined ? {} : { code: c.code }), reason: c.reason } };
  }
  return { verdict: pass(name, reasons.join('; ')), degrade: false, taken };
}

/** Parameters and guards; the outcome when they stop the action, else the prepared action. */
function check(ctx: ActionContext, type: string, rawParams: Record<string, unknown>): { outcome: ActionOutcome } | { action: PreparedAction; type: ActionType; guards: GuardVerdict[] } {
  const base = { type: type as ActionType, requestedMode: ctx.mode };
  const refuse = (g: GuardVerdict, detail: string): { outcome: ActionOutcome } => ({ outcome: { ...base, mode: 'dry-run', status: 'refused', guards: [g], detail, writes: [], warnings: [] } });
  if (!isActionType(type)) {
    const g = fail('params', `unknown action type ${JSON.stringify(type)}: no such action is registered`);
    return refuse(g, g.reason);
  }
  const action = ACTIONS[type].prepare(rawParams);
  if (action instanceof ParamError) return refuse(fail('params', action.reason), `invalid parameters: ${action.reason}`);
  const guards: GuardVerdict[] = [
    pass('params', JSON.stringify(action.params) === '{}' ? 'no parameters' : `parameters ${JSON.stringify(action.params)}`),
    ...commonGuards(ctx, ACTION_CATALOG[type].destructive),
    ...action.guards(ctx),
  ];
  const blocking = decisiveFailure(guards);
  if (blocking !== undefined) {
    const status = blocking.effect === 'skip' ? 'skipped' : 'refused';
    return { outcome: { ...base, mode: ctx.mode, status, guards, detail: `${status === 'skipped' ? 'nothing to do' : 'refused'}: ${blocking.reason}`, writes: [], warnings: [] } };
  }
  return { action, type, guards };
}

type Checked = Exclude<ReturnType<typeof check>, { outcome: ActionOutcome }>;

async function runOne(ctx: ActionContext, rawType: string, rawParams: Record<string, unknown>, deps: ExecuteDeps, state: RunState): Promise<ActionOutcome> {
  if (ctx.evidenceFinal !== undefined) return runAhead(ctx, ctx.evidenceFinal, rawType, rawParams, deps, state);
  const checked = check(ctx, rawType, rawParams);
  if ('outcome' in checked) return checked.outcome;
  return proceed(ctx, checked, await blastRadius(ctx, checked.type, deps, state));
}

/** The context with the evidence as its commit left it (nothing in flight any more). */
function settled(ctx: ActionContext, evidence: EvidenceStatus): ActionContext {
  const { evidenceFinal: _inFlight, ...rest } = ctx;
  return { ...rest, evidence };
}

/**
 * The verified copy is still being committed (ctx.evidence is its verdict, `final` the
 * evidence once committed). Enforce judges the guards on the verdict and, when they pass,
 * takes the budget slots while the commit runs; the writes wait for both, after every guard
 * is judged again on the committed evidence. Every hold the target can cause (a copy that
 * does not count under `requireEvidence: stored`) and every other guard refusal is decided
 * before any slot is taken, as in the sequential order. Only our own store failing to commit
 * a verified copy holds the action after its slot was taken: that slot stays counted
 * (over-counting, the safe direction), said in the outcome and its warnings (heldAfterSlot).
 * Dry-run takes no slot: it simply waits for the commit.
 */
async function runAhead(ctx: ActionContext, final: Promise<EvidenceStatus>, rawType: string, rawParams: Record<string, unknown>, deps: ExecuteDeps, state: RunState): Promise<ActionOutcome> {
  const ahead = ctx.mode === 'enforce' ? check(ctx, rawType, rawParams) : undefined;
  if (ahead === undefined || 'outcome' in ahead) return runOne(settled(ctx, await final), rawType, rawParams, deps, state);
  const [evidence, radius] = await Promise.all([final, blastRadius(ctx, ahead.type, deps, state)]);
  const now = settled(ctx, evidence);
  const checked = check(now, rawType, rawParams);
  if ('outcome' in checked) return heldAfterSlot(checked.outcome, radius);
  return proceed(now, checked, radius);
}

/** Held by the guards judged on the committed evidence, after the blast-radius slots were taken. */
function heldAfterSlot(outcome: ActionOutcome, radius: BlastRadius): ActionOutcome {
  const taken = 'taken' in radius ? radius.taken : [];
  if (taken.length === 0) return { ...outcome, guards: [...outcome.guards, radius.verdict] };
  const evidence = outcome.guards.find((g) => g.name === 'evidence' && g.verdict === 'fail')?.reason ?? outcome.detail;
  const note =
    `${outcome.type}: held after its budget slot was taken (${taken.join('; ')}): the copy was verified and the slot reserved while the evidence was committed, ` +
    `then the commit failed (${evidence}); the slot stays counted though nothing was done (over-counting, the safe direction; a redelivery of this finding reuses it)`;
  return { ...outcome, guards: [...outcome.guards, radius.verdict], detail: `${outcome.detail}; ${taken.length === 1 ? 'its budget slot stays' : 'its budget slots stay'} counted (${taken.join('; ')})`, warnings: [...outcome.warnings, note] };
}

/** After the guards and the blast radius: the writes, sent (enforce) or described (dry-run). */
async function proceed(ctx: ActionContext, checked: Checked, radius: BlastRadius): Promise<ActionOutcome> {
  const { action, type, guards } = checked;
  const requestedMode: Mode = ctx.mode;
  const base = { type, requestedMode };
  const warnings: string[] = [];
  guards.push(radius.verdict);
  if ('error' in radius) {
    return { ...base, mode: requestedMode, status: 'failed', guards, detail: `not done: the blast-radius limit could not be checked (${radius.error.reason})`, error: radius.error, writes: [], warnings };
  }
  if (radius.degrade) warnings.push(`${type}: ${radius.verdict.reason}`);
  const mode: Mode = radius.degrade ? 'dry-run' : requestedMode;
  warnings.push(...action.warnings(ctx));
  if (mode === 'dry-run') {
    // The very writes enforce would send (the same KubeWrite list), described, not sent.
    const planned = action.writes(ctx).map(describeWrite);
    const why = requestedMode === 'enforce' ? ' (degraded from enforce by the blast-radius limit)' : '';
    return { ...base, mode, status: 'would-do', guards, detail: `would ${describeWrites(planned)}${why}`, writes: planned, warnings };
  }
  return { ...base, mode, guards, warnings, ...(await enforce(ctx, type, action)) };
}

/** Sends the action's writes (through its act: applyWrite, each logged) under the per-action timeout. */
async function enforce(ctx: ActionContext, type: ActionType, action: PreparedAction): Promise<Pick<ActionOutcome, 'status' | 'detail' | 'data' | 'error' | 'writes'>> {
  let thrown: unknown;
  const log = new WriteLog();
  const step = await runStep(
    `contain.${type}`,
    async (signal) => {
      try {
        return await action.act(ctx, signal, log);
      } catch (err) {
        thrown = err;
        throw err;
      }
    },
    { timeoutMs: ctx.actionTimeoutMs ?? DEFAULT_ACTION_TIMEOUT_MS, ...(ctx.signal === undefined ? {} : { signal: ctx.signal }) },
  );
  if (step.status === 'ok' && step.data !== undefined) {
    const r = step.data;
    return { status: r.status, detail: r.detail, ...(r.data === undefined ? {} : { data: r.data }), writes: log.writes };
  }
  // A timeout abandons the body without it throwing: runStep's classification is then all we have.
  const c = thrown === undefined ? { kind: step.failure ?? 'transient', code: step.code, reason: step.reason ?? 'unknown failure' } : classifyError(thrown);
  const error = { kind: c.kind, ...(c.code === undefined ? {} : { code: c.code }), reason: c.reason };
  const writes = log.writes.map((w) => (w.result === undefined ? { ...w, result: 'error' } : w));
  const refusal = thrown === undefined ? undefined : action.refusalFor(thrown);
  if (refusal !== undefined) return { status: 'refused', detail: `refused by the API server: ${refusal}`, error, writes };
  return { status: 'failed', detail: `failed: ${c.reason}`, error, writes };
}

/**
 * Starts the blast-radius reads of the plan's destructive actions (enforce only; nothing is
 * taken), so that when the guards pass only the slot itself stands in front of the write.
 */
export function prefetchBlastRadius(ctx: ActionContext, deps: ExecuteDeps): void {
  const limiter = deps.limiter;
  if (ctx.mode !== 'enforce' || limiter?.prefetch === undefined) return;
  const now = (deps.now ?? (() => new Date()))();
  for (const planned of ctx.plan.actions) {
    if (!isActionType(planned.type) || !ACTION_CATALOG[planned.type].destructive) continue;
    for (const { scope } of budgetsOf(ctx)) limiter.prefetch(scope, subjectOf(ctx, planned.type), now, ctx.signal);
  }
}

/** Runs the plan's actions in order; one outcome and one `contain.<type>` step per action. */
export async function executeActions(ctx: ActionContext, deps: ExecuteDeps = {}): Promise<ExecuteResult> {
  const outcomes: ActionOutcome[] = [];
  const steps: StepResult<ActionOutcome>[] = [];
  const state: RunState = { pendingSlots: new Map() };
  for (const planned of orderActions(ctx.plan.actions)) {
    const started = Date.now();
    const outcome = await runOne(ctx, planned.type, planned.params, deps, state);
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
  // The limiter's subject claims were written after the actions they count: wait for them here.
  await deps.limiter?.settle?.();
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
