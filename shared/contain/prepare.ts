// What the pipeline calls once the target pod is read, before containment: the owner chain
// (ActionContext.owners) and the actions' prefetch hooks, started together so that neither is
// a round trip in front of the writes. The prefetched reads reach the actions through the
// response's shared reads (shared/respond/shared-reads.ts caches pod lists).
import { isActionType } from '../policy/actions.js';
import type { PodView, Workloads } from '../ports.js';
import { readOwnerChain, type OwnerChain } from './owners.js';
import { ACTIONS } from './registry.js';
import { ParamError, type PrefetchInput } from './types.js';

/** Starts the prefetch hooks of the planned actions (deletePod lists the controller's pods). Best effort: errors are swallowed. */
export function prefetchActions(actions: readonly { type: string; params: Record<string, unknown> }[], input: PrefetchInput): Promise<void> {
  const started = actions.map((a) => {
    const prepared = isActionType(a.type) ? ACTIONS[a.type].prepare(a.params) : undefined;
    return prepared === undefined || prepared instanceof ParamError ? Promise.resolve() : prepared.prefetch(input).then(() => undefined, () => undefined);
  });
  return Promise.all(started).then(() => undefined);
}

export interface PrepareOptions {
  /** Per API call (the policy's enrich.callTimeoutSeconds). */
  callTimeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Starts the prefetch hooks and reads the owner chain; resolves with the chain (never
 * rejects: a failed read leaves the chain short, with the reason in `incomplete`).
 */
export function prepareContainment(actions: readonly { type: string; params: Record<string, unknown> }[], pod: PodView, workloads: Workloads, options: PrepareOptions): Promise<OwnerChain> {
  void prefetchActions(actions, { pod, workloads, ...(options.signal === undefined ? {} : { signal: options.signal }) });
  return readOwnerChain(workloads, pod, options);
}
