// Containment: the types every action shares. One action = one catalog entry (type,
// parameters, destructiveness, order, words: shared/policy/actions.ts) + one behaviour file
// with the same face (guards, the writes it would make, a report line), like Falco Talon's
// actions. The executor runs them all the same way and sends every write through one
// applyWrite, so dry-run and enforce evaluate the same guards and plan the same writes, and
// differ only in whether the writes are sent.
import type { Incident } from '../finding/types.js';
import type { ExecutionMode as Mode, ResponsePlan } from '../policy/types.js';
import { ACTION_CATALOG, parseActionParams, type ActionParams, type ActionType } from '../policy/actions.js';
import type { NodeView, OwnerView, PodView, Workloads } from '../ports.js';
import { applyWrite, describeWrite, isUidMismatch, type KubeWrite, type WriteResult } from './writes.js';
import type { FailureKind } from '../common/errors.js';
import type { KubeCallName } from '../kube/api-calls.js';

/** What the snapshot step left behind: containment that destroys evidence waits for `stored`. */
export interface EvidenceStatus {
  stored: boolean;
  /** Where the evidence object lives (gs://... or file://...). */
  uri?: string;
  /** Why it is not stored (snapshot failed, skipped by policy, hash mismatch, ...). */
  reason?: string;
  /**
   * The collection attempt ran to its end with nothing failing on our side: whatever is
   * missing, the target withheld it (`requireEvidence: attempted` lets destructive actions go).
   */
  attemptFinished?: boolean;
  /** Evidence destroyed or withheld by the target, one sentence each (significant). */
  withheldByTarget?: string[];
  /**
   * The copy is verified (complete, hashed, counts) and its commit is still in flight: good
   * for judging the guards and taking the budget slot, never for acting (ActionContext.evidenceFinal).
   */
  committing?: true;
}

export interface ActionContext {
  incident: Incident;
  plan: ResponsePlan;
  /** The target pod as read from the API server during enrichment; absent when that read failed or found nothing. */
  pod?: PodView;
  /** True when the pod read answered 404: the pod is gone, so pod actions are skipped (not refused). */
  podNotFound?: boolean;
  /** Why the pod read failed (not a 404), for the guards' reasons. */
  podReadError?: string;
  /**
   * Owner chain from the pod's controller up to the top controller (e.g. [ReplicaSet, Deployment]),
   * as readOwnerChain (owners.ts) reads it; empty for a bare pod or when it could not be read.
   */
  owners: OwnerView[];
  /** The node the pod runs on; absent when not read. */
  node?: NodeView;
  evidence: EvidenceStatus;
  /**
   * Present while the evidence's commit is in flight (`evidence` is then the verified copy's
   * verdict): the evidence once committed. The executor judges the guards and takes the budget
   * slot on `evidence`, and acts only after judging them again on this (executor.ts runAhead).
   */
  evidenceFinal?: Promise<EvidenceStatus>;
  workloads: Workloads;
  /** The mode to run in: the plan's mode (approve mode's immediate and approved actions run as enforce), or dry-run when the caller forces it (CLI, `--dry-run`). */
  mode: Mode;
  /**
   * approve mode, executing an approved pending record: the UID of the pod the person
   * approved acting on (read at detection). A live pod with another UID is a replacement:
   * every pending pod action is refused (guard `approved-pod`).
   */
  approvedPodUid?: string;
  /** From the cluster description (Dataplane V2 or Calico): undefined when unknown. */
  clusterEnforcesNetworkPolicy?: boolean;
  /**
   * Namespaces no action may touch (globs like `gke-managed-*`), from the policy file.
   * Defaults to DEFAULT_PROTECTED_NAMESPACES: checked again here even though decide()
   * already refuses them (defence in depth: a bug in matching must not reach kube-system).
   */
  protectedNamespaces?: readonly string[];
  /** Per-action timeout (default 20 s). */
  actionTimeoutMs?: number;
  /** How long deletePod looks for the controller's replacement (default 3000 ms; 0 = do not look). */
  observeReplacementMs?: number;
  signal?: AbortSignal;
}

/**
 * What a guard judges on: the action's context without the Kubernetes port. Guards are pure
 * functions of the facts already read, so `policy backtest --live` evaluates the very same
 * guards holding only a read-only view of the cluster (ports.ts WorkloadReads).
 */
