// After a delete: did the controller schedule a replacement? Reported, never waited on for
// long (a slow rollout must not hold the function): short bounded polling of listPods.
import { setTimeout as sleep } from 'node:timers/promises';
import type { OwnerRef, PodView, Workloads } from '../ports.js';
import { classifyError } from '../common/errors.js';
import { OWN_LABEL_PREFIX } from './labels.js';

export interface ReplacementReport {
  observed: boolean;
  /** The replacement pod when observed. */
  pod?: { name: string; uid: string; phase?: string; nodeName?: string };
  /** How long we looked. */
  lookedMs: number;
  reason: string;
}

export interface ObserveOptions {
  /** Total time to look (default 3000 ms). */
  budgetMs: number;
  /** Time between list calls (default 250 ms). */
  intervalMs?: number;
  signal?: AbortSignal;
}

// Labels that differ between a pod and its replacement (StatefulSet pod identity aside):
// leaving them out of the selector keeps the replacement inside the list.
const VOLATILE_LABELS = new Set(['controller-revision-hash']);

/**
 * The label selector for the deleted pod's siblings: the controller's own labels where we
 * know them (pod-template-hash for a ReplicaSet, statefulset pod-name for a StatefulSet,
 * controller-uid for a Job), else the pod's labels minus the ones we added ourselves.
 * Candidates are then filtered by controller UID, so a loose selector is only slower.
 */
export function replacementSelector(deleted: PodView, controller: OwnerRef): string {
  const l = deleted.labels;
  const pick = (key: string): string | undefined => (l[key] === undefined ? undefined : `${key}=${l[key]}`);
  if (controller.kind === 'ReplicaSet') {
    const s = pick('pod-template-hash');
    if (s !== undefined) return s;
  }
  if (controller.kind === 'StatefulSet') {
    const s = pick('statefulset.kubernetes.io/pod-name');
    if (s !== undefined) return s;
  }
  if (controller.kind === 'Job') {
    const s = pick('batch.kubernetes.io/controller-uid') ?? pick('controller-uid');
    if (s !== undefined) return s;
  }
  return Object.entries(l)
    .filter(([k]) => !k.startsWith(OWN_LABEL_PREFIX) && !VOLATILE_LABELS.has(k))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/**
 * A pod that replaces `deleted`: same controller, a UID that did not exist before the delete
 * (`before`, from a list made just before deleting; siblings of a ReplicaSet are in it), not
 * itself terminating; same name for a StatefulSet, same node for a DaemonSet. Without
 * `before`, a pod created no earlier than the delete counts (creationTimestamp has second
 * precision, hence the one-second slack).
 */
export function isReplacement(candidate: PodView, deleted: PodView, controller: OwnerRef, before: ReadonlySet<string> | undefined, deletedAt: number): boolean {
  if (candidate.uid === deleted.uid || candidate.deletionTimestamp !== undefined) return false;
  const owner = candidate.ownerReferences.find((r) => r.controller === true);
  if (owner === undefined || owner.kind !== controller.kind || owner.name !== controller.name) return false;
  if (controller.uid !== undefined && owner.uid !== undefined && owner.uid !== controller.uid) return false;
  if (controller.kind === 'StatefulSet' && candidate.name !== deleted.name) return false;
  if (controller.kind === 'DaemonSet' && deleted.nodeName !== undefined && candidate.nodeName !== deleted.nodeName) return false;
  if (before !== undefined) return !before.has(candidate.uid);
  if (candidate.creationTimestamp === undefined) return false;
  return Date.parse(candidate.creationTimestamp) >= deletedAt - 1000;
}

/** UIDs of the candidates that exist before the delete; undefined when the list fails (the caller deletes anyway). */
export async function podsBefore(workloads: Workloads, deleted: PodView, controller: OwnerRef, signal?: AbortSignal): Promise<Set<string> | undefined> {
  try {
    const pods = await workloads.listPods(deleted.namespace, replacementSelector(deleted, controller), signal);
    return new Set(pods.map((p) => p.uid));
  } catch {
    return undefined;
  }
}

export async function observeReplacement(
  workloads: Workloads,
  deleted: PodView,
  controller: OwnerRef,
  before: ReadonlySet<string> | undefined,
  deletedAt: number,
  options: ObserveOptions,
): Promise<ReplacementReport> {
  const started = Date.now();
  const interval = options.intervalMs ?? 250;
  const selector = replacementSelector(deleted, controller);
  let lastError: string | undefined;
  for (let attempt = 0; ; attempt += 1) {
    if (options.signal?.aborted === true) break;
    try {
      const pods = await workloads.listPods(deleted.namespace, selector, options.signal);
      const found = pods.find((p) => isReplacement(p, deleted, controller, before, deletedAt));
      if (found !== undefined) {
        return {
          observed: true,
          pod: { name: found.name, uid: found.uid, ...(found.phase === undefined ? {} : { phase: found.phase }), ...(found.nodeName === undefined ? {} : { nodeName: found.nodeName }) },
          lookedMs: Date.now() - started,
          reason: `${controller.kind}/${controller.name} created ${found.name} (uid ${found.uid})`,
        };
      }
      lastError = undefined;
    } catch (err) {
      lastError = classifyError(err).reason;
    }
    const left = options.budgetMs - (Date.now() - started);
    if (left <= 0) break;
    try {
      await sleep(Math.min(interval, left), undefined, options.signal === undefined ? undefined : { signal: options.signal });
    } catch {
      break; // aborted
    }
  }
  const lookedMs = Date.now() - started;
  return {
    observed: false,
    lookedMs,
    reason:
      lastError === undefined
        ? `no replacement from ${controller.kind}/${controller.name} seen within ${lookedMs} ms (not waited on longer; the controller may still be scheduling it)`
        : `could not look for a replacement: ${lastError}`,
  };
}
