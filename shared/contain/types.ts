// Containment: the types every action shares. One action = one file with the same face
// (check its parameters, list its guards, say which writes it would make, act), like Falco
// Talon's actions; the executor runs them all the same way, so dry-run and enforce evaluate
// the very same guards and differ only in whether the writes happen.
import type { Incident } from '../finding/types.js';
import type { ActionType, Mode, ResponsePlan } from '../policy/types.js';
import type { NodeView, OwnerView, PodView, Workloads } from '../ports.js';
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
}

export interface ActionContext {
  incident: Incident;
  plan: ResponsePlan;
  /** The target pod as read from the API server during enrichment; absent when that read failed or found nothing. */
  pod?: PodView;
  /** True when the pod read answered 404: the pod is gone, so pod actions are skipped (not refused). */
  podNotFound?: boolean;
  /** Owner chain from the pod's controller up to the top controller (e.g. [ReplicaSet, Deployment]). */
  owners: OwnerView[];
  /** The node the pod runs on; absent when not read. */
  node?: NodeView;
  evidence: EvidenceStatus;
  workloads: Workloads;
  /** The mode to run in: the plan's mode, or dry-run when the caller forces it (CLI, `--dry-run`). */
  mode: Mode;
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

/** One Kubernetes write an action makes (enforce) or would make (dry-run). */
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
  /** Present when status is failed (and for a 409 refusal by the UID precondition). */
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

/** What an action's `act` reports after its writes. */
export interface ActResult {
  /** `done` normally; `skipped` when the API said there was nothing left to do. */
  status: 'done' | 'skipped';
  detail: string;
  data?: Record<string, unknown>;
}

/**
 * The record of writes an action sends, kept by the executor: `act` calls `send` right
 * before each API call and `answer` with its result, so after a throw the audit shows
 * exactly which calls went out (the last one without an answer is the one that failed).
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

/**
 * The face every action file implements. P is the action's typed parameters.
 * Guards and writes are pure functions of the context, so dry-run and enforce share them.
 */
export interface ContainAction<P> {
  readonly type: ActionType;
  /**
   * Changes the workload (not only metadata): gated by evidence when the plan requires it,
   * and counted by the blast-radius limit. labelPod/annotatePod are not.
   */
  readonly destructive: boolean;
  /**
   * Execution order (lower first). Record first (label/annotate: cheap, leaves a trace even
   * if later steps fail), then isolate (quarantine), then stop new scheduling on the node
   * (cordon, so a deleted pod's replacement lands elsewhere), irreversible delete last.
   */
  readonly order: number;
  /** Names of the guards `guards()` returns, in order (for previews without a cluster). */
  readonly guardNames: readonly string[];
  parseParams(raw: Record<string, unknown>): P | ParamError;
  /** Action-specific guards (the shared ones are added by the executor). */
  guards(ctx: ActionContext, params: P): GuardVerdict[];
  /** Writes enforce would make, in order (also what dry-run reports). */
  plannedWrites(ctx: ActionContext, params: P): PlannedWrite[];
  /** WARNING notes that hold in both modes (e.g. the cluster does not enforce NetworkPolicy). */
  warnings?(ctx: ActionContext, params: P): string[];
  /** Make the writes (each announced in `log`). Throws on API errors (classified by the executor). */
  act(ctx: ActionContext, params: P, signal: AbortSignal, log: WriteLog): Promise<ActResult>;
  /** Turn an error thrown by `act` into a refusal (e.g. 409 from the UID precondition); undefined = failure. */
  refusalFor?(err: unknown): string | undefined;
}

/** An action with its parameter type bound, as kept in the registry (no `any` needed). */
export interface RegisteredAction {
  readonly type: ActionType;
  readonly destructive: boolean;
  readonly order: number;
  readonly guardNames: readonly string[];
  /** Binds parameters once; a ParamError when they are invalid. */
  prepare(raw: Record<string, unknown>): PreparedAction | ParamError;
}

export interface PreparedAction {
  readonly params: Record<string, unknown>;
  guards(ctx: ActionContext): GuardVerdict[];
  plannedWrites(ctx: ActionContext): PlannedWrite[];
  warnings(ctx: ActionContext): string[];
  act(ctx: ActionContext, signal: AbortSignal, log: WriteLog): Promise<ActResult>;
  refusalFor(err: unknown): string | undefined;
}

export function defineAction<P extends object>(action: ContainAction<P>): RegisteredAction {
  return {
    type: action.type,
    destructive: action.destructive,
    order: action.order,
    guardNames: action.guardNames,
    prepare(raw) {
      const params = action.parseParams(raw);
      if (params instanceof ParamError) return params;
      return {
        params: { ...params } as Record<string, unknown>,
        guards: (ctx) => action.guards(ctx, params),
        plannedWrites: (ctx) => action.plannedWrites(ctx, params),
        warnings: (ctx) => action.warnings?.(ctx, params) ?? [],
        act: (ctx, signal, log) => action.act(ctx, params, signal, log),
        refusalFor: (err) => action.refusalFor?.(err),
      };
    },
  };
}