export type GuardContext = Omit<ActionContext, 'workloads'>;

export type GuardVerdictValue = 'pass' | 'fail';

export interface GuardVerdict {
  /** Stable guard names: `params`, `protected-namespace`, `pod-identity`, `pod-not-terminating`, `evidence`, `require-controller`, `node-identity`, `blast-radius`. */
  name: string;
  verdict: GuardVerdictValue;
  reason: string;
  /**
   * What a failing verdict does. `refuse` (default): the action is not taken. `skip`: nothing
   * to do (already done, e.g. the node is already cordoned). `degrade`: the action is reported
   * as would-do instead of being done, with a WARNING (the blast-radius limit).
   */
  effect?: 'refuse' | 'skip' | 'degrade';
}

export type OutcomeStatus = 'done' | 'would-do' | 'refused' | 'skipped' | 'failed';

/** The report form of one Kubernetes write (writes.ts describeWrite): sent (enforce) or planned (dry-run). */
export interface PlannedWrite {
  call: KubeCallName;
  /** `namespace/name` of a pod, `node/<name>`, `networkpolicy/<ns>/<name>`. */
  target: string;
  /** What is sent (labels, grace period, UID precondition, ...). */
  body?: Record<string, unknown>;
  /** True only when the call was actually sent to the API server. */
  attempted: boolean;
  /** The adapter's answer when attempted: `deleted`, `not-found`, `created`, `exists`, `patched`, `error`. */
  result?: string;
}

export interface ActionOutcome {
  type: ActionType;
  /** The mode the action actually ran in (dry-run when degraded by the blast-radius limit). */
  mode: Mode;
  /** The mode the plan (or the caller) asked for. */
  requestedMode: Mode;
  status: OutcomeStatus;
  guards: GuardVerdict[];
  /** One line a reviewer understands: what happened, or what enforce would do. */
  detail: string;
  /** Action-specific facts (replacement pod observed, NetworkPolicy name, enforcement, ...). */
  data?: Record<string, unknown>;
  /** Present when status is failed (and for a refusal by the UID precondition: 409 on a DELETE, 422 on a PATCH). */
  error?: { kind: FailureKind; code?: number | string; reason: string };
  /** Writes sent (attempted: true; result absent = the call that threw) or, for would-do, the writes enforce would send. Empty for refused/skipped. */
  writes: PlannedWrite[];
  /** WARNING-level notes for the audit trail (limit reached, NetworkPolicy not enforced, ...). */
  warnings: string[];
}

/** Parameters rejected by an action (the policy schema should already have caught them). */
export class ParamError {
  constructor(readonly reason: string) {}
}

/** What an action's report says after its writes. */
export interface ActResult {
  /** `done` normally; `skipped` when the API said there was nothing left to do. */
  status: 'done' | 'skipped';
  detail: string;
  data?: Record<string, unknown>;
}

/**
 * The record of writes an action sends, kept by the executor: each write is logged right
 * before it is sent and answered with its result, so after a throw the audit shows exactly
 * which calls went out (the last one without an answer is the one that failed).
 */
export class WriteLog {
  readonly writes: PlannedWrite[] = [];
  send(write: PlannedWrite): { answer(result: string): void } {
    const w: PlannedWrite = { ...write, attempted: true };
    this.writes.push(w);
    return {
      answer(result: string) {
        w.result = result;
      },
    };
  }
}

/** What a prefetch hook gets: the pod as read and the cluster (started before the owner chain is in). */
export interface PrefetchInput {
  pod: PodView;
  workloads: Workloads;
  signal?: AbortSignal;
}

/** What the writes answered, and what `before` read, for the action's report line. */
export interface SentWrites<S> {
  results: readonly WriteResult[];
  before: S | undefined;
}

/**
 * The face of one action's behaviour file (its type, parameters, destructiveness, order and
 * words are in the catalog, shared/policy/actions.ts). Guards and writes are pure functions
 * of the context, so dry-run and enforce share them; the executor sends the writes through
 * the one applyWrite, so an action never calls the API for a write itself.
 */
export interface ContainAction<T extends ActionType, S = undefined> {
  readonly type: T;
  /** Names of the guards `guards()` returns, in order (for previews without a cluster). */
  readonly guardNames: readonly string[];
  /** Action-specific guards (the shared ones are added by the executor). */
  guards(ctx: GuardContext, params: ActionParams<T>): GuardVerdict[];
  /** The writes enforce sends, in order (dry-run reports them). Called only when every guard passed. */
  writes(ctx: ActionContext, params: ActionParams<T>): KubeWrite[];
  /** WARNING notes that hold in both modes (e.g. the cluster does not enforce NetworkPolicy). */
  warnings?(ctx: ActionContext, params: ActionParams<T>): string[];
  /**
   * Optional: reads worth starting as soon as the pod is read (the pipeline calls it while the
   * snapshot streams); `before` makes the same reads through the response's shared reads.
   */
  prefetch?(input: PrefetchInput, params: ActionParams<T>): Promise<unknown>;
  /** Optional: reads right before the writes (enforce only); a failure here must not stop the writes. */
  before?(ctx: ActionContext, params: ActionParams<T>, signal: AbortSignal): Promise<S>;
  /** The one line (and facts) after the writes went out; may look at the outcome (deletePod observes the replacement). */
  report(ctx: ActionContext, params: ActionParams<T>, sent: SentWrites<S>, signal: AbortSignal): ActResult | Promise<ActResult>;
  /** Turn an error thrown by a write into a refusal; default for pod actions: the UID precondition refused it (409/422). */
  refusalFor?(err: unknown): string | undefined;
}

/** An action with its parameter type bound, as kept in the registry (no `any` needed). */
export interface RegisteredAction {
  readonly type: ActionType;
  readonly guardNames: readonly string[];
  /** Binds parameters once (checked against the catalog's schema); a ParamError when they are invalid. */
  prepare(raw: Record<string, unknown>): PreparedAction | ParamError;
}

export interface PreparedAction {
  readonly params: Record<string, unknown>;
  guards(ctx: GuardContext): GuardVerdict[];
  writes(ctx: ActionContext): KubeWrite[];
  warnings(ctx: ActionContext): string[];
  prefetch(input: PrefetchInput): Promise<unknown>;
  /** Sends the writes in order through applyWrite (each logged), then reports. */
  act(ctx: ActionContext, signal: AbortSignal, log: WriteLog): Promise<ActResult>;
  refusalFor(err: unknown): string | undefined;
}

const UID_REFUSAL = 'a different pod now has this name (UID precondition): not written';

export function defineAction<T extends ActionType, S = undefined>(action: ContainAction<T, S>): RegisteredAction {
  return {
    type: action.type,
    guardNames: action.guardNames,
    prepare(raw) {
      const parsed = parseActionParams(action.type, raw);
      if (!parsed.ok) return new ParamError(parsed.reason);
      const params = parsed.params;
      return {
        params: { ...params },
        guards: (ctx) => action.guards(ctx, params),
        writes: (ctx) => action.writes(ctx, params),
        warnings: (ctx) => action.warnings?.(ctx, params) ?? [],
        prefetch: (input) => action.prefetch?.(input, params) ?? Promise.resolve(undefined),
        async act(ctx, signal, log) {
          const before = action.before === undefined ? undefined : await action.before(ctx, params, signal);
          const results: WriteResult[] = [];
          for (const write of action.writes(ctx, params)) {
            const sent = log.send(describeWrite(write));
            const result = await applyWrite(ctx.workloads, write, signal);
            sent.answer(result);
            results.push(result);
            if (result === 'not-found') break; // the pod is gone: nothing after this write applies
          }
          return action.report(ctx, params, { results, before }, signal);
        },
        refusalFor: (err) => {
          if (action.refusalFor) return action.refusalFor(err);
          return ACTION_CATALOG[action.type].target === 'pod' && isUidMismatch(err) ? UID_REFUSAL : undefined;
        },
      };
    },
  };
}

/** The report when a pod write answered 404: the pod is gone, nothing was left to do. */
export function podGoneResult(ctx: ActionContext, results: readonly WriteResult[]): ActResult | undefined {
  if (!results.includes('not-found')) return undefined;
  const pod = `${ctx.pod?.namespace ?? '?'}/${ctx.pod?.name ?? '?'}`;
  return { status: 'skipped', detail: `pod ${pod} was already gone (404): nothing left to do`, data: { result: 'not-found' } };
}
